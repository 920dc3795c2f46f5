/**
 * An {@link ObjectCache} over a {@link FakeApiServer}: what an informer is over the real one. It lists on
 * start, then follows the server's changes, with the same filter (namespace, label selector), the same
 * events (an object that stops matching the selector is a delete) and the same secondary indexes.
 *
 * Events are delivered synchronously, inside the write that caused them, so a test can read the cache
 * right after a write. A real informer lags behind the server; to test code against a stale cache, make
 * the cache with `hold: true`: changes then wait (the cache keeps showing the old state) until `flush()`.
 */
import { Indexer, type Handler, type IndexFn, type ObjectCache } from '../informer.ts';
import { objectKey, type KubeObject } from '../kube/types.ts';
import type { FakeApiServer, WatchEventType } from './fakeapi.ts';
import { parseSelector, type LabelMatcher } from './selector.ts';

type Event = 'add' | 'update' | 'delete';

export interface FakeCacheOptions {
  kind: string;
  namespace?: string;
  labelSelector?: string;
  /** Hold changes until {@link FakeCache.flush} (a lagging informer). */
  hold?: boolean;
}

export class FakeCache<T extends KubeObject> implements ObjectCache<T> {
  readonly kind: string;
  private readonly server: FakeApiServer;
  private readonly opts: FakeCacheOptions;
  private readonly matches: LabelMatcher;
  private readonly objects = new Map<string, T>();
  private readonly handlers: Record<Event, Handler<T>[]> = { add: [], update: [], delete: [] };
  private readonly indexer = new Indexer<T>();
  private readonly held: [WatchEventType, T][] = [];
  private unwatch: (() => void) | undefined;
  private synced = false;

  constructor(server: FakeApiServer, opts: FakeCacheOptions) {
    this.server = server;
    this.opts = opts;
    this.kind = opts.kind;
    this.matches = parseSelector(opts.labelSelector);
  }

  on(event: Event, fn: Handler<T>): void {
    this.handlers[event].push(fn);
  }

  /** As on an Informer: add indexes before start (objects already cached are not indexed). */
  addIndex(name: string, fn: IndexFn<T>): void {
    this.indexer.add(name, fn, () => this.list());
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(objectKey({ name, namespace }));
  }

  list(namespace?: string): T[] {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  keys(namespace?: string): string[] {
    return this.list(namespace).map((o) => objectKey(o.metadata));
  }

  byIndex(name: string, value: string): string[] {
    return this.indexer.lookup(name, value);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  async waitForSync(): Promise<void> {}

  /** Lists what the server holds now (each an `add`), then follows its changes. */
  async start(): Promise<void> {
    if (this.unwatch) return;
    this.unwatch = this.server.watch(this.kind, (type, obj) => this.receive(type, obj as T));
    // NB: as from a real list, items of built-in kinds come without apiVersion and kind.
    for (const o of this.server.list(this.kind, this.opts).items) this.apply('ADDED', o as T);
    this.synced = true;
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Delivers the changes held back (with `hold: true`), in order. */
  flush(): void {
    for (const [type, obj] of this.held.splice(0)) this.apply(type, obj);
  }

  /** Changes waiting for {@link flush}. */
  get pending(): number {
    return this.held.length;
  }

  private receive(type: WatchEventType, obj: T): void {
    if (this.opts.namespace !== undefined && obj.metadata.namespace !== this.opts.namespace) return;
    if (this.opts.hold) this.held.push([type, obj]);
    else this.apply(type, obj);
  }

  private apply(type: WatchEventType, obj: T): void {
    const key = objectKey(obj.metadata);
    const old = this.objects.get(key);
    const present = type !== 'DELETED' && this.matches(obj.metadata.labels);
    if (present) this.objects.set(key, obj);
    else if (old) this.objects.delete(key);
    else return;
    this.indexer.update(old, present ? obj : undefined);
    const event: Event = !present ? 'delete' : old ? 'update' : 'add';
    for (const h of this.handlers[event]) h(obj, old);
  }
}
