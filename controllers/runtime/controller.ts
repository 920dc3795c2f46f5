import type { Clock } from './clock.ts';
import { ApiError, describeError, TerminalError } from './errors.ts';
import type { ObjectCache } from './informer.ts';
import { objectKey } from './kube/types.ts';
import type { KubeObject } from './kube/types.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';

export interface ReconcileResult {
  /** Time-driven work only (rotation, expiry, deadlines): reconcile again after this long. */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | void>;

/** A secondary source of keys: registers itself to call `enqueue` with primary keys. */
export interface Watch {
  register(enqueue: (key: string) => void): void;
}

/** Changes to objects of `informer` enqueue the primary keys `map` returns (use indexes, not scans). */
export function watchMapped<T extends KubeObject>(
  informer: ObjectCache<T>,
  map: (obj: T) => string[],
): Watch {
  return {
    register(enqueue) {
      const fire = (o: T) => map(o).forEach(enqueue);
      informer.on('add', fire);
      informer.on('update', fire);
      informer.on('delete', fire);
    },
  };
}

export interface ControllerOptions<T extends KubeObject = KubeObject> {
  name: string;
  /**
   * The kind whose objects are the keys. Without it the keys are the controller's own (a keystore slot, a
   * root version): they come only from `watches`, and `resyncKeys` says which to re-check.
   */
  primary?: ObjectCache<T>;
  /** Without a primary: the keys a start and every resync enqueue (default none). */
  resyncKeys?: () => Iterable<string>;
  watches?: Watch[];
  reconcile: Reconcile;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  concurrency?: number;
  resyncMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** The longest wait before a key that met a stale read tries again, whatever the cache did meanwhile. */
const STALE_MAX_DELAY_MS = 5_000;

/** True when an update changed something a reconcile reads: spec (generation) or metadata, not status. */
function meaningfulUpdate(prev: KubeObject | undefined, next: KubeObject): boolean {
  if (!prev) return true;
  const a = prev.metadata;
  const b = next.metadata;
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify([a.labels, a.annotations, a.finalizers, a.ownerReferences]) !==
      JSON.stringify([b.labels, b.annotations, b.finalizers, b.ownerReferences]) ||
    // Objects without generation (Secrets, Namespaces) change by content.
    b.generation === undefined
  );
}

/**
 * The reconcile driver: informer events become keys in a de-duplicating queue; each key is reconciled
 * by reading the latest state (never an event snapshot). A thrown error backs the key off exponentially,
 * a {@link TerminalError} waits for the next spec change, and every key is re-checked every `resyncMs`.
 */
export class Controller<T extends KubeObject = KubeObject> {
  readonly name: string;
  private readonly o: ControllerOptions<T>;
  private readonly queue: WorkQueue;
  /** Keys whose last write met a stale cached object: the cache catching up is their cue to go again. */
  private readonly staleKeys = new Set<string>();
  private resyncTimer: { cancel(): void } | undefined;
  private started = false;
  private owns: ((key: string) => boolean) | undefined;

  constructor(opts: ControllerOptions<T>) {
    this.o = opts;
    this.name = opts.name;
    this.queue = new WorkQueue({
      clock: opts.clock,
      concurrency: opts.concurrency ?? 4,
      baseDelayMs: opts.baseDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 5 * 60_000,
    });
    opts.primary?.on('add', (o) => this.enqueue(objectKey(o.metadata)));
    opts.primary?.on('update', (o, old) => {
      const key = objectKey(o.metadata);
      // NB: a status-only update is no news, except to a key that waits for exactly that (its own write).
      const awaited = this.staleKeys.delete(key);
      if (awaited || meaningfulUpdate(old, o)) this.enqueue(key);
    });
    opts.primary?.on('delete', (o) => {
      this.staleKeys.delete(objectKey(o.metadata));
      this.enqueue(objectKey(o.metadata));
    });
    for (const w of opts.watches ?? []) w.register((k) => this.enqueue(k));
  }

