import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';

/**
 * Structured JSON logs on stdout, and a separate audit stream. Both pass through {@link redact}, a last
 * line of defence: callers never log Secret data in the first place.
 *
 * The rule, applied to every field at any depth (and to the message itself):
 *
 * - **By type**: bytes (`Uint8Array`, `Buffer`, any typed array, `ArrayBuffer`) become
 *   `"[N bytes redacted]"`: in Palisade, key material is bytes.
 * - **By field name**, exactly and ignoring case: `data`, `stringData`, `seed(s)`, `privateKey`,
 *   `plaintext`, `token`, `password`, `passphrase`, `jwt`, `creds` — the names under which Secrets and
 *   credentials carry material. The value becomes `"[redacted]"`.
 * - **By value shape**, inside any string (so an error message keeps its words): a PEM private key or
 *   NATS seed block, a NATS nkey seed (`S` + role letter + base32, e.g. `SU…`, `SA…`, `SO…`), a JWT
 *   (`eyJ….….…`), and any run of 40+ base64 characters mixing upper and lower case (a 32-byte key in
 *   base64 is 43–44 characters). Each becomes `[redacted]`.
 *
 * What stays visible, on purpose: object references (`namespace/name`), UIDs, resource paths, NATS
 * public keys (upper-case base32, no lower case), key IDs and `sha256:` fingerprints (lower-case hex).
 * Hex is never treated as material: Palisade shows only public values in hex and never encodes a key
 * that way. Errors keep their name, message, own fields (`reason`, `code`) and `cause`, all redacted;
 * objects nested deeper than {@link MAX_DEPTH} are dropped rather than written unchecked.
 */
export type Logger = winston.Logger;

const SENSITIVE_NAME = /^(data|stringData|seeds?|privateKey|plaintext|token|password|passphrase|jwt|creds)$/i;

const MATERIAL: readonly RegExp[] = [
  // PEM private keys (any algorithm, encrypted or not) and the seed block of a NATS .creds file;
  // an unterminated block is redacted to the end of the string.
  /-----BEGIN [A-Z0-9 ]*(?:PRIVATE KEY|SEED)-----[\s\S]*?(?:-----END [A-Z0-9 ]*(?:PRIVATE KEY|SEED)-+|$)/g,
  // NATS nkey seeds: "S" + the role's prefix letter + base32 (58 characters in all).
  /\bS[ACNOPUX][A-Z2-7]{50,}/g,
  // JWTs: three base64url parts, the first a JSON object ("eyJ" = '{"').
  /\beyJ[\w-]*\.[\w-]*\.[\w-]*/g,
];
const BASE64_RUN = /[A-Za-z0-9+/_-]{40,}={0,2}/g;
/** The characters of {@link BASE64_RUN} (a superset of an nkey seed's), by char code. */
const RUN_CHAR = new Uint8Array(128).map((_, c) => (/[A-Za-z0-9+/_-]/.test(String.fromCharCode(c)) ? 1 : 0));

/**
 * Whether `s` has what every pattern above needs: `-----BEGIN`, `eyJ`, or a run of 40 base64
 * characters. Most strings have none and skip the regular expressions.
 */
function mayHoldMaterial(s: string): boolean {
  if (s.includes('-----BEGIN') || s.includes('eyJ')) return true;
  if (s.length < 40) return false;
  for (let i = 0, run = 0; i < s.length; i++) {
    run = RUN_CHAR[s.charCodeAt(i)] === 1 ? run + 1 : 0;
    if (run >= 40) return true;
  }
  return false;
}
const MIXED_CASE = /^(?=.*[a-z])(?=.*[A-Z])/;
const REDACTED = '[redacted]';

/** Nesting depth below which values are still inspected; deeper objects are dropped. */
export const MAX_DEPTH = 6;

/** `s` with every substring that looks like key material replaced by `[redacted]`. */
export function redactString(s: string): string {
  if (!mayHoldMaterial(s)) return s;
  let out = s;
  for (const re of MATERIAL) out = out.replace(re, REDACTED);
  return out.replace(BASE64_RUN, (run) => (MIXED_CASE.test(run) ? REDACTED : run));
}

/** A copy of `value` safe to log, by the rule above. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return `[${value.byteLength} bytes redacted]`;
  }
  if (value instanceof Date) return value;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (value instanceof Error) {
    const { cause } = value;
    return {
      name: value.name,
      message: redactString(value.message),
      ...redactFields(value, depth),
      ...(cause === undefined ? {} : { cause: redact(cause, depth + 1) }),
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return redactFields(value, depth);
}

function redactFields(value: object, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SENSITIVE_NAME.test(k) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (k === 'level') continue;
    info[k] = k !== 'message' && SENSITIVE_NAME.test(k) ? REDACTED : redact(info[k], 1);
  }
  return info;
});

export function createLogger(opts: { level?: string; stream?: NodeJS.WritableStream } = {}): Logger {
  return winston.createLogger({
    level: opts.level ?? 'info',
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: opts.stream ?? process.stdout })],
  });
}

/** One audited action: who did what to which key, credential or certificate, and how it ended. */
export interface AuditRecord {
  action: string;
  outcome: 'Success' | 'Failure';
  resource: { kind: string; name: string; namespace?: string; uid?: string };
  tenantUID?: string;
  keyId?: string;
  version?: number;
  actor?: string;
  reason?: string;
}

export interface AuditLog {
  record(entry: AuditRecord): void;
}

/** The audit log {@link createAuditLog} opens: lines are batched per event-loop turn. */
export interface AuditWriter extends AuditLog {
  /** Writes the lines not yet written, now: synchronously to a file, or handed to the stream. */
  flush(): void;
  /** Flushes, then closes the file (a stream is left open); later records are dropped. */
  close(): Promise<void>;
}

