import type { Tenant } from '../../crds/v1alpha1/index.ts';
import { watchMapped } from '../runtime/controller.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL } from '../runtime/objects.ts';
import {
  namespaceUIDIndex,
  reconcileTenant,
  tenantUIDIndex,
  UID_INDEX,
  type TenantEnv,
} from './reconcile.ts';

/** Wires the Tenant controller: Tenants, and the namespaces Palisade labelled, mapped back to their Tenant. */
export function setupTenantController(mgr: Manager, env: TenantEnv) {
  const tenants = mgr.informer<Tenant>('Tenant');
  const namespaces = mgr.informer<Namespace>('Namespace', `${MANAGED_BY_LABEL}=${MANAGED_BY}`);
  tenants.addIndex(UID_INDEX, tenantUIDIndex);
  namespaces.addIndex(UID_INDEX, namespaceUIDIndex);
  const deps = { client: mgr.client, events: mgr.events, audit: mgr.audit, env, tenants, namespaces };
  return mgr.addController({
    name: 'tenant',
    primary: tenants,
    watches: [
      watchMapped(namespaces, (ns) => {
        const owner = ns.metadata.labels?.[TENANT_LABEL];
        return owner ? [owner] : [];
      }),
    ],
    reconcile: (key) => reconcileTenant(deps, key),
  });
}
