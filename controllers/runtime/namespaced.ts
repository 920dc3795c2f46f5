import { Indexer, type Handler, type IndexFn, type ObjectCache } from './informer.ts';
import type { KubeApi } from './kube/api.ts';
import type { KubeObject } from './kube/types.ts';

type Event = 'add' | 'update' | 'delete';
type Listener = { add(ns: string): void; remove(ns: string): void };

/** A changing set of namespaces: a NamespacedInformer keeps one cache in each member. */
export interface NamespaceSet {
  /** Tells informers over different sets apart (Manager.namespacedInformer shares by it). */
  readonly name: string;
  /** Members from the start that never leave: an informer over the set is synced when their caches are. */
  readonly fixed: readonly string[];
  list(): string[];
  subscribe(l: Listener): void;
}

/**
 * The namespaces Palisade may read Secrets in: its own, any the chart names, and each live tenant's
 * (added when Palisade's record of the tenant appears, removed when the tenant is gone or retained).
 * RBAC grants Secrets only there, so nothing may list or watch Secrets cluster-wide.
 */
export class ManagedNamespaces implements NamespaceSet {
  readonly name = 'managed';
  private readonly members = new Set<string>();
  private readonly listeners: Listener[] = [];
  /** Called when a namespace's list or watch is refused (403): e.g. its RoleBinding was deleted. */
  onForbidden: ((namespace: string) => void) | undefined;

  readonly fixed: readonly string[];

  constructor(fixed: readonly string[]) {
    this.fixed = fixed;
    for (const ns of fixed) this.members.add(ns);
  }

  has(namespace: string): boolean {
    return this.members.has(namespace);
  }

  list(): string[] {
    return [...this.members];
  }

  add(namespace: string): void {
    if (this.members.has(namespace)) return;
    this.members.add(namespace);
    for (const l of this.listeners) l.add(namespace);
  }

  /** Namespaces named at start stay: only tenants' namespaces come and go. */
  remove(namespace: string): void {
    if (this.fixed.includes(namespace) || !this.members.delete(namespace)) return;
    for (const l of this.listeners) l.remove(namespace);
  }

  subscribe(l: Listener): void {
    this.listeners.push(l);
  }
}

/**
 * The managed namespaces a controller asks to watch (e.g. those holding a binding that imports a Secret),
 * so a narrow informer runs only where it is needed: a namespace is a member while it is both wanted and
 * managed. Wanting never widens access: an unmanaged namespace joins only once Palisade manages it, and
 * leaves when it stops. Without `withFixed` nothing is fixed, so an informer over it is synced at once
 * and reports every namespace's cache through `onNamespaceSynced`; with it, the managed set's fixed
 * namespaces (Palisade's own, the chart's) are members for good and the informer syncs on them.
 */
export class NamespaceSubset implements NamespaceSet {
  readonly name: string;
  readonly fixed: readonly string[];
  private readonly managed: ManagedNamespaces;
  private readonly wanted = new Set<string>();
  private readonly members = new Set<string>();
  private readonly listeners: Listener[] = [];
  /** Per namespace, what holds it (`hold`): followed objects by `source/namespace/name`, tasks by name. */
  private readonly held = new Map<string, Set<string>>();

  constructor(name: string, managed: ManagedNamespaces, o: { withFixed?: boolean } = {}) {
    this.name = name;
    this.managed = managed;
    this.fixed = o.withFixed ? managed.fixed : [];
    for (const ns of this.fixed) this.members.add(ns);
    managed.subscribe({ add: (ns) => this.settle(ns), remove: (ns) => this.settle(ns) });
  }

  /**
   * Wants a namespace while at least one object of `cache` is in it (with other followed caches: while
   * any of them has one). O(1) per event. `source` tells the caches apart (e.g. their kind).
   */
  follow(source: string, cache: Pick<ObjectCache<KubeObject>, 'on'>): void {
    const track = (obj: KubeObject, present: boolean) => {
      const ns = obj.metadata.namespace;
      if (ns) this.hold(ns, `${source}/${ns}/${obj.metadata.name}`, present);
    };
    cache.on('add', (o) => track(o, true));
    cache.on('update', (o) => track(o, true));
    cache.on('delete', (o) => track(o, false));
  }

  /** Wants `namespace` while at least one holder `id` (an object, a task) holds it. */
  hold(namespace: string, id: string, present: boolean): void {
    let ids = this.held.get(namespace);
    if (present) {
      if (!ids) this.held.set(namespace, (ids = new Set()));
      ids.add(id);
    } else if (ids) {
      ids.delete(id);
      if (ids.size === 0) this.held.delete(namespace);
    }
    this.want(namespace, this.held.has(namespace));
  }

  has(namespace: string): boolean {
    return this.members.has(namespace);
  }

  list(): string[] {
    return [...this.members];
  }

  subscribe(l: Listener): void {
    this.listeners.push(l);
  }

  /** Whether `namespace` is wanted now; kept while it is not managed, so it joins if it becomes so. */
  want(namespace: string, wanted: boolean): void {
    if (wanted) this.wanted.add(namespace);
    else this.wanted.delete(namespace);
    this.settle(namespace);
  }

  private settle(namespace: string): void {
    if (this.fixed.includes(namespace)) return;
    const member = this.wanted.has(namespace) && this.managed.has(namespace);
    if (member === this.members.has(namespace)) return;
    if (member) this.members.add(namespace);
    else this.members.delete(namespace);
    for (const l of this.listeners) {
      if (member) l.add(namespace);
      else l.remove(namespace);
    }
  }
}

