import type { Tenant } from '../../crds/v1alpha1/index.ts';
import { isNotFound } from '../runtime/errors.ts';
import { awaitReadableNamespaces, type NamespacedInformer } from '../runtime/namespaced.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { moveCompleted, recordMoveCompleted } from './layout.ts';
import { migrateToKeystore } from './migrate.ts';
import { setupRootKeyRetirement } from './retire.ts';
import { setupKeystoreRewrap } from './rewrap.ts';
import type { Keystore } from './store.ts';

const MIGRATION_HOLD = 'keystore-migration';

/**
 * Wires the keystore's own work: the upgrade from the layout before it (a start-up task, so no
 * controller ever sees half-moved keys), the one rewrap loop, and root version retirement.
 */
export function setupKeystore(
  mgr: Manager,
  o: {
    keystore: Keystore;
    secrets: NamespacedInformer<Secret>;
    /** Gives Palisade Secret rights in a tenant namespace and then watches it (the tenant kind's access). */
    access: { grant(namespace: string): Promise<void> };
    graceMs?: number;
    now(): Date;
  },
) {
  const tenants = mgr.informer<Tenant>('Tenant');
  // A recorded tenant's namespace may be gone: it holds nothing to move.
  const grantUnlessGone = (ns: string) =>
    o.access.grant(ns).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  mgr.addStartupTask('keystore-migration', async () => {
    const completed = await moveCompleted(mgr.client, o.keystore.namespace, 'keystore');
    // NB: an earlier layout's keys may be in any tenant namespace (a start that crashed mid-move left some
    // behind), so every managed namespace's Secrets are read while the move runs, not only those where
    // Palisade keeps Secrets now (mgr.secretHolders).
    const held: string[] = [];
    const watchNamespaces = async (namespaces: string[]) => {
      // NB: granted (RoleBinding, then readable) before watched: a watch started first is refused.
      for (const ns of namespaces) await grantUnlessGone(ns);
      for (const ns of mgr.namespaces.list()) {
        held.push(ns);
        mgr.secretHolders.hold(ns, MIGRATION_HOLD, true);
      }
      // NB: one that cannot be read yet may hold keys of the earlier layout, and no controller may start
      // before they are moved.
      await awaitReadableNamespaces(o.secrets, mgr.client);
    };
    try {
      await migrateToKeystore({
        keystore: o.keystore,
        secrets: o.secrets,
        tenants,
        log: mgr.log,
        audit: mgr.audit,
        now: o.now,
        watchNamespaces,
        recordsOnly: completed,
      });
      if (!completed) await recordMoveCompleted(mgr.client, o.keystore.namespace, 'keystore', o.now());
    } finally {
      for (const ns of held) mgr.secretHolders.hold(ns, MIGRATION_HOLD, false);
    }
  });
  setupKeystoreRewrap(mgr, { keystore: o.keystore, secrets: o.secrets });
  setupRootKeyRetirement(mgr, {
    secrets: o.secrets,
    keystore: o.keystore,
    ...(o.graceMs !== undefined ? { graceMs: o.graceMs } : {}),
  });
}
