import { parseDuration } from '../../crds/v1alpha1/index.ts';
import type { AgentHealth, ClusterAgent } from '../../crds/v1alpha1/index.ts';
import type { AgentReport } from '../nats/heartbeats.ts';
import type { ConditionInput } from '../runtime/conditions.ts';
import { AgentCondition, AgentReason } from './conditions.ts';
import { isoSeconds } from '../runtime/objects.ts';

/**
 * How stale `status.lastHeartbeat` may get while the agent stays connected and unchanged: Kubernetes'
 * kubelet rewrites an unchanged Node status every 5 minutes too (its liveness lives in a Lease).
 */
export const DEFAULT_STATUS_REFRESH_MS = 300_000;

export interface ConnectivityOptions {
  refreshMs?: number;
  /** When Palisade began to listen for reports; undefined: not listening yet. */
  listeningSince?: number | undefined;
  /** Asked only when a liveness-only refresh is due: whether the global budget allows it now. */
  mayRefresh?: () => boolean;
}

export interface Connectivity {
  connected: boolean;
  lastHeartbeat?: string;
  health: AgentHealth;
  statistics?: Record<string, string>;
  concern: ConditionInput;
  /** Connectivity or health differs from what status shows: written at once, whatever the budget. */
  transition: boolean;
  /** While connected: when the deadline passes unless a report comes first (ms since the epoch). */
  expiresAt?: number;
  /** The heartbeat deadline (ms). */
  deadlineMs: number;
  /** While connected: when the `lastHeartbeat` shown is due for a liveness refresh (ms since the epoch). */
  refreshAt?: number;
}

/**
 * Status from what Palisade heard (pure, but for asking the budget). Connected while the last report is
 * younger than `heartbeatDeadline`. Status changes at once on a transition (connected, missed, health);
 * otherwise `lastHeartbeat` and statistics are rewritten only when the written value is `refreshMs` old
 * and the budget allows: heartbeats never turn into a write each.
 *
 * NB: the condition's message carries no time, or every reconcile would be a write. And an agent shown
 * connected is not declared missing before it had a whole deadline to report to this process (which may
 * have just started, or just connected): the Kubernetes node lifecycle controller gives a Node the same
 * grace, so a restarted operator does not flip a fleet to disconnected and back.
 */
export function connectivity(
  agent: ClusterAgent,
  report: AgentReport | undefined,
  now: number,
  o: ConnectivityOptions = {},
): Connectivity {
  const s = agent.status;
  const refreshMs = o.refreshMs ?? DEFAULT_STATUS_REFRESH_MS;
  const parsed = Date.parse(s?.lastHeartbeat ?? '');
  const written = Number.isNaN(parsed) ? 0 : parsed;
  const lastSeen = Math.max(report?.lastSeen ?? 0, written);
  const deadline = parseDuration(agent.spec.heartbeatDeadline);
  const wasConnected = s?.conditions?.find((c) => c.type === AgentCondition.Connected)?.status === 'True';
  // A report proves listening began; with none and no start known, silence says nothing yet.
  const since = o.listeningSince ?? (report ? 0 : now);
  const grace = wasConnected ? since : 0;
  const alive = Math.max(lastSeen, grace);
  const connected = lastSeen > 0 && now - alive < deadline;
  const carried = wasConnected && s?.health !== 'Unknown' ? s?.health : undefined;
  const reported = report?.health ?? carried ?? 'Healthy';
  const health: AgentHealth = connected ? reported : lastSeen > 0 ? 'Unhealthy' : 'Unknown';
  const transition = connected !== wasConnected || health !== (s?.health ?? 'Unknown');
  const refresh =
    report !== undefined &&
    report.lastSeen > written &&
    (transition ||
      written === 0 ||
      (connected && report.lastSeen - written >= refreshMs && (o.mayRefresh?.() ?? true)));
  const lastHeartbeat = refresh ? isoSeconds(report.lastSeen) : s?.lastHeartbeat;
  const statistics = refresh ? report.statistics : s?.statistics;
  return {
    connected,
    ...(lastHeartbeat ? { lastHeartbeat } : {}),
    health,
    ...(statistics ? { statistics } : {}),
    concern: concernOf(agent, connected, lastSeen),
    transition,
    deadlineMs: deadline,
    ...(connected ? { expiresAt: alive + deadline } : {}),
    ...(connected && lastHeartbeat ? { refreshAt: Date.parse(lastHeartbeat) + refreshMs } : {}),
  };
}

function concernOf(agent: ClusterAgent, connected: boolean, lastSeen: number): ConditionInput {
  const deadline = agent.spec.heartbeatDeadline;
  if (connected)
    return {
      type: AgentCondition.Connected,
      status: 'True',
      reason: AgentReason.HeartbeatReceived,
      message: `heartbeats arrive within the ${deadline} deadline`,
    };
  if (lastSeen > 0)
    return {
      type: AgentCondition.Connected,
      status: 'False',
      reason: AgentReason.HeartbeatMissed,
      message: `no heartbeat for ${deadline} (last at ${isoSeconds(lastSeen)})`,
    };
  return {
    type: AgentCondition.Connected,
    status: 'False',
    reason: AgentReason.NeverConnected,
    message: 'no heartbeat received yet',
  };
}
