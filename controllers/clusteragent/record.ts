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
  /**
   * Pairing mode (spec.pairing): the agent holds its own keys; this record holds only public facts.
   * `user` is then the paired agent's current NATS user ('' before the first pairing).
   */
  mode?: 'pairing';
  /** The ClusterAgent's metadata.uid the record is for (the identity in its client certificates). */
  agentUID?: string;
  pairing?: PairingRecord;
  /**
   * The paired agent's client certificates, current first, then the one before it: both are accepted, so
   * a renewal never drops a report; the one before that is refused.
   */
  certificates?: PairedCertificate[];
  /** The NATS user before the current one: still valid until the next renewal, revoked with the agent. */
  previousUser?: { user: string; exp?: number };
}

/** One pairing code, by its keyed hash only (agentchannel/code.ts). */
export interface PairingRecord {
  codeID: string;
  /** HMAC-SHA256 of the code under the installation's hash salt (hex). */
  hash: string;
  expiresAt: string;
  usesLeft: number;
  /** How many agents redeemed it. */
  redeemed: number;
  /** The spec.pairing.requestedAt it was made for. */
  requestedAt: string;
  pairedAt?: string;
}

export interface PairedCertificate {
  /** Lowercase hex, no leading zeros. */
  serial: string;
  notAfter: string;
}

const KEY = 'record.json';
/**
 * On a record with a redeemable code: the first hex of its keyed hash (pairingcode.ts `lookupOf`), so a
 * redemption finds the record by index; the whole hash is then compared in constant time.
 */
export const PAIRING_LOOKUP_LABEL = 'palisade.dev/pairing-lookup';

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
      ...(o.record.pairing && o.record.pairing.usesLeft > 0
        ? { [PAIRING_LOOKUP_LABEL]: o.record.pairing.hash.slice(0, 32) }
        : {}),
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
      ...(r.mode === 'pairing' ? { mode: r.mode } : {}),
      ...(typeof r.agentUID === 'string' ? { agentUID: r.agentUID } : {}),
      ...(r.pairing && typeof r.pairing.hash === 'string' ? { pairing: r.pairing } : {}),
      ...(Array.isArray(r.certificates) ? { certificates: r.certificates } : {}),
      ...(r.previousUser?.user ? { previousUser: r.previousUser } : {}),
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
  // NB: a paired agent's previous user stays valid until its next renewal; with the agent it goes too.
  const live = [...(r.user ? [current] : []), ...(r.previousUser ? [r.previousUser] : [])];
  return withCurrent ? [...r.retired, ...live] : r.retired;
}
