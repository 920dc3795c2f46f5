import type { Tenant } from '../../crds/v1alpha1/index.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { removeFinalizer } from '../runtime/objects.ts';
import { RETAINED_LABEL, TENANT_FINALIZER } from './conditions.ts';
import { desiredNamespace, judgeNamespace, namespaceFor } from './namespace.ts';
import type { TenantDeps } from './reconcile.ts';
import { finalizeTenantAccount } from './account.ts';

/**
 * Runs the Tenant's deletion policy, then lets the Tenant go. `Retain` keeps the namespace and every
 * key in it, marked `palisade.dev/retained=true` and still labelled with the tenant UID, so a Tenant
 * created again under the same name adopts it and its keys. `Delete` deletes the namespace.
 */
export async function finalizeTenant(d: TenantDeps, tenant: Tenant): Promise<void> {
  const name = namespaceFor(tenant);
  const ns = d.namespaces.get(name) ?? (await d.client.get<Namespace>({ kind: 'Namespace', name }));
  const verdict = judgeNamespace(tenant, ns);
  const resource = { kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid };
  const tenantUID = tenant.status?.uid;
  if (verdict.kind === 'ours' && tenant.spec.deletionPolicy === 'Delete') {
    await d.client.delete({ kind: 'Namespace', name }, { propagationPolicy: 'Background' });
    d.events.record(
      tenant,
      'Normal',
      'NamespaceDeleted',
      'Delete',
      `deleted namespace ${name} (deletionPolicy Delete)`,
    );
    d.audit.record({ action: 'tenant.namespace.delete', outcome: 'Success', resource, tenantUID });
  } else if (verdict.kind === 'ours') {
    const uid = verdict.uid ?? tenantUID;
    if (uid) {
      const kept = desiredNamespace({ ...tenant, spec: { ...tenant.spec, deletionPolicy: 'Retain' } }, uid);
      kept.metadata.labels = { ...kept.metadata.labels, [RETAINED_LABEL]: 'true' };
      await d.client.apply(kept);
    }
    d.events.record(
      tenant,
      'Normal',
      'NamespaceRetained',
      'Delete',
      `kept namespace ${name} and its keys (deletionPolicy Retain)`,
    );
    d.audit.record({ action: 'tenant.namespace.retain', outcome: 'Success', resource, tenantUID });
  }
  if (d.messaging) {
    await finalizeTenantAccount(
      { client: d.client, audit: d.audit, now: () => d.env.now() },
      d.messaging,
      tenant,
    );
  }
  await removeFinalizer(d.client, tenant, TENANT_FINALIZER);
}
