/**
 * Coalescing for a client shared by many concurrent callers in one process: the single calls of one
 * operation on one key, made in the same event-loop turn, go to the server as one batch call. Each caller
 * still gets its own result, or its own error (a batch item's, or the whole call's).
 *
 * Why: the transport costs far more than the work. Per call, gRPC over TLS costs each side hundreds of
 * microseconds of CPU and allocates enough to make the garbage collector run often; a batch item costs a
 * tenth of that (docs/keyservice.md, Benchmark). Callers awaiting their results in a loop stay in step,
 * so after the first turn they keep meeting in one batch.
 */
import type { BatchResponse, ItemError } from './proto.ts';

/** The most items one coalesced batch carries (the server's limit is 1,000). */
export const COALESCE_MAX_ITEMS = 256;
/** The most payload bytes one coalesced batch carries; a larger single item goes alone. */
export const COALESCE_MAX_BYTES = 1 << 20;

interface Waiter<R> {
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

interface Group<K, I, R> {
  key: K;
  items: I[];
  waiters: Waiter<R>[];
  bytes: number;
}

export interface CoalescerOptions<K, I, R> {
  /** One item alone: the single call. */
  single: (key: K, item: I) => Promise<R>;
  /** Several: the batch call, one result per item in order. */
  batch: (key: K, items: I[]) => Promise<BatchResponse<R>>;
  /** The error a failed item rejects its caller with. */
  itemError: (e: ItemError) => Error;
  /** Which calls may share a batch: the same string. */
  keyOf: (key: K) => string;
  /** The payload bytes of an item. */
  sizeOf: (item: I) => number;
}

export class Coalescer<K, I, R> {
  private readonly o: CoalescerOptions<K, I, R>;
  private readonly open = new Map<string, Group<K, I, R>>();

  constructor(o: CoalescerOptions<K, I, R>) {
    this.o = o;
  }

  call(key: K, item: I): Promise<R> {
    const size = this.o.sizeOf(item);
    if (size > COALESCE_MAX_BYTES) return this.o.single(key, item);
    const id = this.o.keyOf(key);
    let group = this.open.get(id);
    if (group && (group.items.length >= COALESCE_MAX_ITEMS || group.bytes + size > COALESCE_MAX_BYTES)) {
      this.open.delete(id);
      this.send(group);
      group = undefined;
    }
    if (!group) {
      const fresh: Group<K, I, R> = { key, items: [], waiters: [], bytes: 0 };
      this.open.set(id, fresh);
      // NB: a microtask runs after the continuations already queued, so callers resumed together by
      // one batch's results all join the next one.
      queueMicrotask(() => {
        if (this.open.get(id) !== fresh) return;
        this.open.delete(id);
        this.send(fresh);
      });
      group = fresh;
    }
    const g = group;
    g.items.push(item);
    g.bytes += size;
    return new Promise<R>((resolve, reject) => g.waiters.push({ resolve, reject }));
  }

  private send(g: Group<K, I, R>): void {
    const [only] = g.waiters;
    if (g.items.length === 1 && only) {
      this.o.single(g.key, g.items[0] as I).then(only.resolve, only.reject);
      return;
    }
    this.o.batch(g.key, g.items).then(
      ({ results }) =>
        g.waiters.forEach((w, i) => {
          const r = results[i];
          if (r?.result === 'ok') w.resolve(r.ok);
          else if (r?.result === 'error') w.reject(this.o.itemError(r.error));
          else
            w.reject(this.o.itemError({ code: 13, message: `the batch returned no result for item ${i}` }));
        }),
      (e: unknown) => g.waiters.forEach((w) => w.reject(e)),
    );
  }
}
