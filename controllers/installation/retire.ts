import { Gauge } from 'prom-client';
import { watchMapped } from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import type { RootKeyring } from './keyring.ts';
import {
  ROOT_KEY_VERSION_INDEX,
  ROOT_KEY_VERSION_LABEL,
  rootKeyVersionIndex,
  wrappedByRootVersion,
} from './rootversion.ts';
import { Component, secretName } from './secrets.ts';

export interface RetirementOptions {
  secrets: Informer<Secret>;
  rootKeys: RootKeyring;
  namespace: string;
  /**
   * How long a non-active root version must have had nothing wrapped by it before it is deleted: covers
   * a write in flight that read the keyring before the new version appeared (default 30 s).
   */
  graceMs?: number;
}

const ROOT_PREFIX = `${secretName(Component.RootKey)}-v`;

/**
 * Retires old root key versions. A version R below the active one is deleted only when (1) the
 * root-key-version index of the labelled-Secret informer has nothing under R, (2) it stayed empty for
 * the grace period, and (3) a live, label-selected list from the API server agrees. Progress is the
 * gauge `palisade_rootkey_rewrap_pending{root_version}`: Secrets still wrapped by each old version.
 */
export function setupRootKeyRetirement(mgr: Manager, o: RetirementOptions) {
  o.secrets.addIndex(ROOT_KEY_VERSION_INDEX, rootKeyVersionIndex);
  const pending = new Gauge({
    name: 'palisade_rootkey_rewrap_pending',
    help: 'Secrets still wrapped by a root key version older than the active one, by root version.',
    labelNames: ['root_version'] as const,
    registers: [mgr.metrics.registry],
  });
  const graceMs = o.graceMs ?? 30_000;
  const emptySince = new Map<number, number>();
  const rootKey = (v: number) => `${o.namespace}/${ROOT_PREFIX}${v}`;

  const reconcile = async (key: string) => {
    const active = o.rootKeys.versions().at(-1)?.version ?? 0;
    for (const r of o.rootKeys.versions())
      if (r.version < active)
        pending.set(
          { root_version: String(r.version) },
          o.secrets.byIndex(ROOT_KEY_VERSION_INDEX, String(r.version)).length,
        );
    const root = o.rootKeys.versions().find((r) => key === rootKey(r.version));
    if (!root || root.version >= active) return;
    if (o.secrets.byIndex(ROOT_KEY_VERSION_INDEX, String(root.version)).length > 0) {
      emptySince.delete(root.version);
      return;
    }
    const since = emptySince.get(root.version) ?? mgr.clock.now();
    emptySince.set(root.version, since);
    const wait = since + graceMs - mgr.clock.now();
    if (wait > 0) return { requeueAfterMs: wait };
    const live = await mgr.client.list<Secret>('Secret', {
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${ROOT_KEY_VERSION_LABEL}=${root.version}`,
    });
    if (live.items.length > 0) {
      emptySince.delete(root.version);
      return { requeueAfterMs: graceMs };
    }
    const secret = o.secrets.get(`${ROOT_PREFIX}${root.version}`, o.namespace);
    if (!secret) return;
    await mgr.client.delete(
      { kind: 'Secret', name: secret.metadata.name, namespace: o.namespace },
      { uid: secret.metadata.uid },
    );
    pending.remove({ root_version: String(root.version) });
    emptySince.delete(root.version);
    const note = `retired root key version ${root.version}: nothing is wrapped by it any more (active: ${active})`;
    mgr.events.record(secret, 'Normal', 'RootKeyRetired', 'Delete', note);
    mgr.audit.record({
      action: 'root-key.retire',
      outcome: 'Success',
      resource: { kind: 'Secret', name: secret.metadata.name, namespace: o.namespace },
      version: root.version,
      keyId: root.keyId,
    });
  };

  return mgr.addController({
    name: 'root-key-retirement',
    primary: o.secrets,
    concurrency: 1,
    watches: [
      watchMapped(o.secrets, (s) => {
        const r = wrappedByRootVersion(s);
        const newRoot = s.metadata.namespace === o.namespace && s.metadata.name.startsWith(ROOT_PREFIX);
        return [
          ...(r ? [rootKey(r)] : []),
          ...(newRoot ? o.rootKeys.versions().map((v) => rootKey(v.version)) : []),
        ];
      }),
    ],
    reconcile,
  });
}
