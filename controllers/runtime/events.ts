import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { KubeClient } from './kube/client.ts';
import type { KubeObject } from './kube/types.ts';
import type { Logger } from './log.ts';
import { TokenBucket, type BucketSpec } from './tokenbucket.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /** Records an Event about `obj`. `note` is for humans and must never carry secret material. */
  record(obj: KubeObject, type: EventType, reason: string, action: string, note: string): void;
}

/**
 * The keys written within the last `windowMs`, oldest first: a Map keeps insertion order, a key is
 * (re)inserted only when it is written, and writes come in clock order, so the expired keys are always at
 * the front. A check costs O(1) amortized: it drops expired keys from the front until a live one (each key
 * is dropped once), never walks the rest. Past `capacity` live keys the oldest is dropped early, which at
 * worst lets one duplicate Event through. NB: a clock that steps back only delays expiry.
 * A key is held as a 64-bit digest (8 latin1 characters, the smallest string V8 makes of it), not as given:
 * an Event's key carries its note, and 10,000 notes (each naming its tenant, so none shared) were about
 * 0.6 KiB of heap per tenant. A time is held from the first call on, which keeps it a small integer (no
 * boxed number per key) for the first 12 days.
 */
export class RecentKeys {
  private readonly at = new Map<string, number>();
  private readonly windowMs: number;
  private readonly capacity: number;
  private origin: number | undefined;

  constructor(windowMs: number, capacity: number) {
    this.windowMs = windowMs;
    this.capacity = capacity;
  }

  get size(): number {
    return this.at.size;
  }

  /** True when `key` was written within the window (skip the write); otherwise notes it as written now. */
  seen(given: string, at: number): boolean {
    const key = createHash('sha256').update(given).digest().toString('latin1', 0, 8);
    const now = at - (this.origin ??= at);
    const last = this.at.get(key);
    if (last !== undefined && now - last < this.windowMs) return true;
    this.at.delete(key);
    this.at.set(key, now);
    this.expire(now);
    return false;
  }

  private expire(now: number): void {
    for (const [key, t] of this.at) {
      if (now - t < this.windowMs && this.at.size <= this.capacity) return;
      this.at.delete(key);
    }
  }
}

/**
 * The default: a few tenants a minute never come near it, while 10,000 tenants created at once (or their
 * keys rotating together) spend their API writes on the tenants, not on Events about them.
 */
/** How many Normal Events a replica writes at once, and per second after that. */
export const DEFAULT_NORMAL_EVENT_BUDGET: BucketSpec = { burst: 100, perSecond: 10 };

/**
 * Writes `events.k8s.io/v1` Events, fire-and-forget (an Event that cannot be written must not fail a
 * reconcile). The same (object, reason, note) within `dedupeMs` is written once, so a controller that
 * re-reaches a verdict on every resync does not flood the API; at most `dedupeKeys` (default 10,000)
 * keys are remembered. Normal Events beyond `normalBudget` are dropped and counted (`onDropped`): each
 * costs the API server a write, as much as a tenant's own, and the audit log has every action anyway.
 * Warnings are never dropped.
 */
export class ApiEventRecorder implements EventRecorder {
  private readonly recent: RecentKeys;
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly instance: string;
  private readonly normal: TokenBucket;
  private readonly onDropped: (type: EventType) => void;

  constructor(opts: {
    client: KubeClient;
    clock: Clock;
    log: Logger;
    instance: string;
    dedupeMs?: number;
    dedupeKeys?: number;
    normalBudget?: BucketSpec;
    onDropped?: (type: EventType) => void;
  }) {
    this.client = opts.client;
    this.clock = opts.clock;
    this.log = opts.log;
    this.instance = opts.instance;
    this.recent = new RecentKeys(opts.dedupeMs ?? 10 * 60_000, opts.dedupeKeys ?? 10_000);
    this.normal = new TokenBucket(opts.normalBudget ?? DEFAULT_NORMAL_EVENT_BUDGET, this.clock.now());
    this.onDropped = opts.onDropped ?? (() => undefined);
  }

  record(obj: KubeObject, type: EventType, reason: string, action: string, note: string): void {
    const now = this.clock.now();
    if (this.recent.seen(`${obj.metadata.uid}|${reason}|${note}`, now)) return;
    if (type === 'Normal' && !this.normal.take(now)) return this.onDropped(type);
    const namespace = obj.metadata.namespace ?? 'default';
    const event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
      eventTime: new Date(now).toISOString().replace('Z', '000Z'),
      type,
      reason,
      action,
      note: note.slice(0, 1024),
      reportingController: 'palisade.dev/operator',
      reportingInstance: this.instance,
      regarding: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        uid: obj.metadata.uid,
      },
    };
    this.client.create(event as KubeObject).catch((e: unknown) => {
      this.log.warn('could not record event', { reason, kind: obj.kind, name: obj.metadata.name, error: e });
    });
  }
}
