import { Gauge } from 'prom-client';
import { watchMapped } from '../runtime/controller.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { Component, secretName } from '../installation/secrets.ts';
import {
  COMPONENT_LABEL_SELECTOR,
  isKeystoreEntry,
  ROOT_KEY_VERSION_LABEL,
  WRAPPED_KINDS,
  entryKind,
  wrappedByRootVersion,
} from './entries.ts';
import type { Keystore } from './store.ts';

export interface RetirementOptions {
  secrets: ObjectCache<Secret>;
  keystore: Keystore;
  /**
   * How long a non-active root version must have had nothing wrapped by it before it is deleted: covers
   * a write in flight that read the keyring before the new version appeared (default 30 s).
   */
  graceMs?: number;
}

const ROOT_PREFIX = `${secretName(Component.RootKey)}-v`;

/**
 * Retires old root key versions. The one rule of what references a root version: a wrapped keystore
 * entry (in the keystore's namespace; nothing else counts, so a Secret elsewhere that merely carries the
 * label can neither block retirement nor be touched). A version R below the active one is deleted only
 * when (1) the keystore's root-version index has nothing under R, (2) it stayed empty for the grace
 * period, and (3) a live list of the keystore from the API server agrees. Progress is the gauge
 * `palisade_rootkey_rewrap_pending{root_version}`: keystore entries still wrapped by each old version.
 */
export function setupRootKeyRetirement(mgr: Manager, o: RetirementOptions) {
  const ks = o.keystore;
  const namespace = ks.namespace;
  const rootKeys = ks.rootKeys;
  const pending = new Gauge({
    name: 'palisade_rootkey_rewrap_pending',
    help: 'Keystore entries still wrapped by a root key version older than the active one, by root version.',
    labelNames: ['root_version'] as const,
    registers: [mgr.metrics.registry],
  });
  const graceMs = o.graceMs ?? 30_000;
  const emptySince = new Map<number, number>();
  const rootKey = (v: number) => `${namespace}/${ROOT_PREFIX}${v}`;

  const reconcile = async (key: string) => {
    const active = rootKeys.versions().at(-1)?.version ?? 0;
    for (const r of rootKeys.versions())
      if (r.version < active)
        pending.set({ root_version: String(r.version) }, ks.referencesOf(r.version).length);
    const root = rootKeys.versions().find((r) => key === rootKey(r.version));
    if (!root || root.version >= active) return;
    if (ks.referencesOf(root.version).length > 0) {
      emptySince.delete(root.version);
      return;
    }
    const since = emptySince.get(root.version) ?? mgr.clock.now();
    emptySince.set(root.version, since);
    const wait = since + graceMs - mgr.clock.now();
    if (wait > 0) return { requeueAfterMs: wait };
    const live = await mgr.client.list<Secret>('Secret', {
      namespace,
      labelSelector: `${COMPONENT_LABEL_SELECTOR},${ROOT_KEY_VERSION_LABEL}=${root.version}`,
    });
    if (live.items.some((s) => WRAPPED_KINDS.has(entryKind(s)))) {
      emptySince.delete(root.version);
      return { requeueAfterMs: graceMs };
    }
    const secret = o.secrets.get(`${ROOT_PREFIX}${root.version}`, namespace);
    if (!secret) return;
    await mgr.client.delete(
      { kind: 'Secret', name: secret.metadata.name, namespace },
      { uid: secret.metadata.uid },
    );
    pending.remove({ root_version: String(root.version) });
    emptySince.delete(root.version);
    const note = `retired root key version ${root.version}: nothing is wrapped by it any more (active: ${active})`;
    mgr.events.record(secret, 'Normal', 'RootKeyRetired', 'Delete', note);
    mgr.audit.record({
      action: 'root-key.retire',
      outcome: 'Success',
      resource: { kind: 'Secret', name: secret.metadata.name, namespace },
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
        const r =
          isKeystoreEntry(s, namespace) && WRAPPED_KINDS.has(entryKind(s)) ? wrappedByRootVersion(s) : 0;
        const newRoot = s.metadata.namespace === namespace && s.metadata.name.startsWith(ROOT_PREFIX);
        return [
          ...(r ? [rootKey(r)] : []),
          ...(newRoot ? rootKeys.versions().map((v) => rootKey(v.version)) : []),
        ];
      }),
    ],
    reconcile,
  });
}
