import type { Tenant } from '../../crds/v1alpha1/index.ts';
import type { Informer } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { migrateToKeystore } from './migrate.ts';
import { setupRootKeyRetirement } from './retire.ts';
import { setupKeystoreRewrap } from './rewrap.ts';
import type { Keystore } from './store.ts';

/**
 * Wires the keystore's own work: the upgrade from the layout before it (a start-up task, so no
 * controller ever sees half-moved keys), the one rewrap loop, and root version retirement.
 */
export function setupKeystore(
  mgr: Manager,
  o: { keystore: Keystore; secrets: Informer<Secret>; graceMs?: number; now(): Date },
) {
  const tenants = mgr.informer<Tenant>('Tenant');
  mgr.addStartupTask('keystore-migration', async () => {
    await migrateToKeystore({
      keystore: o.keystore,
      secrets: o.secrets,
      tenants,
      log: mgr.log,
      audit: mgr.audit,
      now: o.now,
    });
  });
  setupKeystoreRewrap(mgr, { keystore: o.keystore, secrets: o.secrets });
  setupRootKeyRetirement(mgr, {
    secrets: o.secrets,
    keystore: o.keystore,
    ...(o.graceMs !== undefined ? { graceMs: o.graceMs } : {}),
  });
}
