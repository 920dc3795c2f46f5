import winston from 'winston';

/**
 * Structured JSON logs on stdout, and a separate audit stream. Both pass through {@link redact}, a last
 * line of defence: callers never log Secret data in the first place, and any field whose name looks
 * like it carries material is replaced before it is written.
 */
export type Logger = winston.Logger;

const SENSITIVE =
  /^(data|stringData|seed|seeds|key|keys|privateKey|plaintext|token|password|passphrase|jwt|creds)$/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return `[${value.length} bytes redacted]`;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SENSITIVE.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (k === 'level' || k === 'message') continue;
    info[k] = SENSITIVE.test(k) ? '[redacted]' : redact(info[k]);
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
