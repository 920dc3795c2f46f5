/**
 * Deletion in the in-memory API server: finalizers, namespace termination and owner-reference garbage
 * collection, done at once (synchronously, inside the write that caused them) where the real cluster does
 * them a little later from kube-controller-manager.
 *
 * - An object with finalizers is only marked: `deletionTimestamp` (and `deletionGracePeriodSeconds: 0`)
 *   set, generation bumped for custom resources; it goes when a write removes its last finalizer.
 * - A deleted Namespace turns `Terminating`; everything in it is deleted (each object's finalizers still
 *   hold it), and the Namespace goes once it is empty and has no metadata finalizers.
 * - Garbage collection is background propagation: an object whose every owner reference names an object
 *   that no longer exists (by UID; a namespaced owner only counts in the dependent's namespace) is
 *   deleted, also one created with such references; one that still has an owner loses the references
 *   to the absent ones. `Foreground` and `Orphan` propagation are not
 *   modelled (Palisade uses neither) and are refused.
 */
import type { KubeObject } from '../kube/types.ts';
import { traitsOf } from './kinds.ts';
import { managerKey, updateFields } from './ownership.ts';
import { storeKey, type Entry, type Store } from './store.ts';

const NAMESPACE = traitsOf('Namespace');
const GC_MANAGER = managerKey('generic-garbage-collector', 'Update');

function asObj(o: KubeObject): Record<string, unknown> {
  return o as unknown as Record<string, unknown>;
}

export class Lifecycle {
  private readonly store: Store;
  private readonly now: () => string;
  private collecting = false;

  constructor(store: Store, now: () => string) {
    this.store = store;
    this.now = now;
  }

  /** The namespace, when it exists, and whether it is terminating. */
  namespace(name: string): { terminating: boolean } | undefined {
    const ns = this.store.get(storeKey(NAMESPACE, undefined, name));
    return ns && { terminating: !!ns.object.metadata.deletionTimestamp };
  }

  /** Deletes the object (background propagation), or marks it while finalizers hold it. */
  delete(key: string): void {
    const entry = this.store.get(key);
    if (!entry || entry.object.metadata.deletionTimestamp) return;
    const next = structuredClone(entry.object);
    const isNamespace = entry.traits.type.kind === 'Namespace';
    if (!isNamespace && !next.metadata.finalizers?.length) {
      this.store.remove(key);
    } else {
      next.metadata.deletionTimestamp = this.now();
      if (isNamespace) (next as KubeObject & { status?: object }).status = { phase: 'Terminating' };
      else (next.metadata as { deletionGracePeriodSeconds?: number }).deletionGracePeriodSeconds = 0;
      if (next.metadata.generation !== undefined) next.metadata.generation += 1;
      this.store.put(key, next, entry.managers, entry.traits);
    }
    this.collect();
  }

  /** Stores a write's result; one that removed the last finalizer of a deleted object removes it. */
  settle(key: string, next: KubeObject, entry: Omit<Entry, 'object'>): KubeObject {
    const released =
      !!next.metadata.deletionTimestamp &&
      !next.metadata.finalizers?.length &&
      entry.traits.type.kind !== 'Namespace';
    if (released) this.store.remove(key, next);
    const stored = released ? next : this.store.put(key, next, entry.managers, entry.traits);
    if (released || next.metadata.ownerReferences?.length) this.collect();
    return stored;
  }

  /** Garbage collection and namespace termination, until nothing more changes. */
  collect(): void {
    if (this.collecting) return;
    this.collecting = true;
    try {
      for (let changed = true, round = 0; changed; round++) {
        if (round > 10_000) throw new Error('garbage collection in the fake API server does not settle');
        changed = false;
        for (const [key, e] of this.store.all()) {
          if (this.store.get(key) !== e || e.object.metadata.deletionTimestamp) continue;
          if (this.inTerminatingNamespace(e)) this.delete(key);
          else if (!this.collectGarbage(key, e)) continue;
          changed = true;
        }
        for (const [key, e] of this.store.all('Namespace')) {
          const m = e.object.metadata;
          if (!m.deletionTimestamp || m.finalizers?.length || this.hasContent(m.name)) continue;
          this.store.remove(key);
          changed = true;
        }
      }
    } finally {
      this.collecting = false;
    }
  }

  /**
   * Deletes an object none of whose owners exist any more; drops the references to absent owners of one
   * that still has an owner (the garbage collector patches them away). Returns whether it did either.
   */
  private collectGarbage(key: string, e: Entry): boolean {
    const refs = e.object.metadata.ownerReferences ?? [];
    const present = refs.filter((r) => this.ownerPresent(r.uid, e));
    if (present.length === refs.length) return false;
    if (present.length === 0) {
      this.delete(key);
      return true;
    }
    const next = structuredClone(e.object);
    next.metadata.ownerReferences = present;
    const managers = updateFields(asObj(e.object), asObj(next), e.managers, GC_MANAGER, () => true);
    this.store.put(key, next, managers, e.traits);
    return true;
  }

  private ownerPresent(uid: string, dependent: Entry): boolean {
    const owner = this.store.byUID(uid);
    if (!owner) return false;
    return (
      !owner.traits.type.namespaced || owner.object.metadata.namespace === dependent.object.metadata.namespace
    );
  }

  private inTerminatingNamespace(e: Entry): boolean {
    const ns = e.object.metadata.namespace;
    return e.traits.type.namespaced && ns !== undefined && !!this.namespace(ns)?.terminating;
  }

  private hasContent(namespace: string): boolean {
    return this.store
      .all()
      .some(([, e]) => e.traits.type.namespaced && e.object.metadata.namespace === namespace);
  }
}
