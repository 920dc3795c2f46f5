import type { Reconcile, ReconcileResult } from './controller.ts';
import { ApiError, isAlreadyExists } from './errors.ts';
import type { ObjectCache } from './informer.ts';
import type { KubeApi } from './kube/api.ts';
import { splitKey, type KubeObject } from './kube/types.ts';
import { addFinalizer, hasFinalizer, refOf, removeFinalizer, statusDiffers, writeStatus } from './objects.ts';

/** What a kind's reconcile hands back: the one status to write, and what happens next. */
export interface Outcome<S> {
  /** Written once by the driver, after the kind's effects, and skipped when nothing changed. */
  status?: S;
  /** Called with whether the status write happened (e.g. to audit a first assignment exactly once). */
  afterStatus?(wrote: boolean): void;
  requeueAfterMs?: number;
  /**
   * The status waits on a change expected shortly elsewhere (a child this reconcile just made, whose
   * update re-enqueues the object): the driver holds the write for up to this long from the first such
   * outcome, so a new object's status is written once, settled, instead of once now and again a moment
   * later. Still waiting after that, it is written. Ignored with `retry` (an error's status goes out now).
   */
  settleMs?: number;
  /** An error to rethrow (retry with backoff) once the status that explains it is written. */
  retry?: unknown;
}

/**
 * One kind as the driver sees it: an object in, an {@link Outcome} out. The driver owns the rest of the
 * contract — fetching the object from the cache, the deletion branch and the finalizer, the single status
 * write, and how errors are classified (controller.ts: retry, terminal, stale).
 */
export interface Kind<T extends KubeObject & { status?: S }, S> {
  /** The finalizer the kind keeps while an object lives; its deletion work runs before it goes. */
  finalizer?: string;
  /** The deletion branch (while the finalizer is on); the driver removes the finalizer afterwards. */
  finalize?(obj: T): Promise<void>;
  reconcile(obj: T): Promise<Outcome<S>>;
  /** The object is gone, or going without a finalizer of ours: forget what is held about it (metrics). */
  forget?(namespace: string | undefined, name: string): void;
}

/** The reconcile function the Controller runs for `kind`: the contract in one place. */
export function reconcilerFor<T extends KubeObject & { status?: S }, S>(
  o: { cache: ObjectCache<T>; client: KubeApi; now?: () => number },
  kind: Kind<T, S>,
): Reconcile {
  const now = o.now ?? Date.now;
  // Keys whose status write is held (Outcome.settleMs), with when the hold ends.
  const settling = new Map<string, number>();
  /** How long the status write of `key` is still held; 0 to write it now. */
  const heldFor = (key: string, current: T, outcome: Outcome<S>): number => {
    const status = outcome.status as S;
    if (outcome.settleMs === undefined || outcome.retry !== undefined || !statusDiffers(current, status)) {
      settling.delete(key);
      return 0;
    }
    const t = now();
    let until = settling.get(key);
    if (until === undefined) settling.set(key, (until = t + outcome.settleMs));
    if (t < until) return until - t;
    settling.delete(key);
    return 0;
  };
  return async (key: string): Promise<ReconcileResult | void> => {
    const { namespace, name } = splitKey(key);
    const obj = o.cache.get(name, namespace);
    if (!obj || obj.metadata.deletionTimestamp) settling.delete(key);
    if (!obj) return kind.forget?.(namespace, name);
    if (obj.metadata.deletionTimestamp) {
      if (!kind.finalizer || !hasFinalizer(obj, kind.finalizer)) return kind.forget?.(namespace, name);
      await kind.finalize?.(obj);
      await removeFinalizer(o.client, obj, kind.finalizer);
      return;
    }
    const current = kind.finalizer ? await addFinalizer(o.client, obj, kind.finalizer) : obj;
    const outcome = await kind.reconcile(current);
    const held = outcome.status === undefined ? 0 : heldFor(key, current, outcome);
    if (held > 0) {
      outcome.afterStatus?.(false);
      return { requeueAfterMs: Math.min(held, outcome.requeueAfterMs ?? held) };
    }
    if (outcome.status !== undefined) {
      const wrote = await writeStatus(o.client, current, outcome.status);
      outcome.afterStatus?.(wrote);
    }
    if (outcome.retry !== undefined) throw outcome.retry;
    return outcome.requeueAfterMs !== undefined ? { requeueAfterMs: outcome.requeueAfterMs } : undefined;
  };
}

/**
 * Creates `obj` only if nothing of its name exists, else returns the object that won (a crashed earlier
 * run's, or a racing replica's): the one create-only-then-adopt path for key material and records. The
 * caller decides whether the winner is acceptable (its labels, its owner, its bytes).
 */
export async function createOrAdopt<T extends KubeObject>(
  client: Pick<KubeApi, 'create' | 'get'>,
  obj: T,
): Promise<{ object: T; created: boolean }> {
  try {
    return { object: await client.create<T>(obj), created: true };
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const winner = await client.get<T>(refOf(obj));
    if (!winner) {
      throw new ApiError(409, 'Conflict', `${obj.kind} ${obj.metadata.name} vanished right after creation`, {
        cause: e,
      });
    }
    return { object: winner, created: false };
  }
}
