import type { Clock, Timer } from './clock.ts';

export interface QueueOptions {
  clock: Clock;
  /** Most keys handled at once. */
  concurrency: number;
  /** First retry delay after a failure; doubles per consecutive failure of the same key. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export type KeyHandler = (key: string) => Promise<void>;

/**
 * A keyed, de-duplicating work queue in the shape of client-go's workqueue: a key is queued at most once;
 * a key added while it is being handled is handled again afterwards (never twice at once); delayed adds
 * keep only the earliest deadline per key; failures back off exponentially per key.
 *
 * NB: it holds keys, never object snapshots, so a reconcile always reads the latest state (level-based).
 */
export class WorkQueue {
  private readonly opts: QueueOptions;
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: Timer }>();
  private readonly failures = new Map<string, number>();
  private handler: KeyHandler | undefined;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: QueueOptions) {
    this.opts = opts;
  }

  /** Keys waiting to be handled (not counting delayed or in-flight ones). */
  get depth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  add(key: string): void {
    if (this.stopping || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.processing.has(key)) this.queue.push(key);
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopping) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.opts.clock.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.opts.clock.setTimer(delayMs, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, timer });
  }

  /** Re-adds a key after its per-key exponential backoff (at most `maxDelayMs`); returns the delay used. */
  addRateLimited(key: string, maxDelayMs = this.opts.maxDelayMs): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(maxDelayMs, this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(n, 30));
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure history (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  start(handler: KeyHandler): void {
    this.handler = handler;
    this.pump();
  }

  /** Stops taking keys and waits for the ones in flight. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    this.queue.length = 0;
    this.dirty.clear();
    await this.idle();
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler) return;
    while (this.processing.size < this.opts.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.dirty.delete(key);
      this.processing.add(key);
      void handler(key)
        .catch(() => undefined)
        .finally(() => this.done(key));
    }
  }

  private done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.stopping) this.queue.push(key);
    this.pump();
    if (this.queue.length === 0 && this.processing.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
