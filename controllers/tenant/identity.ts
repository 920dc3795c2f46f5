import type { Tenant } from '../../crds/v1alpha1/index.ts';
import { newTenantUID } from '../crypto/index.ts';
import { RETAINED_LABEL } from '../keystore/entries.ts';
import {
  recordOf,
  tenantOfNamespace,
  tenantRecordSecret,
  uidTaken,
  type TenantRecord,
} from '../keystore/tenants.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { TENANT_LABEL } from '../runtime/objects.ts';
import { TenantReason } from './conditions.ts';
import { namespaceFor } from './namespace.ts';
import type { TenantDeps } from './deps.ts';

export type Identity =
  | {
      ok: true;
      record: TenantRecord;
      adoptedRetained: boolean;
      /** The record was made just now, after a read found no namespace of its name. */
      namespaceAbsent?: boolean;
    }
  | { ok: false; reason: string; message: string };

/**
 * The tenant's identity from Palisade's own record (keystore/tenants.ts), made on first sight. A
 * namespace is this tenant's only if the record says so: an existing namespace Palisade holds no record
 * of is someone else's, whatever its labels say, and a UID held by one record is never given to another.
 * A record kept by an earlier Tenant of the same name (`deletionPolicy: Retain`) is adopted, UID and keys
 * with it — but not by a Tenant whose `deletionPolicy: Delete` would destroy them on its own deletion.
 */
export async function ensureIdentity(d: TenantDeps, tenant: Tenant): Promise<Identity> {
  const ks = d.keystore;
  const name = tenant.metadata.name;
  const namespace = namespaceFor(tenant);
  const held = tenantOfNamespace(ks, namespace);
  if (held) return adopt(d, tenant, held);
  const existing =
    d.namespaces.get(namespace) ?? (await d.client.get<Namespace>({ kind: 'Namespace', name: namespace }));
  if (existing) {
    const labelled = existing.metadata.labels?.[TENANT_LABEL];
    const hint = labelled
      ? ` (its labels name tenant ${labelled}, but labels are not proof of ownership)`
      : '';
    return conflict(
      `namespace ${namespace} exists and Palisade holds no record of creating it for this tenant${hint}; set spec.namespace to a free name or remove the namespace`,
    );
  }
  const uid = tenant.status?.uid ?? freshUID(d);
  if (tenant.status?.uid && uidTaken(ks, uid))
    return conflict(`tenant UID ${uid} in status is held by another tenant's record; it is never shared`);
  const made = await ks.createOnce(
    tenantRecordSecret({
      namespace,
      keystoreNamespace: ks.namespace,
      uid,
      tenant: name,
      created: d.env.now().toISOString(),
    }),
  );
  if (made.created)
    d.audit.record({
      action: 'tenant.record.create',
      outcome: 'Success',
      resource: { kind: 'Tenant', name, uid: tenant.metadata.uid },
      tenantUID: uid,
    });
  const adopted = await adopt(d, tenant, recordOf(made.secret));
  return adopted.ok && made.created ? { ...adopted, namespaceAbsent: true } : adopted;
}

async function adopt(d: TenantDeps, tenant: Tenant, record: TenantRecord): Promise<Identity> {
  if (record.tenant !== tenant.metadata.name)
    return conflict(
      `namespace ${record.namespace} belongs to tenant ${record.tenant} (UID ${record.uid}); set spec.namespace to a free name`,
    );
  if (tenant.status?.uid && tenant.status.uid !== record.uid)
    return conflict(
      `status.uid ${tenant.status.uid} differs from Palisade's record of namespace ${record.namespace} (UID ${record.uid}); the record decides`,
    );
  if (!record.retained) return { ok: true, record, adoptedRetained: false };
  if (tenant.spec.deletionPolicy === 'Delete')
    return {
      ok: false,
      reason: TenantReason.RetainedKeys,
      message: `namespace ${record.namespace} and the keys of tenant UID ${record.uid} were kept by an earlier Tenant ${record.tenant} (deletionPolicy Retain); a Tenant with deletionPolicy Delete would destroy them when deleted, so it does not adopt them: set deletionPolicy: Retain to adopt them`,
    };
  await d.client.jsonPatch(
    { kind: 'Secret', name: record.secret.metadata.name, namespace: d.keystore.namespace },
    [
      { op: 'test', path: '/metadata/resourceVersion', value: record.secret.metadata.resourceVersion },
      { op: 'remove', path: `/metadata/labels/${RETAINED_LABEL.replace('/', '~1')}` },
    ],
  );
  d.audit.record({
    action: 'tenant.record.adopt',
    outcome: 'Success',
    resource: { kind: 'Tenant', name: tenant.metadata.name, uid: tenant.metadata.uid },
    tenantUID: record.uid,
  });
  return { ok: true, record: { ...record, retained: false }, adoptedRetained: true };
}

function conflict(message: string): Identity {
  return { ok: false, reason: TenantReason.NamespaceConflict, message };
}

/** A fresh UID no tenant record holds. */
function freshUID(d: TenantDeps): string {
  for (;;) {
    const uid = newTenantUID(d.env.rand);
    if (!uidTaken(d.keystore, uid)) return uid;
  }
}
