import type { Tenant, TenantKey } from '../../crds/v1alpha1/index.ts';
import type { RootKeyring } from '../installation/keyring.ts';
import { Component } from '../installation/secrets.ts';
import { watchMapped } from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import { objectKey, type Namespace, type Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import { reconcileTenantKey, type TenantKeyEnv } from './reconcile.ts';
import { BY_TENANTKEY_INDEX, tenantKeyIndex } from './secrets.ts';

export interface TenantKeyOptions {
  env: TenantKeyEnv;
  rootKeys: RootKeyring;
  /** The operator's labelled-Secret informer (the only one). */
  secrets: Informer<Secret>;
  /** The operator's namespace, where the root key versions live. */
  namespace: string;
  concurrency?: number;
}

const ROOT_WAIT_MS = 60_000;

/**
 * Wires the TenantKey controller. Version Secrets map to their TenantKey through an index; a change to
 * a root key version (rotation, restore, retirement) re-checks every TenantKey; a tenant namespace's
 * labels (the tenant UID) re-check the keys in it. The controller starts only once the root key is
 * visible in the Secret informer, so no reconcile ever sees "no root key".
 */
export function setupTenantKeyController(mgr: Manager, o: TenantKeyOptions) {
  const tenantKeys = mgr.informer<TenantKey>('TenantKey');
  const namespaces = mgr.informer<Namespace>('Namespace', `${MANAGED_BY_LABEL}=${MANAGED_BY}`);
  const tenants = mgr.informer<Tenant>('Tenant');
  o.secrets.addIndex(BY_TENANTKEY_INDEX, tenantKeyIndex);
  mgr.addStartupTask('root-key-visible', () => waitForRootKey(mgr, o.rootKeys));
  const deps = {
    client: mgr.client,
    events: mgr.events,
    audit: mgr.audit,
    env: o.env,
    tenantKeys,
    secrets: o.secrets,
    namespaces,
    tenants,
    rootKeys: o.rootKeys,
  };
  const isRoot = (s: Secret) =>
    s.metadata.namespace === o.namespace && s.metadata.labels?.[COMPONENT_LABEL] === Component.RootKey;
  return mgr.addController({
    name: 'tenantkey',
    primary: tenantKeys,
    concurrency: o.concurrency ?? 8,
    watches: [
      watchMapped(o.secrets, (s) =>
        isRoot(s) ? tenantKeys.list().map((k) => objectKey(k.metadata)) : tenantKeyIndex(s),
      ),
      watchMapped(namespaces, (ns) => tenantKeys.list(ns.metadata.name).map((k) => objectKey(k.metadata))),
    ],
    reconcile: (key) => reconcileTenantKey(deps, key),
  });
}

/** The installation-keys task created the root key; wait until the informer has seen it too. */
async function waitForRootKey(mgr: Manager, rootKeys: RootKeyring): Promise<void> {
  const deadline = mgr.clock.now() + ROOT_WAIT_MS;
  while (rootKeys.versions().length === 0) {
    if (mgr.clock.now() > deadline) throw new Error('the root key is not visible in the Secret informer yet');
    await new Promise<void>((r) => mgr.clock.setTimer(100, r));
  }
}
