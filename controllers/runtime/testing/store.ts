/**
 * The storage of the in-memory API server: objects by kind, namespace and name, with their field
 * ownership; one revision counter for every write (etcd's), so resourceVersions only grow; and watch
 * handlers told of each change as it commits. A write that changes nothing (neither the object nor who
 * owns its fields) keeps its resourceVersion and tells no watcher, as on the real server.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../kube/types.ts';
import type { KindTraits } from './kinds.ts';
import { sameManagers, type Managers } from './ownership.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type WatchHandler = (type: WatchEventType, obj: KubeObject) => void;

export interface Entry {
  readonly object: KubeObject;
  readonly managers: Managers;
  readonly traits: KindTraits;
}

export function storeKey(t: KindTraits, namespace: string | undefined, name: string): string {
  return JSON.stringify([t.type.kind, t.type.namespaced ? (namespace ?? '') : '', name]);
}

export class Store {
  private readonly entries = new Map<string, Entry>();
  private readonly byUid = new Map<string, string>();
  private readonly watchers = new Map<string, Set<WatchHandler>>();
  private revision = 0;

  get resourceVersion(): string {
    return String(this.revision);
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  byUID(uid: string): Entry | undefined {
    const key = this.byUid.get(uid);
    return key === undefined ? undefined : this.entries.get(key);
  }

  /** Every entry of `kind` (all kinds when absent), in key order (namespace, then name), as etcd lists. */
  all(kind?: string): [string, Entry][] {
    const found = [...this.entries].filter(([, e]) => kind === undefined || e.traits.type.kind === kind);
    return found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Stores `object` (a new revision) unless it equals what is stored; returns what is stored now.
   * `object` becomes the store's: callers hand over a copy.
   */
  put(key: string, object: KubeObject, managers: Managers, traits: KindTraits): KubeObject {
    const before = this.entries.get(key);
    if (before) object.metadata.resourceVersion = before.object.metadata.resourceVersion;
    if (before && isDeepStrictEqual(before.object, object) && sameManagers(before.managers, managers))
      return before.object;
    object.metadata.resourceVersion = String(++this.revision);
    this.entries.set(key, { object, managers, traits });
    if (object.metadata.uid) this.byUid.set(object.metadata.uid, key);
    this.emit(before ? 'MODIFIED' : 'ADDED', object);
    return object;
  }

  /** Removes the object for good (a new revision); `last` is its final state, when a write removed it. */
  remove(key: string, last?: KubeObject): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    if (entry.object.metadata.uid) this.byUid.delete(entry.object.metadata.uid);
    const gone = structuredClone(last ?? entry.object);
    gone.metadata.resourceVersion = String(++this.revision);
    this.emit('DELETED', gone);
  }

  watch(kind: string, fn: WatchHandler): () => void {
    let set = this.watchers.get(kind);
    if (!set) this.watchers.set(kind, (set = new Set()));
    set.add(fn);
    return () => void set.delete(fn);
  }

  private emit(type: WatchEventType, obj: KubeObject): void {
    const handlers = this.watchers.get(obj.kind);
    if (!handlers?.size) return;
    const copy = structuredClone(obj);
    for (const h of [...handlers]) {
      try {
        h(type, copy);
      } catch (e) {
        // NB: the write has committed; a failing handler is the test's bug, reported as an uncaught error.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
