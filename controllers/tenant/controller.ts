import type { Tenant, TenantKey } from '../../crds/v1alpha1/index.ts';
import { EntryKind, entryKind, entryUID, IndexKey, isKeystoreEntry } from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import { recordOf, tenantOfNamespace } from '../keystore/tenants.ts';
import { watchMapped } from '../runtime/controller.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Namespace, Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import type { TenantMessagingDeps } from './account.ts';
import type { TenantNamespaceAccess } from './access.ts';
import { PRIMARY_KEY_NAME } from './primarykey.ts';
import type { TenantEnv } from './deps.ts';
import { tenantKind } from './reconcile.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';

const TENANT_CONCURRENCY = 32;

/**
 * Wires the Tenant controller: Tenants; the namespaces Palisade labelled, the primary TenantKeys and the
 * tenant's keystore entries (its record, its account, its revocation list), each mapped back to its
 * Tenant through Palisade's record of the namespace or UID — never through labels.
 */
export function setupTenantController(
  mgr: Manager,
  o: {
    env: TenantEnv;
    keystore: Keystore;
    secrets: ObjectCache<Secret>;
    access: TenantNamespaceAccess;
    messaging?: TenantMessagingDeps;
  },
) {
  const tenants = mgr.informer<Tenant>('Tenant');
  const namespaces = mgr.informer<Namespace>('Namespace', `${MANAGED_BY_LABEL}=${MANAGED_BY}`);
  const tenantKeys = mgr.informer<TenantKey>('TenantKey');
  const ks = o.keystore;
  const deps = {
    client: mgr.client,
    events: mgr.events,
    audit: mgr.audit,
    env: o.env,
    tenants,
    namespaces,
    tenantKeys,
    keystore: ks,
    access: o.access,
    messaging: o.messaging,
  };
  // NB: by Palisade's record of the namespace, not by labels a tenant (or anyone) could have changed.
  const ownerOf = (namespace: string): string[] => {
    const r = tenantOfNamespace(ks, namespace);
    return r ? [r.tenant] : [];
  };
  const tenantOfEntry = (s: Secret): string[] => {
    if (!isKeystoreEntry(s, ks.namespace)) return [];
    const kind = entryKind(s);
    if (kind !== EntryKind.Tenant && kind !== EntryKind.Revocations && kind !== EntryKind.NatsAccount)
      return [];
    return ks.find(IndexKey.tenantByUID(entryUID(s))).map((r) => recordOf(r).tenant);
  };
  return mgr.addController({
    name: 'tenant',
    primary: tenants,
    // NB: a Tenant's reconcile mostly waits: on the API server, on RBAC letting it read the namespace it
    // just made, on the NATS resolver's reply. Profiles of `make bench` show the process half idle at the
    // default 8 in flight; more keys in flight is what a burst of new tenants needs.
    concurrency: TENANT_CONCURRENCY,
    watches: [
      watchMapped(namespaces, (ns) => ownerOf(ns.metadata.name)),
      // The primary TenantKey's readiness is mirrored in the Tenant's PrimaryKeyReady condition.
      watchMapped(tenantKeys, (k) =>
        k.metadata.name === PRIMARY_KEY_NAME ? ownerOf(k.metadata.namespace ?? '') : [],
      ),
      watchMapped(o.secrets, tenantOfEntry),
    ],
    reconcile: reconcilerFor({ cache: tenants, client: mgr.client }, tenantKind(deps)),
  });
}
