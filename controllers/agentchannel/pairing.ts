/**
 * Pairing.Pair: a one-time code and public keys in, the agent's credentials out. The code is the only
 * credential of the call (no client certificate), so:
 *
 * - every attempt first takes a token from the per-source and the global bucket (RESOURCE_EXHAUSTED
 *   with a `retry-after-seconds` trailer when empty); a successful pairing gives its token back;
 * - every bad-code case (wrong, used up, expired, another tenant's, a suspended or deleted agent)
 *   answers the same PERMISSION_DENIED message, so a guesser learns nothing;
 * - the code's keyed hash is found by its lookup label and compared in constant time;
 * - single use is enforced by a conditional write of the keystore record (resourceVersion): of two
 *   racing redemptions of a one-use code, one write wins and the other is refused;
 * - every attempt is audited by code ID (when one matched), source and outcome — never the code.
 */
import {
  status,
  Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { agentRecordName, AGENT_LABEL, TENANT_NAMESPACE_LABEL, entryUID } from '../keystore/entries.ts';
import { tenantOfNamespace } from '../keystore/tenants.ts';
import { codeHash, hashesEqual, lookupOf, normalizeCode } from '../clusteragent/pairingcode.ts';
import { agentRecordSecret, readAgentRecord, type AgentRecord } from '../clusteragent/record.ts';
import { pairingState } from '../clusteragent/pairing.ts';
import { isPublicKey } from '../nats/protocol/index.ts';
import { PkiError, verifyCertificateRequest } from '../pki/index.ts';
import { isConflict, isNotFound } from '../runtime/errors.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { PAIRING_LOOKUP_INDEX, rememberWrite, type ChannelDeps } from './deps.ts';
import { ChannelUnavailableError, issueAgentCredentials, nextRecord } from './issue.ts';
import type { PairRequest, PairResponse } from './proto.ts';
import { sourceAddress } from './ratelimit.ts';

/** The one answer to every bad code. */
export const BAD_CODE =
  'the pairing code is not valid (wrong, used up, expired, or its ClusterAgent cannot pair now)';

export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: status;
  readonly trailer: Record<string, string>;
  constructor(code: status, message: string, trailer: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.trailer = trailer;
  }
}

/** What one attempt matched, for its audit line. */
interface Attempt {
  source: string;
  codeID?: string;
  agent?: { name: string; namespace: string; uid?: string };
  tenantUID?: string;
}

export function pairingHandlers(d: ChannelDeps): UntypedServiceImplementation {
  return {
    Pair: (call: ServerUnaryCall<PairRequest, PairResponse>, callback: sendUnaryData<PairResponse>) => {
      const attempt: Attempt = { source: sourceAddress(call.getPeer()) };
      pair(d, call.request, attempt).then(
        (res) => {
          d.countAttempt?.('OK');
          audit(d, attempt, 'Success', 'paired');
          callback(null, res);
        },
        (e: unknown) => {
          const err = e instanceof RpcError ? e : internal(d, e);
          d.countAttempt?.(status[err.code] ?? String(err.code));
          audit(d, attempt, 'Failure', `${status[err.code]}: ${err.message}`);
          const trailer = new Metadata();
          for (const [k, v] of Object.entries(err.trailer)) trailer.set(k, v);
          callback({ code: err.code, details: err.message, metadata: trailer });
        },
      );
    },
  };
}

function internal(d: ChannelDeps, e: unknown): RpcError {
  if (e instanceof ChannelUnavailableError) return new RpcError(status.UNAVAILABLE, e.message);
  d.log.error('pairing failed', { error: e instanceof Error ? e.message : String(e) });
  return new RpcError(status.UNAVAILABLE, 'pairing failed on the server; retry');
}

export async function pair(d: ChannelDeps, req: PairRequest, attempt: Attempt): Promise<PairResponse> {
  const admission = d.limiter.take(attempt.source, d.now().getTime());
  if (!admission.ok)
    throw new RpcError(
      status.RESOURCE_EXHAUSTED,
      `too many pairing attempts ${admission.scope === 'source' ? 'from this address' : 'overall'}; retry after ${admission.retryAfterSeconds} s`,
      { 'retry-after-seconds': String(admission.retryAfterSeconds) },
    );
  const publicKey = await checkRequest(req);
  const found = findCode(d, req.code);
  if (!found) throw new RpcError(status.PERMISSION_DENIED, BAD_CODE);
  const { secret, record } = found;
  const namespace = secret.metadata.labels?.[TENANT_NAMESPACE_LABEL] ?? '';
  const name = secret.metadata.labels?.[AGENT_LABEL] ?? '';
  const tenantUID = entryUID(secret);
  attempt.codeID = record.pairing?.codeID;
  attempt.agent = { name, namespace };
  attempt.tenantUID = tenantUID;
  const agent = pairableAgent(d, record, namespace, name, tenantUID);
  if (!agent) throw new RpcError(status.PERMISSION_DENIED, BAD_CODE);
  attempt.agent.uid = agent.metadata.uid;
  const tenant = tenantOfNamespace(d.keystore, namespace);
  if (req.tenant && req.tenant !== tenant?.tenant) throw new RpcError(status.PERMISSION_DENIED, BAD_CODE);
  const issued = await issueAgentCredentials(d, {
    tenantUID,
    agent: name,
    agentUID: agent.metadata.uid ?? '',
    natsUserPublicKey: req.natsUserPublicKey,
    publicKey,
  });
  const now = d.now();
  const p = record.pairing as NonNullable<AgentRecord['pairing']>;
  const issuedUnder = { trigger: agent.spec.credentialRotationTrigger ?? '' };
  const next = nextRecord(
    {
      ...record,
      pairing: { ...p, usesLeft: p.usesLeft - 1, redeemed: p.redeemed + 1, pairedAt: now.toISOString() },
      ...issuedUnder,
    },
    issued,
    now,
  );
  await saveRecord(d, secret, next, tenantUID, name, namespace);
  d.limiter.refund(attempt.source);
  return {
    credentials: issued.credentials,
    tenant: tenant?.tenant ?? '',
    namespace,
    clusterAgent: name,
    clusterName: agent.spec.clusterName,
    codeId: p.codeID,
  };
}

