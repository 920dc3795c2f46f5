import type { Tenant, TenantStatus } from '../../crds/v1alpha1/index.ts';
import { describeError } from '../runtime/errors.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import type { Kind, Outcome } from '../runtime/reconciler.ts';
import { ACCESS_ROLEBINDING } from './access.ts';
import { reconcileTenantAccount, type TenantMessagingDeps } from './account.ts';
import { TENANT_FINALIZER, TenantReason } from './conditions.ts';
import { finalizeTenant } from './deletion.ts';
import type { TenantDeps } from './deps.ts';
import { ensureIdentity } from './identity.ts';
import { namespaceFor } from './namespace.ts';
import { afterApply, planNamespace, tenantStatus, type Concern } from './plan.ts';
import { ensurePrimaryKey, PrimaryKeyPending } from './primarykey.ts';

const FOREIGN_NAMESPACE_RECHECK_MS = 60_000;
/**
 * How long a new Tenant's first status waits for its primary key, made a moment before, to have a status:
 * it then says Ready at once instead of PrimaryKeyPending and then Ready, one write instead of two.
 */
export const PRIMARY_KEY_SETTLE_MS = 30_000;

/**
 * Tenant, as the reconcile driver (runtime/reconciler.ts) runs it: its identity from Palisade's record
 * (made once), its namespace, its primary key and NATS account, then the one status the driver writes.
 * Deletion runs the `deletionPolicy` (deletion.ts) under the finalizer.
 */
export function tenantKind(d: TenantDeps): Kind<Tenant, TenantStatus> {
  return {
    finalizer: TENANT_FINALIZER,
    finalize: (tenant) => finalizeTenant(d, tenant),
    reconcile: (tenant) => reconcileTenant(d, tenant),
  };
}

async function reconcileTenant(d: TenantDeps, tenant: Tenant): Promise<Outcome<TenantStatus>> {
  const now = d.env.now();
  const identity = await ensureIdentity(d, tenant);
  if (!identity.ok) return refused(d, tenant, identity, now);
  const uid = identity.record.uid;
  // The first status that carries the UID is audited, once it is written.
  const afterStatus = (wrote: boolean) => {
    if (!wrote || tenant.status?.uid) return;
    d.audit.record({
      action: 'tenant.uid.assign',
      outcome: 'Success',
      resource: resourceOf(tenant),
      tenantUID: uid,
    });
  };
  const namespace = await ensureNamespace(d, tenant, uid, identity.namespaceAbsent === true);
  if (namespace.stop)
    return {
      status: tenantStatus(tenant, { uid, namespace: namespace.concern, now }),
      afterStatus,
      ...namespace.stop,
    };
  const primary = await ensurePrimaryKey(d, tenant);
  const account = d.messaging ? await accountStep(d, d.messaging, tenant, uid) : undefined;
  return {
    status: tenantStatus(tenant, {
      uid,
      namespace: namespace.concern,
      primary,
      ...(account ? { account } : {}),
      now,
    }),
    afterStatus,
    ...(!tenant.status && primary.concern.reason === PrimaryKeyPending
      ? { settleMs: PRIMARY_KEY_SETTLE_MS }
      : {}),
    ...(account?.error !== undefined ? { retry: account.error } : {}),
  };
}

/** Palisade's record gives this Tenant no identity (someone else's namespace or UID): say why, touch nothing. */
function refused(
  d: TenantDeps,
  tenant: Tenant,
  identity: { reason: string; message: string },
  now: Date,
): Outcome<TenantStatus> {
  d.events.record(tenant, 'Warning', identity.reason, 'Reconcile', identity.message);
  const namespace = { status: 'False' as const, reason: identity.reason, message: identity.message };
  return {
    status: tenantStatus(tenant, { uid: tenant.status?.uid, namespace, now }),
    requeueAfterMs: FOREIGN_NAMESPACE_RECHECK_MS,
  };
}

/** The NATS account step (account.ts), with what it reads and writes through. */
function accountStep(d: TenantDeps, m: TenantMessagingDeps, tenant: Tenant, uid: string) {
  const deps = { client: d.client, audit: d.audit, now: () => d.env.now(), keystore: d.keystore };
  return reconcileTenantAccount(deps, m, tenant, uid);
}

/**
 * The namespace step: observe, plan (plan.ts), apply when the plan says so, grant Palisade's Secret role
 * there, and announce a creation or a re-creation. `stop` ends the reconcile after the status is written.
 */
async function ensureNamespace(
  d: TenantDeps,
  tenant: Tenant,
  uid: string,
  // NB: the identity step's read, a moment ago, found none: no second GET for every new tenant.
  seenAbsent: boolean,
): Promise<{ concern: Concern; stop?: { requeueAfterMs?: number; retry?: unknown } }> {
  const name = namespaceFor(tenant);
  const existing =
    d.namespaces.get(name) ??
    (seenAbsent ? undefined : await d.client.get<Namespace>({ kind: 'Namespace', name }));
  const plan = planNamespace(tenant, uid, existing);
  if (plan.action === 'wait') return { concern: plan.concern, stop: { requeueAfterMs: plan.requeueAfterMs } };
  if (plan.action === 'none') return { concern: plan.concern };
  let applied: Namespace | undefined;
  let step = `apply namespace ${name}`;
  try {
    applied = await d.client.apply<Namespace>(plan.desired);
    step = `bind Palisade's Secret role in namespace ${name} (RoleBinding ${ACCESS_ROLEBINDING})`;
    await d.access.grant(name);
  } catch (e) {
    const message = `could not ${step}: ${describeError(e)}`;
    return { concern: { status: 'False', reason: TenantReason.ApplyFailed, message }, stop: { retry: e } };
  }
  const outcome = afterApply(tenant, uid, plan.existingUID, applied.metadata.uid);
  if (outcome.kind === 'recreated') {
    d.events.record(tenant, 'Warning', TenantReason.NamespaceRecreated, 'Create', outcome.message);
    d.audit.record({
      action: 'tenant.namespace.recreate',
      outcome: 'Success',
      resource: resourceOf(tenant),
      tenantUID: uid,
    });
  } else if (outcome.kind === 'created') {
    d.events.record(tenant, 'Normal', TenantReason.NamespaceCreated, 'Create', outcome.message);
    d.audit.record({
      action: 'tenant.namespace.create',
      outcome: 'Success',
      resource: resourceOf(tenant),
      tenantUID: uid,
    });
  }
  return { concern: outcome.concern };
}

function resourceOf(tenant: Tenant) {
  return { kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid };
}
