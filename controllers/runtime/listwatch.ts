/**
 * List-then-watch for one resource path, the loop under an Informer (informer.ts): list, remember the
 * list's resourceVersion, watch from it, move it with every event and bookmark. A 410 Gone (the version
 * was compacted away) relists, and objects that vanished meanwhile are reported deleted. A watch the
 * server ended cleanly (its timeoutSeconds ran out) is re-opened at once from the last resourceVersion:
 * the server's timeout already paces re-watches, and a delay would leave a quiet namespace unwatched.
 * Any other failure is handed to `error`, and the owner restarts the loop with backoff; a restart
 * resumes from the last resourceVersion when it can.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 */
import { ApiError } from './kube/errors.ts';
import type { KubeObject, ObjectList } from './kube/types.ts';
import type { Watcher } from './kube/watch.ts';
import { PlainStore, type ObjectStore } from './store.ts';

/**
 * A clean end this soon after the watch was asked for, with not one event (not even a bookmark), is
 * treated as a failure: an apiserver shutting down ends every watch at once, and re-watching it at once,
 * thousands of watches at a time, would spin until it is gone.
 */
export const MIN_CLEAN_WATCH_MS = 1_000;

export interface ListWatchHandlers<T> {
  add(obj: T): void;
  /** `old`: the object the cache held until now. */
  update(obj: T, old: T): void;
  /** `obj`: its last state (the watch's, or the cache's after a relist); `old`: what the cache held. */
  delete(obj: T, old: T): void;
  /** The list or a watch failed in a way a re-watch does not fix; the loop stops until started again. */
  error(err: unknown): void;
}

export interface ListWatchOptions<T extends KubeObject> {
  /** The collection's URL path, e.g. `/api/v1/namespaces/ns/secrets`. */
  path: string;
  labelSelector?: string;
  list(): Promise<ObjectList<T>>;
  watcher: Watcher;
  handlers: ListWatchHandlers<T>;
  now?: () => number;
  /** Where the objects are kept (store.ts); a {@link PlainStore} when absent. */
  store?: ObjectStore<T>;
}

/** A status a watch sent as an ERROR event before the server ended it. */
interface WatchStatus {
  code?: number;
  reason?: string;
  message?: string;
}

/** One watch request's state. */
interface Run {
  readonly startedAt: number;
  events: number;
  status: WatchStatus | undefined;
  ended: boolean;
}

/** Objects of one path by namespace and name (cluster-scoped ones under ''), and the loop keeping them. */
export class ListWatch<T extends KubeObject> {
  private readonly opts: ListWatchOptions<T>;
  private readonly now: () => number;
  private readonly objects: ObjectStore<T>;
  private resourceVersion = '';
  /** Bumped by start and stop: callbacks of an earlier run are ignored. */
  private generation = 0;
  private request: AbortController | undefined;

  constructor(opts: ListWatchOptions<T>) {
    this.opts = opts;
    this.now = opts.now ?? (() => performance.now());
    this.objects = opts.store ?? new PlainStore<T>();
  }

  /**
   * Lists (unless a resourceVersion is known from an earlier run), then watches. Resolves once the watch
   * was answered or either step failed (reported to `error` first); the loop goes on in the background.
   */
  async start(): Promise<void> {
    this.abort();
    await this.connect(++this.generation);
  }

  async stop(): Promise<void> {
    this.generation++;
    this.abort();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(namespace ?? '', name);
  }

  list(namespace?: string): T[] {
    return this.objects.list(namespace || undefined);
  }

  /** Namespace and name of the objects held (in `namespace`, when given), without reading them. */
  names(namespace?: string): [string, string][] {
    return this.objects.names(namespace || undefined);
  }

  latestResourceVersion(): string {
    return this.resourceVersion;
  }

  private async connect(gen: number): Promise<void> {
    if (!this.resourceVersion) {
      let list: ObjectList<T>;
      try {
        list = await this.opts.list();
      } catch (e) {
        if (gen === this.generation) this.opts.handlers.error(e);
        return;
      }
      if (gen !== this.generation) return;
      this.replace(list.items);
      this.resourceVersion = list.metadata?.resourceVersion ?? '';
    }
    await this.watch(gen);
  }

  private async watch(gen: number): Promise<void> {
    const run: Run = { startedAt: this.now(), events: 0, status: undefined, ended: false };
    const query = {
      resourceVersion: this.resourceVersion || undefined,
      labelSelector: this.opts.labelSelector,
    };
    let request: AbortController;
    try {
      request = await this.opts.watcher.watch(
        this.opts.path,
        query,
        (type, obj) => this.event(gen, run, type, obj),
        (err) => this.ended(gen, run, err),
      );
    } catch (e) {
      return this.ended(gen, run, e);
    }
    // NB: `done` may have run before `watch` resolved, and started the next watch already.
    if (gen !== this.generation) request.abort();
    else if (!run.ended) this.request = request;
  }

  private event(gen: number, run: Run, type: string, obj: unknown): void {
    if (gen !== this.generation || run.ended) return;
    run.events++;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.upsert(obj as T);
        break;
      case 'DELETED':
        this.remove(obj as T);
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR':
        run.status = obj as WatchStatus;
        return;
      default:
        return;
    }
    const rv = (obj as Partial<KubeObject> | undefined)?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
  }

  private ended(gen: number, run: Run, err: unknown): void {
    if (run.ended) return;
    run.ended = true;
    if (gen !== this.generation) return;
    this.request = undefined;
    const status = err ?? run.status;
    if (isGone(status)) {
      this.resourceVersion = '';
      void this.connect(gen);
    } else if ((err as Error | undefined)?.name === 'TimeoutError') {
      void this.connect(gen);
    } else if (err) {
      this.opts.handlers.error(err);
    } else if (run.status) {
      const s = run.status;
      this.opts.handlers.error(new ApiError(s.code ?? 0, s.reason ?? 'Unknown', s.message ?? 'watch failed'));
    } else if (run.events === 0 && this.now() - run.startedAt < MIN_CLEAN_WATCH_MS) {
      this.opts.handlers.error(new Error(`the API server ended the watch of ${this.opts.path} as it began`));
    } else {
      void this.connect(gen);
    }
  }

  /** A relist: what is gone is deleted (reported with its last known state), then the rest upserted. */
  private replace(items: T[]): void {
    const listed = new Set(items.map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`));
    for (const [ns, name] of this.objects.names())
      if (!listed.has(`${ns}/${name}`)) {
        const obj = this.take(ns, name);
        if (obj) this.opts.handlers.delete(obj, obj);
      }
    for (const obj of items) this.upsert(obj);
  }

  private upsert(obj: T): void {
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    const old = this.get(name, ns);
    if (old && old.metadata.resourceVersion && old.metadata.resourceVersion === obj.metadata.resourceVersion)
      return;
    this.objects.put(obj);
    if (old) this.opts.handlers.update(obj, old);
    else this.opts.handlers.add(obj);
  }

  private remove(obj: T): void {
    const ns = obj.metadata.namespace ?? '';
    const old = this.take(ns, obj.metadata.name);
    if (old !== undefined) this.opts.handlers.delete(obj, old);
  }

  /** Drops one object from the cache; what it held, if anything. */
  private take(ns: string, name: string): T | undefined {
    const old = this.objects.get(ns, name);
    if (old !== undefined) this.objects.remove(ns, name);
    return old;
  }

  private abort(): void {
    this.request?.abort();
    this.request = undefined;
  }
}

const isGone = (e: unknown): boolean => (e as { code?: unknown } | undefined)?.code === 410;
