import {
  AGENT_LABEL,
  agentRecordName,
  EntryKind,
  keystoreLabels,
  keystoreSecret,
  TENANT_NAMESPACE_LABEL,
} from '../keystore/entries.ts';
import type { Secret } from '../runtime/kube/types.ts';

/**
 * Palisade's record of one ClusterAgent's NATS credentials, in the keystore (`palisade-agent-<uid>-<name>`):
 * which user the agent holds, since when, until when, and which earlier users still have to be revoked.
 * Every decision about the agent's credentials (rotate, re-issue, revoke) is read from here, never from
 * the credentials Secret in the tenant namespace, which is only where they are delivered.
 */
export interface AgentRecord {
  user: string;
  version: number;
  issuedAt: string;
  expiresAt?: string;
  /** The spec.credentialRotationTrigger the credentials were issued under. */
  trigger: string;
  /** Earlier users of this agent, kept until the revocation list holds them (exp: when their JWT expires). */
  retired: { user: string; exp?: number }[];
}

const KEY = 'record.json';

export function agentRecordSecret(o: {
  keystoreNamespace: string;
  uid: string;
  agent: string;
  tenantNamespace: string;
  record: AgentRecord;
  resourceVersion?: string;
}): Secret {
  const s = keystoreSecret({
    name: agentRecordName(o.uid, o.agent),
    namespace: o.keystoreNamespace,
    labels: keystoreLabels(EntryKind.Agent, o.uid, {
      [AGENT_LABEL]: o.agent,
      [TENANT_NAMESPACE_LABEL]: o.tenantNamespace,
    }),
    data: { [KEY]: JSON.stringify(o.record) },
    immutable: false,
  });
  if (o.resourceVersion) s.metadata.resourceVersion = o.resourceVersion;
  return s;
}

/** The record a keystore Secret holds; undefined when absent or unreadable (then credentials are re-issued). */
export function readAgentRecord(s: Secret | undefined): AgentRecord | undefined {
  const v = s?.data?.[KEY];
  if (!v) return undefined;
  try {
    const r = JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as Partial<AgentRecord>;
    if (typeof r.user !== 'string' || typeof r.version !== 'number' || typeof r.issuedAt !== 'string')
      return undefined;
    return {
      user: r.user,
      version: r.version,
      issuedAt: r.issuedAt,
      ...(typeof r.expiresAt === 'string' ? { expiresAt: r.expiresAt } : {}),
      trigger: typeof r.trigger === 'string' ? r.trigger : '',
      retired: Array.isArray(r.retired) ? r.retired : [],
    };
  } catch {
    return undefined;
  }
}

/** The users of a record that must not work: every retired one and, when `withCurrent`, the current one. */
export function usersToRevoke(
  r: AgentRecord | undefined,
  withCurrent: boolean,
): { user: string; exp?: number }[] {
  if (!r) return [];
  const exp = Date.parse(r.expiresAt ?? '');
  const current = { user: r.user, ...(Number.isNaN(exp) ? {} : { exp: Math.floor(exp / 1000) }) };
  return withCurrent ? [...r.retired, current] : r.retired;
}
