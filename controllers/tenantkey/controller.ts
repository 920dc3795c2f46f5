import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import type { RootKeyring } from '../installation/keyring.ts';
import { Component, versionOf } from '../installation/secrets.ts';
import {
  EntryKind,
  entryKind,
  isKeystoreEntry,
  TENANT_NAMESPACE_LABEL,
  TENANTKEY_LABEL,
} from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import { watchMapped } from '../runtime/controller.ts';
import { objectKey, type Secret } from '../runtime/kube/types.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import type { TenantKeyEnv } from './deps.ts';
import { tenantKeyKind } from './reconcile.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';

export interface TenantKeyOptions {
  env: TenantKeyEnv;
  keystore: Keystore;
  /** The operator's labelled-Secret informer (the only one). */
  secrets: ObjectCache<Secret>;
  concurrency?: number;
}

const ROOT_WAIT_MS = 60_000;
const TENANTKEY_CONCURRENCY = 32;

/**
 * Wires the TenantKey controller. Keystore entries map to their TenantKey by their labels (entries are
 * read only from the keystore's namespace); a root key version that appears, vanishes or comes back
 * re-checks the keys it wraps; a tenant record re-checks the keys of its namespace. The
 * controller starts only once the root key is visible in the Secret informer.
 */
export function setupTenantKeyController(mgr: Manager, o: TenantKeyOptions) {
  const tenantKeys = mgr.informer<TenantKey>('TenantKey');
  const ks = o.keystore;
  mgr.addStartupTask('root-key-visible', () => waitForRootKey(mgr, ks.rootKeys));
  const deps = {
    client: mgr.client,
    events: mgr.events,
    audit: mgr.audit,
    env: o.env,
    tenantKeys,
    keystore: ks,
  };
  const isRoot = (s: Secret) =>
    s.metadata.namespace === ks.namespace && s.metadata.labels?.[COMPONENT_LABEL] === Component.RootKey;
  const keyOfEntry = (e: Secret) =>
    `${e.metadata.labels?.[TENANT_NAMESPACE_LABEL] ?? ''}/${e.metadata.labels?.[TENANTKEY_LABEL] ?? ''}`;
  // NB: a root version that appears, vanishes or comes back concerns only the keys it wraps (an index
  // lookup): a rotation's new version wraps nothing yet, and each key is re-checked as it is rewrapped.
  const keysWrappedBy = (root: Secret): string[] =>
    ks
      .referencesOf(versionOf(root))
      .map((k) => ks.get(k.slice(k.indexOf('/') + 1)))
      .filter((e): e is Secret => !!e && entryKind(e) === EntryKind.TenantKey)
      .map(keyOfEntry);
  const keysOf = (s: Secret): string[] => {
    if (isRoot(s)) return keysWrappedBy(s);
    if (!isKeystoreEntry(s, ks.namespace)) return [];
    const ns = s.metadata.labels?.[TENANT_NAMESPACE_LABEL] ?? '';
    if (entryKind(s) === EntryKind.Tenant) return tenantKeys.list(ns).map((k) => objectKey(k.metadata));
    if (entryKind(s) === EntryKind.TenantKey) return [keyOfEntry(s)];
    return [];
  };
  return mgr.addController({
    name: 'tenantkey',
    primary: tenantKeys,
    // NB: a burst of new Tenants is a burst of primary keys, and a Tenant's first status waits for its key
    // (tenant/reconcile.ts PRIMARY_KEY_SETTLE_MS): with 8 in flight against the Tenants' 32, the keys fell
    // behind, and at 10,000 Tenants a third of them waited out the settle time and wrote a status twice.
    concurrency: o.concurrency ?? TENANTKEY_CONCURRENCY,
    watches: [watchMapped(o.secrets, keysOf)],
    reconcile: reconcilerFor({ cache: tenantKeys, client: mgr.client }, tenantKeyKind(deps)),
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
