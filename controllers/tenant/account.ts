import type { Tenant, TenantNatsAccount } from '../../crds/v1alpha1/index.ts';
import type { RandomSource } from '../crypto/index.ts';
import {
  accountSeedSlot,
  EntryKind,
  IndexKey,
  keystoreLabels,
  keystoreSecret,
  PUBLIC_KEY_ANNOTATION,
  revocationsName,
  ROOT_KEY_VERSION_LABEL,
  SLOT_LABEL,
  TENANT_NAMESPACE_LABEL,
  wrappedByRootVersion,
} from '../keystore/entries.ts';
import { accountSeedBinding, WRAPPED_DATA_KEY, type Keystore } from '../keystore/store.ts';
import { createKeyPair, fromSeed, type NKeyPair } from '../nats/protocol/index.ts';
import { activeRevocations, ALL_USERS, readRevocations } from '../nats/revocations.ts';
import type { NatsService } from '../nats/service.ts';
import type { ConditionInput } from '../runtime/conditions.ts';
import { describeError } from '../runtime/errors.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { isoSeconds } from '../runtime/objects.ts';
import type { AuditLog } from '../runtime/log.ts';
import { namespaceFor } from './namespace.ts';

/** What the Tenant controller needs for NATS; absent when messaging is not configured. */
export interface TenantMessagingDeps {
  nats: Pick<NatsService, 'ensureAccount' | 'deleteAccount' | 'installation'>;
  rand: RandomSource;
}

export const MessagingCondition = 'MessagingReady';
export const MessagingReason = {
  AccountPushed: 'AccountPushed',
  PushFailed: 'PushFailed',
} as const;

export interface AccountOutcome {
  natsAccount?: TenantNatsAccount;
  concern: ConditionInput;
  /** Set when the step failed: the reconcile reports, then throws it to retry with backoff. */
  error?: unknown;
}

interface Deps {
  client: KubeApi;
  audit: AuditLog;
  now(): Date;
  keystore: Keystore;
}

/**
 * The tenant's NATS account: its seed (created once, wrapped by the root key, in the keystore) and its
 * JWT (limits from `spec.messaging`, revocations from the tenant's list in the keystore), made
 * current on the resolver. Never throws: failures come back as a False concern plus `error`.
 */
export async function reconcileTenantAccount(
  d: Deps,
  m: TenantMessagingDeps,
  tenant: Tenant,
  uid: string,
): Promise<AccountOutcome> {
  try {
    const account = { publicKey: await ensureAccountKey(d, tenant, uid) };
    const nowSec = Math.floor(d.now().getTime() / 1000);
    const revocations = activeRevocations(readRevocations(d.keystore.get(revocationsName(uid))), nowSec);
    const known = Date.parse(tenant.status?.natsAccount?.jwtIssuedAt ?? '');
    const push = await m.nats.ensureAccount(
      { ...accountInput(tenant, uid, account.publicKey, m), revocations },
      Number.isNaN(known) ? undefined : Math.floor(known / 1000),
    );
    const previous = tenant.status?.natsAccount;
    const natsAccount: TenantNatsAccount = {
      publicKey: account.publicKey,
      jwtIssuedAt: isoSeconds(push.issuedAt * 1000),
      lastPushed: push.pushed || !previous?.lastPushed ? isoSeconds(d.now().getTime()) : previous.lastPushed,
    };
    return {
      natsAccount,
      concern: {
        type: MessagingCondition,
        status: 'True',
        reason: MessagingReason.AccountPushed,
        message: `NATS account ${account.publicKey.slice(0, 8)}… is current on the resolver`,
      },
    };
  } catch (e) {
    return {
      ...(tenant.status?.natsAccount ? { natsAccount: tenant.status.natsAccount } : {}),
      concern: {
        type: MessagingCondition,
        status: 'False',
        reason: MessagingReason.PushFailed,
        message: `could not make the NATS account current: ${describeError(e)}`,
      },
      error: e,
    };
  }
}