/**
 * One cache per namespace of a set (the managed namespaces, or a subset of them; each cache an Informer,
 * in unit tests a FakeCache), each with the same label selector, handlers and indexes: controllers read
 * it like one informer. Synced means the fixed namespaces' caches are whole; a namespace added later
 * says so through `synced(ns)` and `onNamespaceSynced`.
 */
export class NamespacedInformer<T extends KubeObject> implements ObjectCache<T> {
  readonly kind: string;
  private readonly children = new Map<string, ObjectCache<T>>();
  private readonly handlers: [Event, Handler<T>][] = [];
  /** One index over every namespace's objects: a lookup costs its answer, not the number of namespaces. */
  private readonly indexer = new Indexer<T>();
  private readonly syncedListeners: ((namespace: string) => void)[] = [];
  private readonly namespaces: NamespaceSet;
  private readonly make: (namespace: string) => ObjectCache<T>;
  private started = false;

  constructor(namespaces: NamespaceSet, make: (namespace: string) => ObjectCache<T>, kind: string) {
    this.kind = kind;
    this.namespaces = namespaces;
    this.make = make;
    for (const ns of namespaces.list()) this.child(ns);
    namespaces.subscribe({
      add: (ns) => {
        const c = this.child(ns);
        if (this.started) void this.startChild(ns, c);
      },
      remove: (ns) => {
        const c = this.children.get(ns);
        this.children.delete(ns);
        for (const o of c?.list() ?? []) this.indexer.update(o, undefined);
        void c?.stop();
      },
    });
  }

  on(event: Event, fn: Handler<T>): void {
    this.handlers.push([event, fn]);
    for (const c of this.children.values()) c.on(event, fn);
  }

  addIndex(name: string, fn: IndexFn<T>): void {
    this.indexer.add(name, fn, () => this.list());
  }

  /** Calls `fn` each time a namespace's cache becomes whole after it was added. */
  onNamespaceSynced(fn: (namespace: string) => void): void {
    this.syncedListeners.push(fn);
  }

  get(name: string, namespace?: string): T | undefined {
    if (namespace !== undefined) return this.children.get(namespace)?.get(name, namespace);
    for (const [ns, c] of this.children) {
      const o = c.get(name, ns);
      if (o) return o;
    }
    return undefined;
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return this.children.get(namespace)?.list(namespace) ?? [];
    return [...this.children.values()].flatMap((c) => c.list());
  }

  keys(namespace?: string): string[] {
    if (namespace !== undefined) return this.children.get(namespace)?.keys(namespace) ?? [];
    return [...this.children.values()].flatMap((c) => c.keys());
  }

  byIndex(name: string, value: string): string[] {
    return this.indexer.lookup(name, value);
  }

  /** True when `namespace` is watched and its cache is whole. */
  synced(namespace: string): boolean {
    return this.children.get(namespace)?.hasSynced() ?? false;
  }

  hasSynced(): boolean {
    return this.namespaces.fixed.every((ns) => this.synced(ns));
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.namespaces.fixed.map((ns) => this.children.get(ns)?.waitForSync()));
  }

  /** Waits until every namespace watched now has a whole cache, or `timeoutMs` passed; returns those that do not. */
  async settle(timeoutMs: number): Promise<string[]> {
    const waits = [...this.children.values()].map((c) => c.waitForSync());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waits),
      new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    return [...this.children].filter(([, c]) => !c.hasSynced()).map(([ns]) => ns);
  }

  async start(): Promise<void> {
    this.started = true;
    await Promise.all([...this.children].map(([ns, c]) => this.startChild(ns, c)));
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.children.values()].map((c) => c.stop()));
  }

  private child(namespace: string): ObjectCache<T> {
    let c = this.children.get(namespace);
    if (c) return c;
    c = this.make(namespace);
    // NB: indexed before any handler runs, so a handler's lookups already see the object.
    c.on('add', (o) => this.indexer.update(undefined, o));
    c.on('update', (o, old) => this.indexer.update(old, o));
    c.on('delete', (o, old) => this.indexer.update(old ?? o, undefined));
    for (const [event, fn] of this.handlers) c.on(event, fn);
    this.children.set(namespace, c);
    return c;
  }

  private async startChild(namespace: string, c: ObjectCache<T>): Promise<void> {
    await c.start();
    void c.waitForSync().then(() => {
      if (this.children.get(namespace) !== c || this.namespaces.fixed.includes(namespace)) return;
      for (const fn of this.syncedListeners) fn(namespace);
    });
  }
}

/**
 * For start-up tasks that must read every Secret of the namespaces `informer` watches before any controller
 * starts: waits up to `timeoutMs` for each namespace's cache, then throws (the task is retried) for one that
 * exists and still cannot be read. A namespace that is gone holds nothing to read.
 */
export async function awaitReadableNamespaces(
  informer: Pick<NamespacedInformer<KubeObject>, 'settle'>,
  client: Pick<KubeApi, 'get'>,
  timeoutMs = 60_000,
): Promise<void> {
  for (const name of await informer.settle(timeoutMs)) {
    if (await client.get({ kind: 'Namespace', name }))
      throw new Error(
        `Secrets in tenant namespace ${name} are not readable yet; retrying before any controller starts`,
      );
  }
}
