/**
 * The kube-apiserver's audit log as a record of which writes were in flight when: each write is logged
 * when it arrives (`RequestReceived`) and when its response is complete (`ResponseComplete`), with the
 * authenticated user and microsecond timestamps from the apiserver's clock (the machine's clock).
 */
import { closeSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';

/**
 * Metadata of every write (no bodies: no key material in the log), both ends of each request. Events and
 * Leases are left out: they are not state a crash can damage.
 */
export const WRITE_AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [ResponseStarted]
rules:
  - level: None
    resources:
      - { group: '', resources: [events] }
      - { group: events.k8s.io, resources: [events] }
      - { group: coordination.k8s.io, resources: [leases] }
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`;

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

/** One write request: what, by whom, received and completed when (µs since the epoch). */
export interface Write {
  user: string;
  verb: string;
  resource: string;
  subresource: string;
  namespace: string;
  /** Empty for a create whose response was never logged (the name is in the body, not the URL). */
  name: string;
  receivedUs: number;
  completedUs?: number;
  code?: number;
}

/** Only the fields read here: a crash journey keeps tens of thousands of events. */
function slim(e: AuditEvent): AuditEvent {
  const { auditID, stage, verb, user, objectRef, responseStatus } = e;
  return {
    auditID,
    stage,
    verb,
    user: { username: user.username },
    ...(objectRef ? { objectRef } : {}),
    ...(responseStatus ? { responseStatus: { code: responseStatus.code } } : {}),
    requestReceivedTimestamp: e.requestReceivedTimestamp,
    stageTimestamp: e.stageTimestamp,
  } as AuditEvent;
}

/** µs since the epoch of an RFC 3339 timestamp with up to 9 fractional digits (`...:34.548577Z`). */
export function micros(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m?.[1]) throw new Error(`not an audit timestamp: ${ts}`);
  const fraction = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return Date.parse(`${m[1]}Z`) * 1000 + Number(fraction);
}

/**
 * Follows an audit log as the apiserver appends to it, keeping the events of the users `keep` accepts.
 */
export class AuditTail {
  readonly events: AuditEvent[] = [];
  readonly file: string;
  #fd: number;
  #offset = 0;
  #partial = '';
  #keep: (line: string) => boolean;

  private constructor(file: string, fd: number, keep: (line: string) => boolean) {
    this.file = file;
    this.#fd = fd;
    this.#keep = keep;
  }

  /** `keep` sees each raw JSON line: a cheap substring test avoids parsing other users' events. */
  static open(file: string, keep: (line: string) => boolean): AuditTail {
    return new AuditTail(file, openSync(file, 'r'), keep);
  }

  /** Reads what was appended since the last read; returns the new events kept. */
  read(): AuditEvent[] {
    const fresh: AuditEvent[] = [];
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(this.#fd, buf, 0, buf.length, this.#offset);
      if (n === 0) return fresh;
      this.#offset += n;
      const lines = (this.#partial + buf.subarray(0, n).toString('utf8')).split('\n');
      this.#partial = lines.pop() ?? '';
      for (const line of lines)
        if (line && this.#keep(line)) {
          const e = slim(JSON.parse(line) as AuditEvent);
          this.events.push(e);
          fresh.push(e);
        }
    }
  }

  /**
   * Resolves as soon as a request `pred` accepts (after the first `skip` such requests) is still open
   * (received, not complete) in what the log shows, with its first event; undefined after `timeoutMs`. Reads are synchronous and
   * triggered by inotify: the sooner a request is seen, the likelier it is still open when acted on.
   */
  async untilOpen(
    pred: (e: AuditEvent) => boolean,
    timeoutMs: number,
    opts: { skip?: number } = {},
  ): Promise<AuditEvent | undefined> {
    const open = new Map<string, AuditEvent>();
    let skip = opts.skip ?? 0;
    const scan = (): AuditEvent | undefined => {
      for (const e of this.read()) {
        if (e.stage === 'RequestReceived' && pred(e) && skip-- <= 0) open.set(e.auditID, e);
        else open.delete(e.auditID);
      }
      return open.values().next().value;
    };
    const now = scan();
    if (now) return now;
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    try {
      return await new Promise<AuditEvent | undefined>((resolve) => {
        const check = () => {
          const hit = scan();
          if (hit) resolve(hit);
        };
        watcher = watch(this.file, check);
        poll = setInterval(check, 20);
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      });
    } finally {
      watcher?.close();
      clearInterval(poll);
      clearTimeout(timer);
    }
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** The writes in `events`, by user: each request's two ends joined by audit ID. */
export function writesByUser(events: AuditEvent[]): Map<string, Write[]> {
  const byId = new Map<string, Write>();
  for (const e of events) {
    const w = byId.get(e.auditID) ?? {
      user: e.user.username,
      verb: e.verb,
      resource: e.objectRef?.resource ?? '',
      subresource: e.objectRef?.subresource ?? '',
      namespace: e.objectRef?.namespace ?? '',
      name: e.objectRef?.name ?? '',
      receivedUs: micros(e.requestReceivedTimestamp),
    };
    if (e.stage === 'ResponseComplete' || e.stage === 'Panic') {
      w.completedUs = micros(e.stageTimestamp);
      w.code = e.responseStatus?.code ?? 0;
      // NB: a create's name is known only once the body is decoded, so only at the later stages.
      w.name ||= e.objectRef?.name ?? '';
    }
    byId.set(e.auditID, w);
  }
  const out = new Map<string, Write[]>();
  for (const w of byId.values()) out.set(w.user, [...(out.get(w.user) ?? []), w]);
  return out;
}

/**
 * The writes in flight across a kill: received before the signal was sent, and not completed before the
 * sender saw the kill delivered. Timestamps within the same microsecond are not counted as in flight.
 */
export function inFlight(writes: Write[], kill: { sentUs: number; deliveredUs: number }): Write[] {
  return writes.filter(
    (w) => w.receivedUs < kill.sentUs && (w.completedUs === undefined || w.completedUs > kill.deliveredUs),
  );
}