  /**
   * Reconciles only the keys `owns` accepts (this replica's shard): others are dropped when enqueued, and
   * again when dequeued, since ownership may move while a key waits.
   */
  restrictTo(owns: (key: string) => boolean): void {
    this.owns = owns;
  }

  /** Whether {@link restrictTo} limits this controller to a shard's keys. */
  get restricted(): boolean {
    return this.owns !== undefined;
  }

  enqueue(key: string): void {
    if (this.owns && !this.owns(key)) return;
    this.queue.add(key);
    // NB: a standby replica's informers fill queues nobody drains until it leads: that is no backlog.
    if (this.started) this.o.metrics.queueDepth.set({ controller: this.name }, this.queue.depth);
  }

  start(): void {
    this.started = true;
    this.queue.start((key) => this.handle(key));
    this.requeueAll();
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.resyncTimer?.cancel();
    await this.queue.shutdown();
  }

  /**
   * Enqueues every object of the primary kind now (e.g. a dependency they were waiting for came up), or
   * without a primary, the `resyncKeys`.
   */
  requeueAll(): void {
    if (!this.o.primary) {
      for (const key of this.o.resyncKeys?.() ?? []) this.enqueue(key);
      return;
    }
    for (const key of this.o.primary.keys()) this.enqueue(key);
  }

  /** Enqueues every object of the primary kind in `namespace` (e.g. its Tenant moved to this shard). */
  requeueNamespace(namespace: string): void {
    for (const key of this.o.primary?.keys(namespace) ?? []) this.enqueue(key);
  }

  /** Resolves when the queue is empty and nothing is in flight (tests and benchmarks). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private scheduleResync(): void {
    const every = this.o.resyncMs ?? 10 * 60_000;
    this.resyncTimer = this.o.clock.setTimer(every, () => {
      this.requeueAll();
      this.scheduleResync();
    });
  }

  private async handle(key: string): Promise<void> {
    const { metrics, log } = this.o;
    const labels = { controller: this.name };
    if (this.owns && !this.owns(key)) return this.queue.forget(key);
    const end = metrics.reconcileDuration.startTimer(labels);
    metrics.queueDepth.set(labels, this.queue.depth);
    try {
      const result = await this.o.reconcile(key);
      this.queue.forget(key);
      this.staleKeys.delete(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        metrics.reconciles.inc({ ...labels, result: 'requeue' });
      } else {
        metrics.reconciles.inc({ ...labels, result: 'success' });
      }
    } catch (e) {
      if (isStale(e)) {
        // The cache had not caught up with the object yet: go again once it has (the primary's next
        // update, even a status-only one), which is no error. The capped backoff covers a conflict on
        // another object, whose catching up enqueues nothing; uncapped, a slow API server's lag of a
        // few seconds would double it past half a minute.
        if (this.o.primary) this.staleKeys.add(key);
        this.queue.addRateLimited(key, STALE_MAX_DELAY_MS);
        metrics.reconciles.inc({ ...labels, result: 'conflict' });
        log.debug('stale object; requeued', { controller: this.name, object: key });
        return;
      }
      metrics.reconcileErrors.inc(labels);
      if (e instanceof TerminalError) {
        this.queue.forget(key);
        metrics.reconciles.inc({ ...labels, result: 'terminal' });
        log.warn('reconcile failed; waiting for a spec change', {
          controller: this.name,
          object: key,
          reason: e.reason,
          error: e.message,
        });
      } else {
        const retryInMs = this.queue.addRateLimited(key);
        metrics.reconciles.inc({ ...labels, result: 'error' });
        log.warn('reconcile failed; will retry', {
          controller: this.name,
          object: key,
          retryInMs,
          error: describeError(e),
        });
      }
    } finally {
      end();
    }
  }
}

/** A write refused because the object changed since it was read (409 Conflict, not AlreadyExists). */
function isStale(e: unknown): boolean {
  return e instanceof ApiError && e.code === 409 && e.reason === 'Conflict';
}
