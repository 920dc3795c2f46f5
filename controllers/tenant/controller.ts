import type { Tenant, TenantKey } from '../../crds/v1alpha1/index.ts';
import { watchMapped } from '../runtime/controller.ts';
import type { Manager } from '../runtime/manager.ts';
import type { Namespace } from '../runtime/kube/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, TENANT_LABEL } from '../runtime/objects.ts';
import { PRIMARY_KEY_NAME } from './primarykey.ts';
import type { TenantMessagingDeps } from './account.ts';
import { NatsComponent } from '../nats/secrets.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import {
  namespaceUIDIndex,
  reconcileTenant,
  tenantUIDIndex,
  UID_INDEX,
  type TenantEnv,
} from './reconcile.ts';

/** Wires the Tenant controller: Tenants, and the namespaces Palisade labelled, mapped back to their Tenant. */
export function setupTenantController(mgr: Manager, env: TenantEnv, messaging?: TenantMessagingDeps) {
  const tenants = mgr.informer<Tenant>('Tenant');
  const namespaces = mgr.informer<Namespace>('Namespace', `${MANAGED_BY_LABEL}=${MANAGED_BY}`);
  tenants.addIndex(UID_INDEX, tenantUIDIndex);
  namespaces.addIndex(UID_INDEX, namespaceUIDIndex);
  const tenantKeys = mgr.informer<TenantKey>('TenantKey');
  const deps = {
    client: mgr.client,
    events: mgr.events,
    audit: mgr.audit,
    env,
    tenants,
    namespaces,
    tenantKeys,
    messaging,
  };
  return mgr.addController({
    name: 'tenant',
    primary: tenants,
    watches: [
      watchMapped(namespaces, (ns) => {
        const owner = ns.metadata.labels?.[TENANT_LABEL];
        return owner ? [owner] : [];
      }),
      // The primary TenantKey's readiness is mirrored in the Tenant's PrimaryKeyReady condition.
      watchMapped(tenantKeys, (k) => {
        const owner = k.metadata.labels?.[TENANT_LABEL];
        return owner && k.metadata.name === PRIMARY_KEY_NAME ? [owner] : [];
      }),
      // A changed revocation list goes into the tenant's account JWT.
      ...(messaging
        ? [
            watchMapped(messaging.secrets, (s) => {
              const owner = s.metadata.labels?.[TENANT_LABEL];
              return owner && s.metadata.labels?.[COMPONENT_LABEL] === NatsComponent.Revocations
                ? [owner]
                : [];
            }),
          ]
        : []),
    ],
    reconcile: (key) => reconcileTenant(deps, key),
  });
}
