import type { Tenant, TenantNatsAccount } from '../../crds/v1alpha1/index.ts';
import { binding, BindingPurpose, unwrap, wrap, type RandomSource } from '../crypto/index.ts';
import type { RootKeyring } from '../installation/keyring.ts';
import { createKeyPair, fromSeed, type NKeyPair } from '../messaging/index.ts';
import { activeRevocations, ALL_USERS, readRevocations } from '../nats/revocations.ts';
import {
  NATS_SECRETS,
  NatsComponent,
  natsSecret,
  PUBLIC_KEY_ANNOTATION,
  ROOT_KEY_VERSION_LABEL,
  secretData,
} from '../nats/secrets.ts';
import type { NatsService } from '../nats/service.ts';
import type { ConditionInput } from '../runtime/conditions.ts';
import { describeError, isAlreadyExists } from '../runtime/errors.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import { TENANT_LABEL, TENANT_UID_LABEL } from '../runtime/objects.ts';
import { namespaceFor } from './namespace.ts';

/** What the Tenant controller needs for NATS; absent when messaging is not configured. */
export interface TenantMessagingDeps {
  nats: NatsService;
  rootKeys: RootKeyring;
  secrets: Informer<Secret>;
  rand: RandomSource;
}

export const MessagingCondition = 'MessagingReady';
export const MessagingReason = {
  AccountPushed: 'AccountPushed',
  PushFailed: 'PushFailed',
  NoRootKey: 'NoRootKey',
} as const;

export interface AccountOutcome {
  natsAccount?: TenantNatsAccount;
  concern: ConditionInput;
  /** Set when the step failed: the reconcile reports, then throws it to retry with backoff. */
  error?: unknown;
}

interface Deps {
  client: KubeClient;
  audit: AuditLog;
  now(): Date;
}

/** The binding of a tenant's wrapped account seed: copied to another tenant, it does not unwrap. */
export function accountSeedBinding(tenantUID: string) {
  return binding(BindingPurpose.NatsAccountSeed, { tenantUID });
}

/**
 * The tenant's NATS account: its seed (created once, wrapped by the root key, in the tenant namespace)
 * and its JWT (limits from `spec.messaging`, revocations from the namespace's revocation list), made
 * current on the resolver. Never throws: failures come back as a False concern plus `error`.
 */
export async function reconcileTenantAccount(
  d: Deps,
  m: TenantMessagingDeps,
  tenant: Tenant,
  uid: string,
): Promise<AccountOutcome> {
  try {
    const account = { publicKey: await ensureAccountKey(d, m, tenant, uid) };
    const namespace = namespaceFor(tenant);
    const nowSec = Math.floor(d.now().getTime() / 1000);
    const revocations = activeRevocations(
      readRevocations(m.secrets.get(NATS_SECRETS.revocations, namespace)),
      nowSec,
    );
    const known = Date.parse(tenant.status?.natsAccount?.jwtIssuedAt ?? '');
    const push = await m.nats.ensureAccount(
      { ...accountInput(tenant, uid, account.publicKey, m), revocations },
      Number.isNaN(known) ? undefined : Math.floor(known / 1000),
    );
    const previous = tenant.status?.natsAccount;
    const natsAccount: TenantNatsAccount = {
      publicKey: account.publicKey,
      jwtIssuedAt: iso(push.issuedAt * 1000),
      lastPushed: push.pushed || !previous?.lastPushed ? iso(d.now().getTime()) : previous.lastPushed,
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
export async function finalizeTenantAccount(d: Deps, m: TenantMessagingDeps, tenant: Tenant): Promise<void> {
  const uid = tenant.status?.uid;
  const publicKey = tenant.status?.natsAccount?.publicKey;
  if (!uid || !publicKey) return;
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

/** The account's public key: from its Secret in the tenant namespace, or generated and stored there once. */
export async function ensureAccountKey(
  d: Deps,
  m: TenantMessagingDeps,
  tenant: Tenant,
  uid: string,
): Promise<string> {
  const namespace = namespaceFor(tenant);
  const ref = { kind: 'Secret', name: NATS_SECRETS.tenantAccount, namespace };
  const cached = m.secrets.get(ref.name, namespace) ?? (await d.client.get<Secret>(ref));
  if (cached)
    return cached.metadata.annotations?.[PUBLIC_KEY_ANNOTATION] ?? unwrapAccountKey(m, cached, uid).publicKey;
  const root = m.rootKeys.active();
  const kp = createKeyPair('A');
  const wrapped = wrap(
    new TextEncoder().encode(kp.seed),
    root.key,
    { version: root.version, keyId: root.keyId },
    accountSeedBinding(uid),
    m.rand,
  );
  const secret = natsSecret({
    name: ref.name,
    namespace,
    component: NatsComponent.TenantAccount,
    data: { 'seed.wrapped': wrapped },
    labels: {
      [TENANT_LABEL]: tenant.metadata.name,
      [TENANT_UID_LABEL]: uid,
      [ROOT_KEY_VERSION_LABEL]: String(root.version),
    },
    annotations: { [PUBLIC_KEY_ANNOTATION]: kp.publicKey },
  });
  try {
    await d.client.create(secret);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const winner = await d.client.get<Secret>(ref);
    if (!winner) throw new Error(`Secret ${ref.name} vanished right after creation`, { cause: e });
    return unwrapAccountKey(m, winner, uid).publicKey;
  }
  d.audit.record({
    action: 'nats.account.generate',
    outcome: 'Success',
    resource: { kind: 'Secret', name: ref.name, namespace },
    tenantUID: uid,
    version: root.version,
  });
  return kp.publicKey;
}

export function unwrapAccountKey(
  m: Pick<TenantMessagingDeps, 'rootKeys'>,
  secret: Secret,
  uid: string,
): NKeyPair {
  const seed = unwrap(secretData(secret, 'seed.wrapped'), m.rootKeys.lookup, accountSeedBinding(uid));
  return fromSeed(new TextDecoder().decode(seed), 'A');
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
