import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import { IndexKey } from '../keystore/entries.ts';
import { tenantOfNamespace } from '../keystore/tenants.ts';
import { KeyEvent } from './conditions.ts';
import type { TenantKeyDeps } from './deps.ts';

/**
 * Deleting a TenantKey never destroys its versions: they stay in the keystore, and a TenantKey created
 * again under the same name in the same tenant adopts them (see docs/keys.md, "lineage"). Key material is
 * lost only by an explicit destroy in a spec: `destroyBelowVersion`, or deleting the Tenant with
 * `deletionPolicy: Delete`. The finalizer only makes the deletion visible (Event, audit); the driver then removes it.
 */
export async function finalizeTenantKey(d: TenantKeyDeps, tk: TenantKey): Promise<void> {
  const ns = tk.metadata.namespace ?? '';
  const uid = tenantOfNamespace(d.keystore, ns)?.uid;
  const kept = uid ? d.keystore.find(IndexKey.key(uid, tk.metadata.name)).length : 0;
  d.audit.record({
    action: 'tenantkey.retain',
    outcome: 'Success',
    resource: { kind: 'TenantKey', name: tk.metadata.name, namespace: ns, uid: tk.metadata.uid },
    tenantUID: uid,
    reason: `${kept} keystore entr${kept === 1 ? 'y' : 'ies'} kept`,
  });
  const note = `kept ${kept} keystore entr${kept === 1 ? 'y' : 'ies'}: a TenantKey of the same name adopts them; only an explicit destroy (destroyBelowVersion, or the Tenant deleted with deletionPolicy Delete) removes key material`;
  d.events.record(tk, 'Normal', KeyEvent.Retained, 'Delete', note);
}
