import { parseDuration } from '../../crds/v1alpha1/index.ts';
import type { AgentHealth, ClusterAgent } from '../../crds/v1alpha1/index.ts';
import type { AgentReport } from '../nats/heartbeats.ts';
import type { ConditionInput } from '../runtime/conditions.ts';
import { AgentCondition, AgentReason } from './conditions.ts';
import { isoSeconds } from '../runtime/objects.ts';

/** How stale `status.lastHeartbeat` may get while the agent stays connected and healthy. */
export const DEFAULT_STATUS_REFRESH_MS = 60_000;

export interface Connectivity {
  connected: boolean;
  lastHeartbeat?: string;
  health: AgentHealth;
  statistics?: Record<string, string>;
  concern: ConditionInput;
  /** When the verdict may change with no new event: the deadline, or the next coarse refresh. */
  recheckInMs?: number;
}

/**
 * Status from what Palisade heard (pure). Connected while the last report is younger than
 * `heartbeatDeadline`. `lastHeartbeat` and statistics are rewritten only when connectivity or health
 * changes, or when the written value is `refreshMs` old: thousands of agents heartbeating every few
 * seconds cost about one write per agent per `refreshMs`, not one per heartbeat.
 */
export function connectivity(
  agent: ClusterAgent,
  report: AgentReport | undefined,
  now: number,
  refreshMs = DEFAULT_STATUS_REFRESH_MS,
): Connectivity {
  const s = agent.status;
  const written = Date.parse(s?.lastHeartbeat ?? '');
  const lastSeen = Math.max(report?.lastSeen ?? 0, Number.isNaN(written) ? 0 : written);
  const deadline = parseDuration(agent.spec.heartbeatDeadline);
  const connected = lastSeen > 0 && now - lastSeen < deadline;
  const wasConnected = s?.conditions?.find((c) => c.type === AgentCondition.Connected)?.status === 'True';
  const reported = report?.health ?? 'Healthy';
  const health: AgentHealth = connected ? reported : lastSeen > 0 ? 'Unhealthy' : 'Unknown';
  const refresh =
    report !== undefined &&
    (Number.isNaN(written) ||
      connected !== wasConnected ||
      health !== s?.health ||
      report.lastSeen - written >= refreshMs);
  const lastHeartbeat = refresh ? isoSeconds(report.lastSeen) : s?.lastHeartbeat;
  const statistics = refresh ? report.statistics : s?.statistics;
  const concern: ConditionInput = connected
    ? {
        type: AgentCondition.Connected,
        status: 'True',
        reason: AgentReason.HeartbeatReceived,
        message: `last heartbeat at ${isoSeconds(lastSeen)}`,
      }
    : lastSeen > 0
      ? {
          type: AgentCondition.Connected,
          status: 'False',
          reason: AgentReason.HeartbeatMissed,
          message: `no heartbeat for ${agent.spec.heartbeatDeadline} (last at ${isoSeconds(lastSeen)})`,
        }
      : {
          type: AgentCondition.Connected,
          status: 'False',
          reason: AgentReason.NeverConnected,
          message: 'no heartbeat received yet',
        };
  const recheck = connected ? Math.min(lastSeen + deadline - now, refreshMs) : undefined;
  return {
    connected,
    ...(lastHeartbeat ? { lastHeartbeat } : {}),
    health,
    ...(statistics ? { statistics } : {}),
    concern,
    ...(recheck !== undefined ? { recheckInMs: Math.max(250, recheck) } : {}),
  };
}
