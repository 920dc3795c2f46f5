/**
 * An {@link EventRecorder} and an {@link AuditLog} that keep what they are given, for tests that assert
 * which Events and audit lines a reconcile produced (and, as importantly, which it did not).
 */
import type { EventRecorder, EventType } from '../events.ts';
import type { KubeObject } from '../kube/types.ts';
import type { AuditLog, AuditRecord } from '../log.ts';

export interface RecordedEvent {
  /** `Kind namespace/name` (or `Kind name`) of the object the Event is about. */
  object: string;
  type: EventType;
  reason: string;
  action: string;
  note: string;
}

export class RecordingEvents implements EventRecorder {
  readonly events: RecordedEvent[] = [];

  record(obj: KubeObject, type: EventType, reason: string, action: string, note: string): void {
    const { namespace, name } = obj.metadata;
    const object = `${obj.kind} ${namespace ? `${namespace}/` : ''}${name}`;
    this.events.push({ object, type, reason, action, note });
  }

  /** The reasons recorded so far, in order (`Warning/NamespaceRecreated`, …). */
  get reasons(): string[] {
    return this.events.map((e) => `${e.type}/${e.reason}`);
  }
}

export class RecordingAudit implements AuditLog {
  readonly records: AuditRecord[] = [];

  record(entry: AuditRecord): void {
    this.records.push(entry);
  }

  /** The actions audited so far, in order (`tenant.record.create`, …). */
  get actions(): string[] {
    return this.records.map((r) => r.action);
  }
}