/** The request's own checks, before any code is looked at (INVALID_ARGUMENT names the field). */
async function checkRequest(req: PairRequest) {
  if (req.agentVersion.length > 64)
    throw new RpcError(status.INVALID_ARGUMENT, 'agent_version: at most 64 characters');
  if (!isPublicKey(req.natsUserPublicKey, 'U'))
    throw new RpcError(status.INVALID_ARGUMENT, 'nats_user_public_key: not a NATS user public key (U…)');
  try {
    return (await verifyCertificateRequest(req.certificateRequest)).publicKey;
  } catch (e) {
    if (e instanceof PkiError)
      throw new RpcError(status.INVALID_ARGUMENT, `certificate_request: ${e.message}`);
    throw e;
  }
}

/** The keystore record whose pending code this is (lookup label, then the whole hash in constant time). */
function findCode(d: ChannelDeps, typed: string): { secret: Secret; record: AgentRecord } | undefined {
  const pepper = d.pepper();
  const normalized = normalizeCode(typed);
  if (!pepper || !normalized) return undefined;
  const hash = codeHash(pepper, normalized);
  for (const key of d.secrets.byIndex(PAIRING_LOOKUP_INDEX, lookupOf(hash))) {
    const [ns, name] = key.split('/');
    const secret = d.secrets.get(name ?? '', ns);
    const record = readAgentRecord(secret);
    if (secret && record?.mode === 'pairing' && record.pairing && hashesEqual(record.pairing.hash, hash))
      return { secret, record };
  }
  return undefined;
}

/** The ClusterAgent a code may pair, from Palisade's records: live, not suspended, in pairing mode. */
function pairableAgent(
  d: ChannelDeps,
  record: AgentRecord,
  namespace: string,
  name: string,
  tenantUID: string,
): ClusterAgent | undefined {
  const p = record.pairing;
  if (!p || pairingState(p, d.now().getTime()) !== 'Pending') return undefined;
  const tenant = tenantOfNamespace(d.keystore, namespace);
  if (!tenant || tenant.retained || tenant.uid !== tenantUID) return undefined;
  const agent = d.agents.get(name, namespace);
  if (!agent || agent.metadata.uid !== record.agentUID || agent.metadata.deletionTimestamp) return undefined;
  if (agent.spec.suspended || !agent.spec.pairing) return undefined;
  return agent;
}

/** The conditional write that makes a code single-use: a racing writer's version loses. */
export async function saveRecord(
  d: ChannelDeps,
  read: Secret,
  next: AgentRecord,
  tenantUID: string,
  name: string,
  namespace: string,
): Promise<void> {
  const secret = agentRecordSecret({
    keystoreNamespace: d.keystore.namespace,
    uid: tenantUID,
    agent: name,
    tenantNamespace: namespace,
    record: next,
    ...(read.metadata.resourceVersion ? { resourceVersion: read.metadata.resourceVersion } : {}),
  });
  if (secret.metadata.name !== agentRecordName(tenantUID, name)) throw new Error('record name mismatch');
  try {
    rememberWrite(d, await d.client.update(secret));
  } catch (e) {
    if (isConflict(e) || isNotFound(e)) throw new RpcError(status.PERMISSION_DENIED, BAD_CODE);
    throw e;
  }
}

function audit(d: ChannelDeps, a: Attempt, outcome: 'Success' | 'Failure', reason: string): void {
  d.audit.record({
    action: 'agent.pairing.redeem',
    outcome,
    actor: `source ${a.source}`,
    resource: a.agent
      ? {
          kind: 'ClusterAgent',
          name: a.agent.name,
          namespace: a.agent.namespace,
          ...(a.agent.uid ? { uid: a.agent.uid } : {}),
        }
      : { kind: 'ClusterAgent', name: '' },
    ...(a.tenantUID ? { tenantUID: a.tenantUID } : {}),
    reason: a.codeID ? `code ${a.codeID}: ${reason}` : reason,
  });
}
