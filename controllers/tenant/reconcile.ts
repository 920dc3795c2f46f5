import type { Tenant, TenantKey, TenantStatus } from '../../crds/v1alpha1/index.ts';
import type { RandomSource } from '../crypto/index.ts';
import { findCondition, readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { describeError } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import { addFinalizer, hasFinalizer, writeStatus } from '../runtime/objects.ts';
import type { Keystore } from '../keystore/store.ts';
import { TENANT_FINALIZER, TenantCondition, TenantReason } from './conditions.ts';
import { desiredNamespace, namespaceFor, namespaceUpToDate } from './namespace.ts';
import { finalizeTenant } from './deletion.ts';
import { ensureIdentity } from './identity.ts';
import { ensurePrimaryKey } from './primarykey.ts';
import { ACCESS_ROLEBINDING, type TenantNamespaceAccess } from './access.ts';
import { reconcileTenantAccount, type AccountOutcome, type TenantMessagingDeps } from './account.ts';

export interface TenantEnv {
  now(): Date;
  rand: RandomSource;
}

export interface TenantDeps {
  client: KubeClient;
  events: EventRecorder;
  audit: AuditLog;
  env: TenantEnv;
  tenants: Informer<Tenant>;
  namespaces: Informer<Namespace>;
  keystore: Keystore;
  /** Palisade's Secret rights in the tenant's namespace (bound when the namespace is made). */
  access: TenantNamespaceAccess;
  /** The primary TenantKeys (optional: without it the key is applied on every reconcile). */
  tenantKeys?: Informer<TenantKey>;
  /** NATS (account.ts); absent when messaging is not configured. */
  messaging?: TenantMessagingDeps;
}

const FOREIGN_NAMESPACE_RECHECK_MS = 60_000;
const TERMINATING_RECHECK_MS = 5_000;

/**
 * Tenant: its identity from Palisade's record (made once), its namespace, its primary key and NATS
 * account, then one status write. Deletion is handled by the finalizer according to `deletionPolicy`.
 */
export async function reconcileTenant(d: TenantDeps, key: string): Promise<ReconcileResult | void> {
  const tenant = d.tenants.get(key);
  if (!tenant) return;
  if (tenant.metadata.deletionTimestamp) {
    if (hasFinalizer(tenant, TENANT_FINALIZER)) await finalizeTenant(d, tenant);
    return;
  }
  await addFinalizer(d.client, tenant, TENANT_FINALIZER);
  const name = namespaceFor(tenant);
  const identity = await ensureIdentity(d, tenant);
  if (!identity.ok) {
    d.events.record(tenant, 'Warning', identity.reason, 'Reconcile', identity.message);
    await report(d, tenant, tenant.status?.uid, {
      status: 'False',
      reason: identity.reason,
      message: identity.message,
    });
    return { requeueAfterMs: FOREIGN_NAMESPACE_RECHECK_MS };
  }
  const uid = identity.record.uid;
  const existing = d.namespaces.get(name) ?? (await d.client.get<Namespace>({ kind: 'Namespace', name }));
  if (existing?.metadata.deletionTimestamp) {
    const message = `namespace ${name} is still being deleted; it will be recreated once it is gone (the keys stay in the keystore)`;
    await report(d, tenant, uid, { status: 'False', reason: TenantReason.NamespaceTerminating, message });
    return { requeueAfterMs: TERMINATING_RECHECK_MS };
  }
  const namespace = await ensureNamespace(d, tenant, uid, existing);
  if (!namespace.ok) {
    await report(d, tenant, uid, namespace.concern);
    throw namespace.error;
  }
  const primary = await ensurePrimaryKey(d, tenant);
  const account = d.messaging
    ? await reconcileTenantAccount(
        { client: d.client, audit: d.audit, now: () => d.env.now(), keystore: d.keystore },
        d.messaging,
        tenant,
        uid,
      )
    : undefined;
  await report(d, tenant, uid, namespace.concern, primary, account);
  if (account?.error) throw account.error;
}

type NamespaceOutcome =
  | { ok: true; concern: Omit<ConditionInput, 'type'> }
  | { ok: false; concern: Omit<ConditionInput, 'type'>; error: unknown };

/**
 * Applies the namespace when it differs from what Palisade wants. A namespace that vanished under a
 * Tenant that had one (NamespaceReady was True) is re-created and said so loudly: its TenantKeys,
 * re-applied, find the same keys in the keystore.
 */
async function ensureNamespace(
  d: TenantDeps,
  tenant: Tenant,
  uid: string,
  existing: Namespace | undefined,
): Promise<NamespaceOutcome> {
  const name = namespaceFor(tenant);
  const desired = desiredNamespace(tenant, uid);
  const ready = {
    status: 'True' as const,
    reason: TenantReason.NamespaceCreated,
    message: `namespace ${name} is ready`,
  };
  const previous = findCondition(tenant.status?.conditions, TenantCondition.NamespaceReady);
  // NB: a re-creation stays visible in the condition until the next spec change, not for one reconcile.
  const kept =
    previous?.reason === TenantReason.NamespaceRecreated &&
    previous.observedGeneration === tenant.metadata.generation
      ? { status: 'True' as const, reason: previous.reason, message: previous.message }
      : ready;
  if (namespaceUpToDate(tenant, existing, desired)) return { ok: true, concern: kept };
  let applied: Namespace;
  try {
    applied = await d.client.apply<Namespace>(desired);
  } catch (e) {
    const message = `could not apply namespace ${name}: ${describeError(e)}`;
    return { ok: false, concern: { status: 'False', reason: TenantReason.ApplyFailed, message }, error: e };
  }
  try {
    await d.access.grant(name);
  } catch (e) {
    const message = `could not bind Palisade's Secret role in namespace ${name} (RoleBinding ${ACCESS_ROLEBINDING}): ${describeError(e)}`;
    return { ok: false, concern: { status: 'False', reason: TenantReason.ApplyFailed, message }, error: e };
  }
  // NB: by UID, not by the cache: a cached namespace may already be gone, and the apply re-created it.
  if (existing && applied.metadata.uid === existing.metadata.uid) return { ok: true, concern: kept };
  const resource = { kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid };
  // A namespace this Tenant had: ready once, or being deleted when last seen.
  const hadOne = previous?.status === 'True' || previous?.reason === TenantReason.NamespaceTerminating;
  if (hadOne) {
    const message = `namespace ${name} disappeared and was re-created; the tenant's keys (UID ${uid}) are in the keystore and re-attach to its TenantKeys`;
    d.events.record(tenant, 'Warning', TenantReason.NamespaceRecreated, 'Create', message);
    d.audit.record({ action: 'tenant.namespace.recreate', outcome: 'Success', resource, tenantUID: uid });
    return { ok: true, concern: { status: 'True', reason: TenantReason.NamespaceRecreated, message } };
  }
  d.events.record(
    tenant,
    'Normal',
    TenantReason.NamespaceCreated,
    'Create',
    `created namespace ${name} for tenant UID ${uid}`,
  );
  d.audit.record({ action: 'tenant.namespace.create', outcome: 'Success', resource, tenantUID: uid });
  return { ok: true, concern: ready };
}

async function report(
  d: TenantDeps,
  tenant: Tenant,
  uid: string | undefined,
  namespace: Omit<ConditionInput, 'type'>,
  primary?: { name: string; concern: ConditionInput },
  account?: AccountOutcome,
): Promise<void> {
  const concerns: ConditionInput[] = [{ type: TenantCondition.NamespaceReady, ...namespace }];
  if (primary) concerns.push(primary.concern);
  if (account) concerns.push(account.concern);
  const status: TenantStatus = {
    ...tenant.status,
    ...(uid ? { uid } : {}),
    ...(primary ? { primaryKey: primary.name } : {}),
    ...(account?.natsAccount ? { natsAccount: account.natsAccount } : {}),
    namespace: namespaceFor(tenant),
    observedGeneration: tenant.metadata.generation,
    conditions: setConditions(
      tenant.status?.conditions,
      [...concerns, readySummary(concerns, TenantReason.Ready)],
      tenant.metadata.generation,
      d.env.now(),
    ),
  };
  const wrote = await writeStatus(d.client, tenant, status);
  if (wrote && uid && !tenant.status?.uid) {
    d.audit.record({
      action: 'tenant.uid.assign',
      outcome: 'Success',
      resource: { kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid },
      tenantUID: uid,
    });
  }
}