/**
 * One audit line, as the winston pipeline this replaced wrote it: `{ audit: true, actor, ...entry }`
 * plus `level: "info"`, `message: "audit"` and an ISO `timestamp`; every field passed through
 * {@link redact} (a field with a sensitive name becomes `[redacted]`); keys sorted at every depth;
 * `undefined` fields left out, non-finite numbers as `null`, bigints as strings, dates as ISO strings.
 */
export function auditLine(actor: string, entry: AuditRecord, timestamp: string): string {
  const info: Record<string, unknown> = { audit: true, actor, ...entry, level: 'info', message: 'audit' };
  for (const k in info) {
    if (k !== 'level') info[k] = k !== 'message' && SENSITIVE_NAME.test(k) ? REDACTED : redact(info[k], 1);
  }
  info.timestamp = timestamp;
  return `${sortedJson(info) ?? ''}\n`;
}

/**
 * `value` as JSON with object keys in sorted order at every depth, as `safe-stable-stringify` (winston's
 * JSON) writes it: `undefined` left out, non-finite numbers as `null`, bigints as strings, `toJSON`
 * honoured. Objects are rebuilt with their keys inserted in sorted order and serialized by one
 * `JSON.stringify`; but an integer-like key comes first in insertion order whatever its sorted place,
 * so a value with a key that starts with a digit is written key by key instead.
 */
function sortedJson(value: unknown): string | undefined {
  const copy = sortedCopy(value);
  return copy === DIGIT_KEY ? keyByKey(value) : JSON.stringify(copy);
}

const DIGIT_KEY = Symbol('digit key');

function sortedCopy(value: unknown): unknown {
  if (typeof value === 'bigint') return String(value);
  if (typeof value !== 'object' || value === null) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return sortedCopy(toJSON.call(value));
  if (Array.isArray(value)) {
    const out = value.map(sortedCopy);
    return out.includes(DIGIT_KEY) ? DIGIT_KEY : out;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) {
    const c = k.charCodeAt(0);
    const v = sortedCopy((value as Record<string, unknown>)[k]);
    if ((c >= 48 && c <= 57) || v === DIGIT_KEY) return DIGIT_KEY;
    out[k] = v;
  }
  return out;
}

function keyByKey(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `"${value}"`;
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return 'null';
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return keyByKey(toJSON.call(value));
  if (Array.isArray(value)) return `[${value.map((v) => keyByKey(v) ?? 'null').join(',')}]`;
  const fields: string[] = [];
  for (const k of Object.keys(value).sort()) {
    const v = keyByKey((value as Record<string, unknown>)[k]);
    if (v !== undefined) fields.push(`${JSON.stringify(k)}:${v}`);
  }
  return `{${fields.join(',')}}`;
}

/** Writers with lines pending, flushed synchronously when the process exits. */
const open = new Set<AuditWriter>();
let exitHook = false;

/**
 * Audit lines go to their own stream (a file by default, or stderr) so they can be shipped and retained
 * apart from operational logs; each line has `"audit": true` for filtering when streams are merged.
 *
 * A record costs its serialization and an array push; the lines of one event-loop turn are written
 * together at the end of it (or once 64 Ki characters are pending). A file is opened for append at once (its
 * folder created; an unusable path throws here, at startup) and written synchronously, so no write is
 * ever in flight: lines pending when the process exits — `process.exit()` after a graceful stop
 * included — are written by an `exit` hook, and {@link AuditWriter.close} flushes too. A failed write
 * drops its lines and says so on stderr, once per run of failures; it never stops the process.
 */
export function createAuditLog(opts: {
  file?: string;
  stream?: NodeJS.WritableStream;
  actor: string;
}): AuditWriter {
  const write = opts.file ? fileWriter(opts.file) : streamWriter(opts.stream ?? process.stderr);
  let pending: string[] = [];
  let size = 0;
  let scheduled = false;
  let closed = false;
  const writer: AuditWriter = {
    record(entry) {
      if (closed) return;
      const line = auditLine(opts.actor, entry, isoNow());
      if (pending.length === 0) open.add(writer);
      pending.push(line);
      size += line.length;
      if (size >= FLUSH_AT) writer.flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          writer.flush();
        });
      }
    },
    flush() {
      open.delete(writer);
      if (pending.length === 0) return;
      const text = pending.join('');
      pending = [];
      size = 0;
      write.lines(text);
    },
    async close() {
      writer.flush();
      closed = true;
      await write.close();
    },
  };
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const w of open) w.flush();
    });
  }
  return writer;
}

const FLUSH_AT = 64 * 1024;

let lastMs = 0;
let lastIso = '';
/** `new Date().toISOString()`, formatted once per millisecond. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

interface LineWriter {
  lines(text: string): void;
  close(): Promise<void>;
}

function fileWriter(file: string): LineWriter {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let fd: number | undefined = fs.openSync(file, 'a');
  let failing = false;
  return {
    lines(text) {
      if (fd === undefined) return;
      const buf = Buffer.from(text);
      try {
        // NB: writeSync may write less than asked (a full disk, a signal); the rest follows.
        for (let off = 0, n = 1; off < buf.length && n > 0; off += n) n = fs.writeSync(fd, buf, off);
        failing = false;
      } catch (e) {
        if (!failing) process.stderr.write(`audit log ${file}: write failed, lines dropped: ${String(e)}\n`);
        failing = true;
      }
    },
    async close() {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  };
}

function streamWriter(stream: NodeJS.WritableStream): LineWriter {
  return {
    lines(text) {
      stream.write(text);
    },
    close: () => new Promise<void>((resolve) => stream.write('', () => resolve())),
  };
}
