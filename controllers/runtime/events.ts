import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { KubeClient } from './kube/client.ts';
import type { KubeObject } from './kube/types.ts';
import type { Logger } from './log.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /** Records an Event about `obj`. `note` is for humans and must never carry secret material. */
  record(obj: KubeObject, type: EventType, reason: string, action: string, note: string): void;
}

/**
 * Writes `events.k8s.io/v1` Events, fire-and-forget (an Event that cannot be written must not fail a
 * reconcile). The same (object, reason, note) within `dedupeMs` is written once, so a controller that
 * re-reaches a verdict on every resync does not flood the API.
 */
export class ApiEventRecorder implements EventRecorder {
  private readonly recent = new Map<string, number>();
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly instance: string;
  private readonly dedupeMs: number;

  constructor(opts: { client: KubeClient; clock: Clock; log: Logger; instance: string; dedupeMs?: number }) {
    this.client = opts.client;
    this.clock = opts.clock;
    this.log = opts.log;
    this.instance = opts.instance;
    this.dedupeMs = opts.dedupeMs ?? 10 * 60_000;
  }

  record(obj: KubeObject, type: EventType, reason: string, action: string, note: string): void {
    const now = this.clock.now();
    const id = `${obj.metadata.uid}|${reason}|${note}`;
    const last = this.recent.get(id);
    if (last !== undefined && now - last < this.dedupeMs) return;
    this.recent.set(id, now);
    if (this.recent.size > 10_000) this.prune(now);
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

  private prune(now: number): void {
    for (const [k, t] of this.recent) if (now - t >= this.dedupeMs) this.recent.delete(k);
  }
}
