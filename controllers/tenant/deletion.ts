import type { Tenant } from '../../crds/v1alpha1/index.ts';
import { RETAINED_LABEL } from '../keystore/entries.ts';
import { tenantOfNamespace } from '../keystore/tenants.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { desiredNamespace, namespaceFor } from './namespace.ts';
import type { TenantDeps } from './deps.ts';
import { finalizeTenantAccount } from './account.ts';

/**
 * Runs the Tenant's deletion policy, then lets the Tenant go — only for what Palisade's record says is
 * this tenant's. `Retain` keeps the namespace, the record and every keystore entry (the record is marked
 * retained, so a Tenant created again under the same name adopts UID and keys). `Delete` is the explicit
 * destroy: the namespace is deleted and so is everything the keystore holds for the tenant's UID. The
 * driver removes the finalizer afterwards.
 */
export async function finalizeTenant(d: TenantDeps, tenant: Tenant): Promise<void> {
  const name = namespaceFor(tenant);
  const record = tenantOfNamespace(d.keystore, name);
  const ours = !!record && record.tenant === tenant.metadata.name && !record.retained;
  const resource = { kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid };
  if (ours && d.messaging) {
    await finalizeTenantAccount(
      { client: d.client, audit: d.audit, now: () => d.env.now(), keystore: d.keystore },
      d.messaging,
      tenant,
      record.uid,
    );
  }
  if (ours && tenant.spec.deletionPolicy === 'Delete') {
    // NB: stop reading the namespace before it goes, so no watch there ends in a refusal.
    await d.access.revoke(name);
    const ns = d.namespaces.get(name) ?? (await d.client.get<Namespace>({ kind: 'Namespace', name }));
    if (ns) await d.client.delete({ kind: 'Namespace', name }, { propagationPolicy: 'Background' });
    // NB: a live list, not the cache: an entry written a moment ago must not be left behind. The record
    // goes last: until then a crash retries with the same identity.
    const entries = await d.keystore.liveEntriesOf(record.uid);
    const sorted = [...entries.filter((s) => s.metadata.name !== record.secret.metadata.name), record.secret];
    await d.keystore.delete(sorted);
    const note = `deleted namespace ${name} and ${entries.length} keystore entr${entries.length === 1 ? 'y' : 'ies'} (deletionPolicy Delete)`;
    d.events.record(tenant, 'Normal', 'NamespaceDeleted', 'Delete', note);
    d.audit.record({
      action: 'tenant.destroy',
      outcome: 'Success',
      resource,
      tenantUID: record.uid,
      reason: note,
    });
  } else if (ours) {
    const kept = desiredNamespace(
      { ...tenant, spec: { ...tenant.spec, deletionPolicy: 'Retain' } },
      record.uid,
    );
    kept.metadata.labels = { ...kept.metadata.labels, [RETAINED_LABEL]: 'true' };
    const ns = d.namespaces.get(name) ?? (await d.client.get<Namespace>({ kind: 'Namespace', name }));
    if (ns && !ns.metadata.deletionTimestamp) await d.client.apply(kept);
    // A retained namespace is no longer Palisade's to manage: its Secret rights go with the Tenant.
    await d.access.revoke(name);
    await d.client.jsonPatch(
      { kind: 'Secret', name: record.secret.metadata.name, namespace: d.keystore.namespace },
      [{ op: 'add', path: `/metadata/labels/${RETAINED_LABEL.replace('/', '~1')}`, value: 'true' }],
    );
    d.events.record(
      tenant,
      'Normal',
      'NamespaceRetained',
      'Delete',
      `kept namespace ${name} and its keys (deletionPolicy Retain)`,
    );
    d.audit.record({
      action: 'tenant.namespace.retain',
      outcome: 'Success',
      resource,
      tenantUID: record.uid,
    });
  }
}
