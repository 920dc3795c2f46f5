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
const MIXED_CASE = /^(?=.*[a-z])(?=.*[A-Z])/;
const REDACTED = '[redacted]';

/** Nesting depth below which values are still inspected; deeper objects are dropped. */
export const MAX_DEPTH = 6;

/** `s` with every substring that looks like key material replaced by `[redacted]`. */
export function redactString(s: string): string {
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

/**
 * Audit lines go to their own stream (a file by default, or stderr) so they can be shipped and retained
 * apart from operational logs; each line has `"audit": true` for filtering when streams are merged.
 */
export function createAuditLog(opts: {
  file?: string;
  stream?: NodeJS.WritableStream;
  actor: string;
}): AuditLog {
  const transport = opts.file
    ? new winston.transports.File({ filename: opts.file })
    : new winston.transports.Stream({ stream: opts.stream ?? process.stderr });
  const logger = winston.createLogger({
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [transport],
  });
  return {
    record(entry) {
      logger.info('audit', { audit: true, actor: opts.actor, ...entry });
    },
  };
}
