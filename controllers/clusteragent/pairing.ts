/**
 * Pairing mode (spec.pairing): no credentials Secret in the management cluster. Palisade makes a
 * one-time code, keeps only its keyed hash in the agent's keystore record, and shows the code once in
 * the Secret `<name>-pairing-code` of the agent's namespace, deleted as soon as the code is used up or
 * expires. The remote agent redeems it (agentchannel/pairing.ts) with public keys only and gets a NATS
 * user JWT and an mTLS client certificate; the record keeps their public facts (user, serials) so they
 * can be revoked. Suspension and deletion revoke the agent's NATS users (revoke.ts); the cluster
 * channel refuses a suspended or deleted agent by reading the same record and the ClusterAgent.
 */
import {
  parseDuration,
  type ClusterAgent,
  type ClusterAgentPairingStatus,
} from '../../crds/v1alpha1/index.ts';
import type { ConditionInput } from '../runtime/conditions.ts';
import type { Secret } from '../runtime/kube/types.ts';
import {
  COMPONENT_LABEL,
  controllerRef,
  isControlledBy,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  TENANT_LABEL,
} from '../runtime/objects.ts';
import { AGENT_LABEL } from '../keystore/entries.ts';
import { AgentCondition, AgentReason } from './conditions.ts';
import { codeHash, newCode, newCodeID, normalizeCode } from './pairingcode.ts';
import type { AgentRecord, PairingRecord } from './record.ts';

/** Component label of the code Secret. */
export const PAIRING_CODE_COMPONENT = 'pairing-code';
export const CODE_ID_ANNOTATION = 'palisade.dev/pairing-code-id';

/** What pairing needs beyond the kind's deps: the pepper, and what the code Secret tells the agent. */
export interface PairingDeps {
  /** The installation's hash salt (the pepper of code hashes); undefined until it is readable. */
  pepper(): Uint8Array | undefined;
  /** The CA pin (`sha256:<hex>`) the agent checks the server against; undefined while unknown. */
  caPin(): string | undefined;
  /** Where agents reach the cluster channel (`host:port`), if configured. */
  address?: string;
  /** Sends a command to the agent on every channel it listens on (gRPC Commands streams, NATS). */
  command?(tenantUID: string, agent: string, verb: string): void;
}

/**
 * Whether the paired agent should renew: spec.credentialRotationTrigger changed since its credentials
 * were issued (Pair and Renew record the trigger they issued under).
 */
export function refreshDue(agent: ClusterAgent, r: AgentRecord | undefined): boolean {
  if (r?.mode !== 'pairing' || !r.certificates?.length || agent.spec.suspended) return false;
  return r.trigger !== (agent.spec.credentialRotationTrigger ?? '');
}

export const codeSecretName = (agent: ClusterAgent) => `${agent.metadata.name}-pairing-code`;

export type PairingState = NonNullable<ClusterAgentPairingStatus['state']>;

/** The state of a code at `now`. */
export function pairingState(p: PairingRecord, now: number): PairingState {
  if (p.usesLeft > 0 && Date.parse(p.expiresAt) > now) return 'Pending';
  return p.redeemed > 0 ? 'Paired' : 'Expired';
}

/**
 * Whether a new code is due: none yet, a new spec.pairing.requestedAt, or a code that was never shown
 * (the record was written, then the process died before the Secret: nobody can know that code).
 */
export function codeDue(
  agent: ClusterAgent,
  record: AgentRecord | undefined,
  shown: boolean,
  now: number,
): boolean {
  const p = record?.mode === 'pairing' ? record.pairing : undefined;
  if (!p) return true;
  if (p.requestedAt !== (agent.spec.pairing?.requestedAt ?? '')) return true;
  return pairingState(p, now) === 'Pending' && p.redeemed === 0 && !shown;
}

/**
 * A record with a new code (and the code, to show once). Credentials already paired stay as they are:
 * a new code lets another (or a reinstalled) agent pair, it does not cut the current one off.
 * A record from the Secret mode is turned over: its user joins `retired` (revoked: its seed sat in the
 * management cluster).
 */
export function withNewCode(o: {
  agent: ClusterAgent;
  record: AgentRecord | undefined;
  pepper: Uint8Array;
  now: Date;
  rand: (n: number) => Uint8Array;
}): { record: AgentRecord; code: string } {
  const spec = o.agent.spec.pairing;
  const code = newCode(o.rand);
  const pairing: PairingRecord = {
    codeID: newCodeID(o.rand),
    hash: codeHash(o.pepper, normalizeCode(code) as string),
    expiresAt: new Date(o.now.getTime() + parseDuration(spec?.ttl ?? '15m')).toISOString(),
    usesLeft: spec?.uses ?? 1,
    redeemed: 0,
    requestedAt: spec?.requestedAt ?? '',
  };
  const r = o.record;
  const base: AgentRecord =
    r?.mode === 'pairing'
      ? r
      : {
          user: '',
          version: r?.version ?? 0,
          issuedAt: o.now.toISOString(),
          trigger: '',
          // NB: a user whose seed was delivered into the management cluster never serves a paired agent.
          retired: [...(r?.retired ?? []), ...(r?.user ? [{ user: r.user }] : [])],
        };
  return {
    record: { ...base, mode: 'pairing', agentUID: o.agent.metadata.uid ?? '', pairing },
    code,
  };
}

