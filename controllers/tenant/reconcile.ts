import type { Tenant, TenantKey, TenantStatus } from '../../crds/v1alpha1/index.ts';
import { newTenantUID, type RandomSource } from '../crypto/index.ts';
import { readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { describeError } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import { addFinalizer, hasFinalizer, TENANT_UID_LABEL, writeStatus } from '../runtime/objects.ts';
import { TENANT_FINALIZER, TenantCondition, TenantReason } from './conditions.ts';
import { desiredNamespace, judgeNamespace, namespaceFor, namespaceUpToDate } from './namespace.ts';
import { finalizeTenant } from './deletion.ts';
import { ensurePrimaryKey } from './primarykey.ts';
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
  /** The primary TenantKeys (optional: without it the key is applied on every reconcile). */
  tenantKeys?: Informer<TenantKey>;
  /** NATS (account.ts); absent when messaging is not configured. */
  messaging?: TenantMessagingDeps;
}

export const UID_INDEX = 'uid';
const FOREIGN_NAMESPACE_RECHECK_MS = 60_000;
const TERMINATING_RECHECK_MS = 5_000;

/**
 * Tenant: assign the tenant UID (once), make its namespace, report. Deletion is handled by the
 * finalizer according to `deletionPolicy`.
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
  const existing = d.namespaces.get(name) ?? (await d.client.get<Namespace>({ kind: 'Namespace', name }));
  const verdict = judgeNamespace(tenant, existing);
  if (verdict.kind === 'foreign') {
    const message = `namespace ${name} exists and does not belong to this tenant${verdict.owner ? ` (it belongs to tenant ${verdict.owner})` : ''}; set spec.namespace to a free name or remove the namespace`;
    d.events.record(tenant, 'Warning', TenantReason.NamespaceConflict, 'Reconcile', message);
    await report(d, tenant, tenant.status?.uid, {
      status: 'False',
      reason: TenantReason.NamespaceConflict,
      message,
    });
    return { requeueAfterMs: FOREIGN_NAMESPACE_RECHECK_MS };
  }
  if (verdict.kind === 'terminating') {
    const message = `namespace ${name} is still being deleted; it will be recreated once it is gone`;
    await report(d, tenant, tenant.status?.uid, {
      status: 'False',
      reason: TenantReason.NamespaceTerminating,
      message,
    });
    return { requeueAfterMs: TERMINATING_RECHECK_MS };
  }

  const uid = tenant.status?.uid ?? (verdict.kind === 'ours' ? verdict.uid : undefined) ?? uniqueUID(d);
  const desired = desiredNamespace(tenant, uid);
  if (!namespaceUpToDate(tenant, existing, desired)) {
    try {
      await d.client.apply(desired);
    } catch (e) {
      const message = `could not apply namespace ${name}: ${describeError(e)}`;
      await report(d, tenant, tenant.status?.uid, {
        status: 'False',
        reason: TenantReason.ApplyFailed,
        message,
      });
      throw e;
    }
    if (verdict.kind === 'absent') {
      d.events.record(
        tenant,
        'Normal',
        TenantReason.NamespaceCreated,
        'Create',
        `created namespace ${name} for tenant UID ${uid}`,
      );
      d.audit.record({
        action: 'tenant.namespace.create',
        outcome: 'Success',
        resource: { kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid },
        tenantUID: uid,
      });
    }
  }
  const primary = await ensurePrimaryKey(d, tenant);
  const account = d.messaging
    ? await reconcileTenantAccount(
        { client: d.client, audit: d.audit, now: () => d.env.now() },
        d.messaging,
        tenant,
        uid,
      )
    : undefined;
  await report(
    d,
    tenant,
    uid,
    { status: 'True', reason: TenantReason.NamespaceCreated, message: `namespace ${name} is ready` },
    primary,
    account,
  );
  if (account?.error) throw account.error;
}

/** A fresh UID unused by any Tenant or retained tenant namespace. */
function uniqueUID(d: TenantDeps): string {
  for (;;) {
    const uid = newTenantUID(d.env.rand);
    if (d.tenants.byIndex(UID_INDEX, uid).length === 0 && d.namespaces.byIndex(UID_INDEX, uid).length === 0)
      return uid;
  }
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

export function tenantUIDIndex(t: Tenant): string[] {
  return t.status?.uid ? [t.status.uid] : [];
}

export function namespaceUIDIndex(ns: Namespace): string[] {
  const uid = ns.metadata.labels?.[TENANT_UID_LABEL];
  return uid ? [uid] : [];
}
