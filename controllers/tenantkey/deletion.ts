import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { removeFinalizer, TENANT_LABEL } from '../runtime/objects.ts';
import { KeyEvent, RETAINED_LABEL, TENANTKEY_FINALIZER } from './conditions.ts';
import type { TenantKeyDeps } from './reconcile.ts';
import { BY_TENANTKEY_INDEX, factsOf } from './secrets.ts';

/**
 * Applies the owning Tenant's `deletionPolicy` to the key's version Secrets, then lets the TenantKey go.
 * `Delete` deletes them; `Retain` (also when the Tenant is gone or unknown: losing keys is the one
 * mistake that cannot be undone) labels them `palisade.dev/retained=true` and leaves them, so a
 * TenantKey created again under the same name adopts them (see docs/keys.md, "lineage").
 */
export async function finalizeTenantKey(d: TenantKeyDeps, tk: TenantKey): Promise<void> {
  const ns = tk.metadata.namespace ?? '';
  const tenantName = d.namespaces.get(ns)?.metadata.labels?.[TENANT_LABEL];
  const tenant = tenantName ? d.tenants.get(tenantName) : undefined;
  const policy = tenant?.spec.deletionPolicy === 'Delete' ? 'Delete' : 'Retain';
  const secrets = d.secrets
    .byIndex(BY_TENANTKEY_INDEX, `${ns}/${tk.metadata.name}`)
    .map((k) => d.secrets.get(k.slice(k.indexOf('/') + 1), ns))
    .filter((s): s is Secret => !!s);
  const resource = { kind: 'TenantKey', name: tk.metadata.name, namespace: ns, uid: tk.metadata.uid };
  const tenantUID = tk.status?.tenantUID;
  for (const s of secrets) {
    const f = factsOf(s);
    if (policy === 'Delete') {
      await d.client.delete(
        { kind: 'Secret', name: s.metadata.name, namespace: ns },
        { uid: s.metadata.uid },
      );
    } else if (s.metadata.labels?.[RETAINED_LABEL] !== 'true') {
      await d.client.jsonPatch({ kind: 'Secret', name: s.metadata.name, namespace: ns }, [
        { op: 'add', path: `/metadata/labels/${RETAINED_LABEL.replace('/', '~1')}`, value: 'true' },
      ]);
    } else continue;
    const action = policy === 'Delete' ? 'tenantkey.destroy' : 'tenantkey.retain';
    d.audit.record({ action, outcome: 'Success', resource, tenantUID, keyId: f.keyId, version: f.version });
  }
  const note =
    policy === 'Delete'
      ? `deleted ${secrets.length} key Secret(s) (Tenant deletionPolicy Delete)`
      : `kept ${secrets.length} key Secret(s), labelled ${RETAINED_LABEL}=true (deletionPolicy Retain)`;
  d.events.record(tk, 'Normal', policy === 'Delete' ? KeyEvent.Destroyed : KeyEvent.Retained, 'Delete', note);
  await removeFinalizer(d.client, tk, TENANTKEY_FINALIZER);
}