/** The Secret that shows the code, once, to whoever may read Secrets in the tenant's namespace. */
export function codeSecret(o: {
  agent: ClusterAgent;
  tenantName: string;
  code: string;
  pairing: PairingRecord;
  caPin?: string;
  address?: string;
}): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: codeSecretName(o.agent),
      namespace: o.agent.metadata.namespace ?? '',
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [COMPONENT_LABEL]: PAIRING_CODE_COMPONENT,
        [TENANT_LABEL]: o.tenantName,
        [AGENT_LABEL]: o.agent.metadata.name,
      },
      annotations: { [CODE_ID_ANNOTATION]: o.pairing.codeID },
      ownerReferences: [controllerRef(o.agent)],
    },
    type: 'Opaque',
    data: base64Values({
      code: o.code,
      'code-id': o.pairing.codeID,
      'expires-at': o.pairing.expiresAt,
      ...(o.caPin ? { 'ca-pin': o.caPin } : {}),
      ...(o.address ? { server: o.address } : {}),
    }),
  };
}

function base64Values(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

/** The code Secret goes once the code cannot be used (or a new one replaces it); only ours is touched. */
export function codeSecretStale(
  s: Secret | undefined,
  agent: ClusterAgent,
  p: PairingRecord,
  now: number,
): boolean {
  if (!s || !isControlledBy(s, agent)) return false;
  return s.metadata.annotations?.[CODE_ID_ANNOTATION] !== p.codeID || pairingState(p, now) !== 'Pending';
}

/** status.pairing: the code's public facts and the current certificate. */
export function pairingStatus(
  agent: ClusterAgent,
  r: AgentRecord | undefined,
  now: number,
  codeShown: boolean,
): ClusterAgentPairingStatus {
  const p = r?.mode === 'pairing' ? r.pairing : undefined;
  if (!p) return {};
  const state = pairingState(p, now);
  const cert = r?.certificates?.[0];
  return {
    codeID: p.codeID,
    state,
    expiresAt: p.expiresAt.replace(/\.\d+Z$/, 'Z'),
    usesLeft: state === 'Pending' ? p.usesLeft : 0,
    ...(state === 'Pending' && codeShown ? { codeSecret: codeSecretName(agent) } : {}),
    ...(p.pairedAt ? { pairedAt: p.pairedAt.replace(/\.\d+Z$/, 'Z') } : {}),
    ...(cert
      ? {
          certificateSerial: serialAsShown(cert.serial),
          certificateNotAfter: cert.notAfter.replace(/\.\d+Z$/, 'Z'),
        }
      : {}),
  };
}

/**
 * A serial as openssl, Node's X509Certificate and CertificateBinding status show it (upper case, whole
 * bytes): the record keeps it without leading zeros, which a reader comparing with openssl would trip on.
 */
export function serialAsShown(serial: string): string {
  return (serial.length % 2 ? '0' : '') + serial.toUpperCase();
}

/** CredentialsReady in pairing mode: True once an agent holds an unexpired certificate. */
export function pairingCondition(
  agent: ClusterAgent,
  r: AgentRecord | undefined,
  now: number,
): ConditionInput {
  const cert = r?.certificates?.[0];
  const p = r?.pairing;
  if (cert && Date.parse(cert.notAfter) > now)
    return {
      type: AgentCondition.CredentialsReady,
      status: 'True',
      reason: AgentReason.Paired,
      message: `paired with code ${p?.codeID ?? ''}; client certificate ${cert.serial.slice(0, 12)}… valid until ${cert.notAfter.replace(/\.\d+Z$/, 'Z')}`,
    };
  if (p && pairingState(p, now) === 'Pending')
    return {
      type: AgentCondition.CredentialsReady,
      status: 'False',
      reason: AgentReason.AwaitingPairing,
      message: `waiting for an agent to redeem code ${p.codeID} (shown once in Secret ${codeSecretName(agent)}) before ${p.expiresAt.replace(/\.\d+Z$/, 'Z')}`,
    };
  if (cert)
    return {
      type: AgentCondition.CredentialsReady,
      status: 'False',
      reason: AgentReason.CertificateExpired,
      message: `the agent's client certificate expired at ${cert.notAfter.replace(/\.\d+Z$/, 'Z')} without renewal: set a new spec.pairing.requestedAt to pair again`,
    };
  return {
    type: AgentCondition.CredentialsReady,
    status: 'False',
    reason: AgentReason.PairingExpired,
    message: `code ${p?.codeID ?? ''} expired unused: set a new spec.pairing.requestedAt for a new code`,
  };
}