/**
 * Deletion: `Delete` removes the account from the resolver; `Retain` keeps it (and its seed) but
 * revokes every user, so no agent of a deleted tenant stays connected. A re-created Tenant of the same
 * name adopts the seed and rebuilds the JWT from its revocation list, without the blanket revocation.
 */
export async function finalizeTenantAccount(
  d: Deps,
  m: TenantMessagingDeps,
  tenant: Tenant,
  uid: string,
): Promise<void> {
  const entry = accountEntry(d.keystore, uid);
  if (!entry) return;
  const publicKey = publicKeyOf(d.keystore, entry, uid);
  const resource = { kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid };
  if (tenant.spec.deletionPolicy === 'Delete') {
    await m.nats.deleteAccount(publicKey);
    d.audit.record({ action: 'nats.account.delete', outcome: 'Success', resource, tenantUID: uid });
    return;
  }
  const at = Math.floor(d.now().getTime() / 1000);
  await m.nats.ensureAccount({
    ...accountInput(tenant, uid, publicKey, m),
    revocations: { [ALL_USERS]: at },
  });
  d.audit.record({ action: 'nats.account.revoke-all', outcome: 'Success', resource, tenantUID: uid });
}

function accountInput(tenant: Tenant, uid: string, publicKey: string, m: TenantMessagingDeps) {
  const l = tenant.spec.messaging;
  return {
    tenantUID: uid,
    tenantName: tenant.metadata.name,
    account: publicKey,
    palisadeAccount: m.nats.installation.palisade.publicKey,
    limits: {
      maxConnections: l.maxConnections,
      maxSubscriptions: l.maxSubscriptions,
      maxPayloadBytes: l.maxPayloadBytes,
      maxDataBytes: l.maxDataBytes,
    },
  };
}

/** The account's current wrap in the keystore (the one under the newest root version), if any. */
export function accountEntry(ks: Keystore, uid: string): Secret | undefined {
  return ks.find(IndexKey.account(uid)).sort((a, b) => wrappedByRootVersion(b) - wrappedByRootVersion(a))[0];
}

/**
 * The account's public key: from its keystore entry (written only by Palisade, so its public-key
 * annotation can be trusted), or generated, wrapped and stored there once, create-only.
 */
export async function ensureAccountKey(d: Deps, tenant: Tenant, uid: string): Promise<string> {
  const ks = d.keystore;
  const existing = accountEntry(ks, uid);
  if (existing) return publicKeyOf(ks, existing, uid);
  const kp = createKeyPair('A');
  const slot = accountSeedSlot(uid);
  let rootVersion = 0;
  const made = await ks.createWrapped(new TextEncoder().encode(kp.seed), accountSeedBinding(uid), (w) => {
    rootVersion = w.rootVersion;
    return keystoreSecret({
      name: slot,
      namespace: ks.namespace,
      labels: keystoreLabels(EntryKind.NatsAccount, uid, {
        [TENANT_NAMESPACE_LABEL]: namespaceFor(tenant),
        [ROOT_KEY_VERSION_LABEL]: String(w.rootVersion),
        [SLOT_LABEL]: slot,
      }),
      annotations: { [PUBLIC_KEY_ANNOTATION]: kp.publicKey },
      data: { [WRAPPED_DATA_KEY]: w.wrapped },
      immutable: true,
    });
  });
  if (!made.created) return publicKeyOf(ks, made.secret, uid);
  d.audit.record({
    action: 'nats.account.generate',
    outcome: 'Success',
    resource: { kind: 'Secret', name: slot, namespace: ks.namespace },
    tenantUID: uid,
    version: rootVersion,
  });
  return kp.publicKey;
}

function publicKeyOf(ks: Keystore, s: Secret, uid: string): string {
  return s.metadata.annotations?.[PUBLIC_KEY_ANNOTATION] ?? unwrapAccountKey(ks, s, uid).publicKey;
}

/** The account's key pair, for signing its users' JWTs; the binding is rebuilt from `uid`. */
export function unwrapAccountKey(ks: Keystore, secret: Secret, uid: string): NKeyPair {
  const seed = ks.unwrap(secret, accountSeedBinding(uid));
  return fromSeed(new TextDecoder().decode(seed), 'A');
}
