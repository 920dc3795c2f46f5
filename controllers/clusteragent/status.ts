/**
 * A ClusterAgent's status, computed once per reconcile (the driver writes it, and skips the write when
 * nothing changed): credentials facts (Secret mode) or pairing facts (pairing mode), connectivity, and
 * conditions with Ready following CredentialsReady.
 */
import type { ClusterAgent, ClusterAgentStatus } from '../../crds/v1alpha1/index.ts';
import { readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import { AgentReason } from './conditions.ts';
import type { connectivity } from './connectivity.ts';
import { credentialsSecretName } from './credentials.ts';
import type { AgentDeps } from './deps.ts';
import { codeSecretName, pairingStatus } from './pairing.ts';
import type { AgentRecord } from './record.ts';

/** The one status (the driver writes it, and skips the write when nothing changed). */
export function report(
  agent: ClusterAgent,
  ctx: { uid: string; record: AgentRecord | undefined } | undefined,
  credentials: ConditionInput,
  d: AgentDeps,
  conn?: ReturnType<typeof connectivity>,
): ClusterAgentStatus {
  const r = ctx?.record;
  const paired = !!agent.spec.pairing;
  const issued = credentials.status === 'True' && r && !paired;
  const { lastHeartbeat, health, statistics, conditions: _c, pairing: _p, ...kept } = agent.status ?? {};
  void _c;
  void _p;
  // NB: in pairing mode no credentials Secret exists: what Secret mode reported must not linger.
  const rest = paired ? withoutSecretFacts(kept) : kept;
  const now = d.env.now().getTime();
  const shown = !!ctx && d.secrets.get(codeSecretName(agent), agent.metadata.namespace ?? '') !== undefined;
  const pairing = paired && ctx ? pairingStatus(agent, r, now, shown) : undefined;
  return {
    ...rest,
    ...(pairing && Object.keys(pairing).length ? { pairing } : {}),
    ...(paired && r?.user ? { userPublicKey: r.user } : {}),
    ...(ctx ? { tenantUID: ctx.uid } : {}),
    ...(issued
      ? {
          credentialsSecret: credentialsSecretName(agent),
          userPublicKey: r.user,
          credentialsIssuedAt: r.issuedAt.replace(/\.\d+Z$/, 'Z'),
          credentialsVersion: r.version,
        }
      : {}),
    ...(conn
      ? { lastHeartbeat: conn.lastHeartbeat, health: conn.health, statistics: conn.statistics }
      : { lastHeartbeat, health, statistics }),
    observedGeneration: agent.metadata.generation,
    conditions: conditionsFor(d, agent, credentials, conn?.concern),
  };
}

function withoutSecretFacts(s: Omit<ClusterAgentStatus, 'conditions' | 'pairing'>) {
  const {
    credentialsSecret: _s,
    userPublicKey: _u,
    credentialsIssuedAt: _i,
    credentialsVersion: _v,
    ...rest
  } = s;
  void [_s, _u, _i, _v];
  return rest;
}

/** Ready follows the credentials; Connected is reported beside it (an agent may be offline by design). */
function conditionsFor(
  d: AgentDeps,
  agent: ClusterAgent,
  credentials: ConditionInput,
  connected?: ConditionInput,
) {
  const list = [
    credentials,
    ...(connected ? [connected] : []),
    readySummary([credentials], AgentReason.Ready),
  ];
  return setConditions(agent.status?.conditions, list, agent.metadata.generation, d.env.now());
}
