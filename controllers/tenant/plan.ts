import type { Condition, Tenant, TenantNatsAccount, TenantStatus } from '../../crds/v1alpha1/index.ts';
import { findCondition, readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { TenantCondition, TenantReason } from './conditions.ts';
import { desiredNamespace, namespaceFor, namespaceUpToDate } from './namespace.ts';

export type Concern = Omit<ConditionInput, 'type'>;

/** What to do about the tenant's namespace, decided from what was observed; pure. */
export type NamespacePlan =
  | { action: 'wait'; concern: Concern; requeueAfterMs: number }
  | { action: 'none'; concern: Concern }
  | { action: 'apply'; desired: Namespace; existingUID: string | undefined };

export const TERMINATING_RECHECK_MS = 5_000;

/**
 * A namespace being deleted is waited for; one that is as Palisade wants it is left alone; anything else
 * (missing, labels or ownership differ) is applied. A re-creation stays visible in the condition until the
 * next spec change, not for one reconcile.
 */
export function planNamespace(tenant: Tenant, uid: string, existing: Namespace | undefined): NamespacePlan {
  const name = namespaceFor(tenant);
  if (existing?.metadata.deletionTimestamp) {
    return {
      action: 'wait',
      concern: {
        status: 'False',
        reason: TenantReason.NamespaceTerminating,
        message: `namespace ${name} is still being deleted; it will be recreated once it is gone (the keys stay in the keystore)`,
      },
      requeueAfterMs: TERMINATING_RECHECK_MS,
    };
  }
  const desired = desiredNamespace(tenant, uid);
  if (namespaceUpToDate(tenant, existing, desired)) return { action: 'none', concern: keptConcern(tenant) };
  return { action: 'apply', desired, existingUID: existing?.metadata.uid };
}

/** The NamespaceReady concern while nothing new happened: a re-creation is kept until the spec changes. */
export function keptConcern(tenant: Tenant): Concern {
  const previous = findCondition(tenant.status?.conditions, TenantCondition.NamespaceReady);
  if (
    previous?.reason === TenantReason.NamespaceRecreated &&
    previous.observedGeneration === tenant.metadata.generation
  )
    return { status: 'True', reason: previous.reason, message: previous.message };
  return {
    status: 'True',
    reason: TenantReason.NamespaceCreated,
    message: `namespace ${namespaceFor(tenant)} is ready`,
  };
}

/** What an apply that succeeded means: nothing new, a first creation, or a re-creation under a live Tenant. */
export type Applied =
  | { kind: 'updated'; concern: Concern }
  | { kind: 'created'; concern: Concern; message: string }
  | { kind: 'recreated'; concern: Concern; message: string };

/**
 * Decided by namespace UID, not by the cache: a cached namespace may already be gone and the apply
 * re-created it. A namespace this Tenant had (ready once, or being deleted when last seen) that comes back
 * with a new UID was re-created.
 */
export function afterApply(
  tenant: Tenant,
  uid: string,
  existingUID: string | undefined,
  appliedUID: string | undefined,
): Applied {
  const name = namespaceFor(tenant);
  if (existingUID && appliedUID === existingUID) return { kind: 'updated', concern: keptConcern(tenant) };
  const previous = findCondition(tenant.status?.conditions, TenantCondition.NamespaceReady);
  const hadOne = previous?.status === 'True' || previous?.reason === TenantReason.NamespaceTerminating;
  if (hadOne) {
    const message = `namespace ${name} disappeared and was re-created; the tenant's keys (UID ${uid}) are in the keystore and re-attach to its TenantKeys`;
    return {
      kind: 'recreated',
      concern: { status: 'True', reason: TenantReason.NamespaceRecreated, message },
      message,
    };
  }
  return {
    kind: 'created',
    concern: { status: 'True', reason: TenantReason.NamespaceCreated, message: `namespace ${name} is ready` },
    message: `created namespace ${name} for tenant UID ${uid}`,
  };
}

/** The one status a reconcile writes: every concern observed, with Ready summarising them; pure. */
export function tenantStatus(
  tenant: Tenant,
  o: {
    uid: string | undefined;
    namespace: Concern;
    primary?: { name: string; concern: ConditionInput };
    account?: { natsAccount?: TenantNatsAccount; concern: ConditionInput };
    now: Date;
  },
): TenantStatus {
  const concerns: ConditionInput[] = [{ type: TenantCondition.NamespaceReady, ...o.namespace }];
  if (o.primary) concerns.push(o.primary.concern);
  if (o.account) concerns.push(o.account.concern);
  return {
    ...tenant.status,
    ...(o.uid ? { uid: o.uid } : {}),
    ...(o.primary ? { primaryKey: o.primary.name } : {}),
    ...(o.account?.natsAccount ? { natsAccount: o.account.natsAccount } : {}),
    namespace: namespaceFor(tenant),
    observedGeneration: tenant.metadata.generation,
    conditions: setConditions(
      tenant.status?.conditions as Condition[] | undefined,
      [...concerns, readySummary(concerns, TenantReason.Ready)],
      tenant.metadata.generation,
      o.now,
    ),
  };
}
