import type { Clock, Timer } from './clock.ts';
import { internObject } from './intern.ts';
import type { KubeClient } from './kube/client.ts';
import { resourceFor, resourcePath } from './kube/resources.ts';
import { objectKey, splitKey, type KubeObject } from './kube/types.ts';
import { LongWatch } from './kube/watch.ts';
import { ListWatch } from './listwatch.ts';
import { CompactStore } from './store.ts';

export type IndexFn<T> = (obj: T) => string[];
/** `old`: on an update, the object the cache held before; on a delete, the one it held last. */
export type Handler<T> = (obj: T, old?: T) => void;

/**
 * What controllers read and watch: a cache of one kind with handlers and secondary indexes. An
 * {@link Informer} (one list+watch) or a NamespacedInformer (one per namespace Palisade may read).
 */
export interface ObjectCache<T extends KubeObject> {
  readonly kind: string;
  on(event: 'add' | 'update' | 'delete', fn: Handler<T>): void;
  /** At any time (what the cache holds is indexed at once); a name added before keeps its function. */
  addIndex(name: string, fn: IndexFn<T>): void;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): T[];
  /** Keys (`ns/name`, or `name`) of the objects (in `namespace`, when given): {@link list} without reading them. */
  keys(namespace?: string): string[];
  /** Keys (`ns/name`) of the objects whose index `name` contains `value`. */
  byIndex(name: string, value: string): string[];
  hasSynced(): boolean;
  waitForSync(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface InformerOptions {
  kind: string;
  labelSelector?: string;
  /** Watch one namespace only (so a namespaced Role suffices); all namespaces when absent. */
  namespace?: string;
  clock: Clock;
  onError?: (kind: string, err: unknown, retryInMs: number) => void;
  /**
   * What objects of this kind have in common, as JSON text: the cache then keeps each object compacted
   * against it (store.ts CompactStore) instead of as objects.
   */
  dictionary?: string;
  /** Restart backoff bounds after a failed list or watch. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * A cache of one kind kept current by list+watch ({@link ListWatch}), which survives what that loop
 * does not: a list or watch error (apiserver down, restarted, network) stops it, so this wrapper
 * restarts it with capped exponential backoff. A 410 Gone resumes with a fresh list; objects that
 * vanished while disconnected are reported as deletes by the relist.
 *
 * Secondary indexes (`addIndex`) answer "which objects reference X" without scanning the cache.
 */
export class Informer<T extends KubeObject> implements ObjectCache<T> {
  readonly kind: string;
  private readonly lw: ListWatch<T>;
  private readonly opts: InformerOptions;
  private readonly indexer = new Indexer<T>();
  private readonly handlers: { add: Handler<T>[]; update: Handler<T>[]; delete: Handler<T>[] } = {
    add: [],
    update: [],
    delete: [],
  };
  private synced = false;
  private errors = 0;
  private stopped = false;
  private failures = 0;
  private retryTimer: Timer | undefined;
  private syncWaiters: (() => void)[] = [];

  constructor(client: KubeClient, opts: InformerOptions) {
    this.kind = opts.kind;
    this.opts = opts;
    const type = resourceFor(opts.kind);
    const path = resourcePath(type, opts.namespace);
    // NB: a compact store keeps no object, so sharing its strings would only fill the pool.
    const trim = <O extends KubeObject>(o: O) => trimmed(o, { intern: !opts.dictionary });
    const list = async () => {
      const l = await client.list<T>(opts.kind, {
        labelSelector: opts.labelSelector,
        namespace: opts.namespace,
      });
      return { ...l, items: l.items.map(trim) };
    };
    this.lw = new ListWatch<T>({
      path,
      labelSelector: opts.labelSelector,
      list,
      watcher: new LongWatch(client.kubeConfig, (o) => trim(o as KubeObject)),
      ...(opts.dictionary ? { store: new CompactStore<T>(opts.dictionary) } : {}),
      handlers: {
        add: (o) => this.dispatch('add', o, undefined),
        update: (o, old) => this.dispatch('update', o, old),
        delete: (o, old) => this.dispatch('delete', o, old),
        error: (err) => {
          this.errors++;
          this.scheduleRestart(err);
        },
      },
    });
  }

  on(event: 'add' | 'update' | 'delete', fn: Handler<T>): void {
    this.handlers[event].push(fn);
  }

  addIndex(name: string, fn: IndexFn<T>): void {
    this.indexer.add(name, fn, () => this.lw.list());
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  list(namespace?: string): T[] {
    return this.lw.list(namespace);
  }

  keys(namespace?: string): string[] {
    return this.lw.names(namespace).map(([ns, name]) => objectKey({ name, namespace: ns || undefined }));
  }

  /** Keys (`ns/name`) of the objects whose index `name` contains `value`. */
  byIndex(name: string, value: string): string[] {
    return this.indexer.lookup(name, value);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Lists, then watches; resolves once the first attempt has finished (retries go on in the background). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    await this.lw.stop();
  }

  /** ListWatch.start() resolves after its list and watch were attempted; no error means the cache is whole. */
  private async run(): Promise<void> {
    const errorsBefore = this.errors;
    await this.lw.start();
    if (this.errors !== errorsBefore || this.stopped) return;
    this.failures = 0;
    if (this.synced) return;
    this.synced = true;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w();
  }

  private dispatch(event: 'add' | 'update' | 'delete', obj: T, old: T | undefined): void {
    this.indexer.update(old, event === 'delete' ? undefined : obj);
    for (const h of this.handlers[event]) h(obj, old);
  }

  private scheduleRestart(err: unknown): void {
    if (this.stopped) return;
    const min = this.opts.minBackoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures++, 16));
    this.opts.onError?.(this.kind, err, delay);
    this.retryTimer?.cancel();
    this.retryTimer = this.opts.clock.setTimer(delay, () => {
      if (!this.stopped) void this.run();
    });
  }
}

/**
 * Keys (`ns/name`) of the objects in `namespace` labelled `label=value`, through an index of `cache` added
 * on first use: no walk over the rest of the cache (which a compact store would decode, store.ts). The
 * index value is the object's own namespace: a label set elsewhere (a tenant's namespace) never answers
 * for `namespace`.
 */
export function labelledKeys<T extends KubeObject>(
  cache: ObjectCache<T>,
  namespace: string,
  label: string,
  value: string,
): string[] {
  const index = `label:${label}=${value}`;
  cache.addIndex(index, (o) => (o.metadata.labels?.[label] === value ? [o.metadata.namespace ?? ''] : []));
  return cache.byIndex(index, namespace);
}

/** The objects of {@link labelledKeys}. */
export function labelled<T extends KubeObject>(
  cache: ObjectCache<T>,
  namespace: string,
  label: string,
  value: string,
): T[] {
  return labelledKeys(cache, namespace, label, value)
    .map((key) => cache.get(splitKey(key).name, namespace))
    .filter((o): o is T => o !== undefined);
}

/** Annotations that are large, written by other tools, and never read by Palisade. */
const UNREAD_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration'];

/**
 * What the cache keeps of an object: all but `metadata.managedFields` (often the largest part, and read
 * only by the API server) and annotations no reconcile reads, as controller-runtime's
 * TransformStripManagedFields does; with `intern` (a store that keeps the object), its short strings are
 * shared with every other cached object's (intern.ts). NB: an update built from a cached object leaves the
 * server's managedFields as they are (an absent field is not an empty one).
 */
export function trimmed<T extends KubeObject>(obj: T, o: { intern: boolean } = { intern: true }): T {
  const m = obj?.metadata as (KubeObject['metadata'] & { managedFields?: unknown }) | undefined;
  if (!m) return obj;
  // NB: copied without the fields, not `delete`d: V8 turns an object a property is deleted from into a
  // dictionary, which made every cached object's metadata about twice its size.
  const { managedFields: _managed, ...metadata } = m;
  void _managed;
  const a = metadata.annotations;
  if (a && UNREAD_ANNOTATIONS.some((k) => k in a))
    metadata.annotations = Object.fromEntries(
      Object.entries(a).filter(([k]) => !UNREAD_ANNOTATIONS.includes(k)),
    );
  obj.metadata = metadata;
  if (o.intern) internObject(obj);
  return obj;
}

/**
 * Secondary indexes over objects keyed `ns/name`: for each index, value → keys, kept current on every
 * add, update and delete, so a lookup costs the size of its answer. What an object was indexed under is
 * recomputed from the object the cache held before, as client-go's indexer does, not kept beside it:
 * that copy was a map entry per object and index (about 0.8 KiB per tenant). NB: so index functions
 * must depend on the object alone, and cached objects must not be changed in place (they are not).
 */
export class Indexer<T extends KubeObject> {
  private readonly indexFns = new Map<string, IndexFn<T>>();
  private readonly indexes = new Map<string, Map<string, Keys>>();

  /**
   * Adds index `name` over `held` (what the cache holds now: an index added after the cache filled is
   * whole too). An index of that name already there stays as it is: setups sharing a cache add the same
   * index each.
   */
  add(name: string, fn: IndexFn<T>, held: () => Iterable<T> = () => []): void {
    if (this.indexFns.has(name)) return;
    const index = new Map<string, Keys>();
    this.indexFns.set(name, fn);
    this.indexes.set(name, index);
    for (const obj of held()) for (const v of fn(obj)) addKey(index, v, objectKey(obj.metadata));
  }

  lookup(name: string, value: string): string[] {
    const keys = this.indexes.get(name)?.get(value);
    if (keys === undefined) return [];
    return typeof keys === 'string' ? [keys] : [...keys];
  }

  /**
   * One object changed: `prev` is what the cache held under its key (undefined when it is new), `next`
   * what it holds now (undefined when it is gone).
   */
  update(prev: T | undefined, next: T | undefined): void {
    const m = (next ?? prev)?.metadata;
    if (!m) return;
    const key = m.namespace ? `${m.namespace}/${m.name}` : m.name;
    for (const [name, fn] of this.indexFns) {
      const index = this.indexes.get(name) as Map<string, Keys>;
      const had = prev ? fn(prev) : [];
      const values = next ? fn(next) : [];
      for (const v of had) if (!values.includes(v)) removeKey(index, v, key);
      for (const v of values) if (!had.includes(v)) addKey(index, v, key);
    }
  }
}

/**
 * The keys under one index value, in the smallest form that stays cheap to change: most values (a
 * Secret's name, a tenant's namespace) index one object, and a string costs nothing more; a few (a
 * tenant's UID over its keystore entries) index a handful, and a frozen array of them is about a fifth of
 * a Set's 340 bytes; only a value indexing many (a root version over every wrap) needs a Set's O(1)
 * add and delete.
 */
type Keys = string | readonly string[] | Set<string>;
const MAX_ARRAY_KEYS = 8;

function addKey(index: Map<string, Keys>, value: string, key: string): void {
  const keys = index.get(value);
  if (keys === undefined) index.set(value, key);
  else if (typeof keys === 'string') {
    if (keys !== key) index.set(value, Object.freeze([keys, key]));
  } else if (keys instanceof Set) keys.add(key);
  else if (!keys.includes(key))
    index.set(value, keys.length < MAX_ARRAY_KEYS ? Object.freeze([...keys, key]) : new Set([...keys, key]));
}

function removeKey(index: Map<string, Keys>, value: string, key: string): void {
  const keys = index.get(value);
  if (keys === undefined) return;
  if (typeof keys === 'string') {
    if (keys === key) index.delete(value);
    return;
  }
  let rest: readonly string[] | Set<string>;
  if (keys instanceof Set) {
    keys.delete(key);
    rest = keys;
  } else rest = Object.freeze(keys.filter((k) => k !== key));
  const size = rest instanceof Set ? rest.size : rest.length;
  if (size === 0) index.delete(value);
  else if (size === 1) index.set(value, rest.values().next().value as string);
  else if (rest !== keys) index.set(value, rest);
}
