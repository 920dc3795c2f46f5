import { watchMapped } from '../runtime/controller.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { Component } from '../installation/secrets.ts';
import {
  EntryKind,
  entryKind,
  entryUID,
  slotLookup,
  isKeystoreEntry,
  SLOT_LABEL,
  TENANT_NAMESPACE_LABEL,
  TENANTKEY_LABEL,
  VERSION_LABEL,
  WRAPPED_KINDS,
  wrappedByRootVersion,
} from './entries.ts';
import type { Keystore } from './store.ts';

/**
 * The one rewrap loop: every wrapped keystore entry (tenant key versions, NATS account seeds, whatever
 * is added later) is brought to the active root version, one slot at a time (`Keystore.rewrapSlot`). A
 * new root version enqueues every slot an older version still wraps (an index lookup per old version,
 * not a scan); a new or changed entry enqueues its own slot; a resync re-checks the slots an older version
 * still wraps. Progress is visible per object (TenantKey
 * `RootKeyCurrent`) and in total (`palisade_rootkey_rewrap_pending`, keystore/retire.ts).
 */
export function setupKeystoreRewrap(
  mgr: Manager,
  o: { keystore: Keystore; secrets: ObjectCache<Secret>; concurrency?: number },
) {
  const ks = o.keystore;
  const slotOf = (s: Secret) => s.metadata.labels?.[SLOT_LABEL] ?? '';
  // NB: a key is the slot and where its wraps are found (`<slot> <index key>`, the index key of its
  // TenantKey or NATS account), so no index of slots is kept.
  const keyOf = (s: Secret) => {
    const lookup = slotLookup(s);
    const slot = slotOf(s);
    return lookup && slot ? `${slot} ${lookup}` : undefined;
  };
  /** The slots an older root version still wraps (an index lookup per old version, not a scan). */
  const staleSlots = (): string[] => {
    const roots = ks.rootKeys.versions();
    const active = roots.at(-1)?.version ?? 0;
    const slots = new Set<string>();
    for (const r of roots)
      if (r.version < active)
        for (const k of ks.referencesOf(r.version)) {
          const e = ks.get(k.slice(k.indexOf('/') + 1));
          const key = e && keyOf(e);
          if (key) slots.add(key);
        }
    return [...slots];
  };
  const map = (s: Secret): string[] => {
    if (isKeystoreEntry(s, ks.namespace) && WRAPPED_KINDS.has(entryKind(s))) {
      const key = keyOf(s);
      return key ? [key] : [];
    }
    const isRoot =
      s.metadata.namespace === ks.namespace && s.metadata.labels?.[COMPONENT_LABEL] === Component.RootKey;
    return isRoot ? staleSlots() : [];
  };
  return mgr.addController({
    name: 'keystore-rewrap',
    // NB: the keys are slots, not Secrets: a Secret event that concerns no slot costs no reconcile.
    resyncKeys: staleSlots,
    concurrency: o.concurrency ?? 8,
    watches: [watchMapped(o.secrets, map)],
    reconcile: async (key) => {
      const slot = key.slice(0, key.indexOf(' '));
      const wraps = ks.find(key.slice(key.indexOf(' ') + 1)).filter((s) => slotOf(s) === slot);
      const newest = [...wraps].sort((a, b) => wrappedByRootVersion(b) - wrappedByRootVersion(a))[0];
      if (!newest) return;
      const before = wrappedByRootVersion(newest);
      const writes = await ks.rewrapSlot(slot, wraps);
      const after = ks.rootKeys.active().version;
      if (writes === 0 || before >= after) return;
      const l = newest.metadata.labels ?? {};
      const kind = entryKind(newest);
      mgr.audit.record({
        action: kind === EntryKind.TenantKey ? 'tenantkey.rewrap' : 'nats.account.rewrap',
        outcome: 'Success',
        resource:
          kind === EntryKind.TenantKey
            ? {
                kind: 'TenantKey',
                name: l[TENANTKEY_LABEL] ?? '',
                namespace: l[TENANT_NAMESPACE_LABEL] ?? '',
              }
            : { kind: 'Secret', name: slot, namespace: ks.namespace },
        tenantUID: entryUID(newest),
        ...(kind === EntryKind.TenantKey ? { version: Number(l[VERSION_LABEL]) || undefined } : {}),
        reason: `rewrapped from root key version ${before} to ${after}`,
      });
    },
  });
}
