import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import { CredentialSource, type Connection } from './credentials.ts';
import { ApiError } from './errors.ts';
import type { KubeConfig } from './kubeconfig.ts';
import { SessionPool } from './sessions.ts';

/** The apiserver ends each watch cleanly after this long (plus jitter, so reconnects spread out). */
const SERVER_TIMEOUT_S = 300;
const SERVER_TIMEOUT_JITTER_S = 60;
/**
 * A watch silent this long is ended with a TimeoutError (the informer re-watches at once). Bookmarks
 * (asked for below) arrive about once a minute, and the server closes the watch first: this only
 * catches a stream that died quietly. Checked by one sweep for every watch, not a timer each.
 */
const INACTIVITY_MS = (SERVER_TIMEOUT_S + SERVER_TIMEOUT_JITTER_S + 60) * 1000;
const SWEEP_MS = 30_000;
/** TLS configurations whose connections are kept (credentials rotate rarely; old ones drain). */
const MAX_POOLS = 4;

/** One watch event: its type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and object, and the raw event. */
export type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
export type WatchDone = (err: unknown) => void;

/** What a ListWatch needs of a watch (and what a test may fake). */
export interface Watcher {
  watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: WatchDone,
  ): Promise<AbortController>;
}

/**
 * The watch half of an informer, made cheap to hold by the thousand (one or two per tenant namespace): each
 * watch is one HTTP/2 stream on a connection shared with up to 250 others (kube/sessions.ts), read as
 * newline-delimited JSON straight off the stream. A watch through fetch, web streams and readline (as
 * @kubernetes/client-node's) holds about 25 KiB of heap; this holds little more than the stream.
 *
 * The contract ListWatch (runtime/listwatch.ts) relies on: `watch()` resolves once the request was
 * answered (or failed) with an AbortController; `done` is called once, with null when the server ended
 * the watch, an error carrying `code` (ApiError) for a refused one (410 Gone: the informer relists), a
 * TimeoutError after {@link INACTIVITY_MS} of silence, or the stream's error. Aborting ends the watch
 * without calling `done`. Credentials are those of the client (re-read every minute, and at once after
 * a 401).
 */
export class LongWatch implements Watcher {
  private readonly config: KubeConfig;
  private readonly transform: (obj: unknown) => unknown;

  /** `transform` is applied to each object a watch event carries, before the cache sees it. */
  constructor(config: KubeConfig, transform: (obj: unknown) => unknown = (o) => o) {
    this.config = config;
    this.transform = transform;
  }

  async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: WatchDone,
  ): Promise<AbortController> {
    const controller = new AbortController();
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server + path);
    const timeoutSeconds = SERVER_TIMEOUT_S + Math.floor(Math.random() * SERVER_TIMEOUT_JITTER_S);
    const params = { ...queryParams, watch: true, allowWatchBookmarks: true, timeoutSeconds };
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    const w = new OpenWatch(this.transform, callback, done);
    try {
      const credentials = credentialsOf(this.config);
      const conn = await credentials.connection();
      if (url.protocol !== 'https:') throw new Error(`watches need an https server, not ${url.origin}`);
      const { stream, release } = await poolFor(url.origin, conn).open({
        ...lowercased(conn.headers),
        ':method': 'GET',
        ':path': url.pathname + url.search,
        accept: 'application/json',
      });
      w.attach(stream, release, () => void credentials.renew(conn).catch(() => undefined));
      controller.signal.addEventListener('abort', () => w.abort(), { once: true });
      await w.answered;
    } catch (e) {
      w.finish(e);
    }
    return controller;
  }
}

/**
 * One watch's state: the stream, the unparsed tail of its body, when it last heard from the server.
 * Exported for its unit test.
 */
export class OpenWatch {
  /** Resolves when the response headers arrived or the watch ended, whichever is first. */
  readonly answered: Promise<void>;
  lastHeard = performance.now();
  private answer: () => void = () => undefined;
  private stream: http2.ClientHttp2Stream | undefined;
  private release: (() => void) | undefined;
  /** The start of an event whose end has not arrived yet. */
  private readonly parts: string[] = [];
  private ended = false;
  private readonly transform: (obj: unknown) => unknown;
  private readonly callback: WatchCallback;
  private readonly done: WatchDone;

  constructor(transform: (obj: unknown) => unknown, callback: WatchCallback, done: WatchDone) {
    this.transform = transform;
    this.callback = callback;
    this.done = done;
    this.answered = new Promise((r) => (this.answer = r));
  }

  attach(stream: http2.ClientHttp2Stream, release: () => void, onUnauthorized: () => void): void {
    this.stream = stream;
    this.release = release;
    live.add(this);
    sweepSoon();
    stream.setEncoding('utf8');
    let status = 0;
    let body = '';
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      this.lastHeard = performance.now();
      this.answer();
      if (status === 401) onUnauthorized();
    });
    stream.on('data', (chunk: string) => {
      if (status === 200) this.read(chunk);
      else if (body.length < 65536) body += chunk;
    });
    stream.on('end', () => this.finish(status === 200 ? null : refused(status, body)));
    stream.on('error', (e) => this.finish(e));
    stream.on('close', () => this.finish(new Error('the watch stream closed before it ended')));
  }

  /** Ends the watch (if it has not ended) and reports `err` to `done`, once. */
  finish(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.close();
    this.done(err);
  }

  abort(): void {
    if (this.ended) return;
    this.ended = true;
    this.close();
  }

  /** Splits the body into lines; each is one watch event, `{"type": ..., "object": ...}`. */
  private read(chunk: string): void {
    this.lastHeard = performance.now();
    let from = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0 && !this.ended; nl = chunk.indexOf('\n', from)) {
      const line = this.parts.length ? this.parts.join('') + chunk.slice(from, nl) : chunk.slice(from, nl);
      this.parts.length = 0;
      from = nl + 1;
      if (line.trim() !== '') this.event(line);
    }
    if (from < chunk.length && !this.ended) this.parts.push(chunk.slice(from));
  }

  private event(line: string): void {
    let data: { type?: string; object?: unknown };
    try {
      data = JSON.parse(line) as typeof data;
    } catch {
      return this.finish(new Error('the API server sent a watch event that is not JSON'));
    }
    this.callback(data.type ?? '', this.transform(data.object), data);
  }

  private close(): void {
    live.delete(this);
    this.parts.length = 0;
    this.answer();
    const s = this.stream;
    this.stream = undefined;
    if (s && !s.closed) s.close(http2.constants.NGHTTP2_CANCEL);
    this.release?.();
  }
}

function refused(status: number, body: string): ApiError {
  try {
    const s = JSON.parse(body) as { reason?: string; message?: string };
    return new ApiError(status, s.reason ?? 'Unknown', s.message ?? `watch failed with HTTP ${status}`);
  } catch {
    return new ApiError(status, 'Unknown', `watch failed with HTTP ${status}`);
  }
}

const lowercased = (h: Readonly<Record<string, string | string[]>>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** Watches open now, for the inactivity sweep. */
const live = new Set<OpenWatch>();
let sweeper: NodeJS.Timeout | undefined;

function sweepSoon(): void {
  if (sweeper) return;
  sweeper = setInterval(() => {
    const now = performance.now();
    for (const w of live) if (now - w.lastHeard > INACTIVITY_MS) w.finish(timedOut());
    if (live.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }, SWEEP_MS);
  sweeper.unref();
}

function timedOut(): Error {
  const e = new Error(`the watch was silent for ${INACTIVITY_MS / 1000} s`);
  e.name = 'TimeoutError';
  return e;
}

const sources = new WeakMap<KubeConfig, CredentialSource>();

/** One credential source per kubeconfig, shared by its watches. */
function credentialsOf(kc: KubeConfig): CredentialSource {
  let s = sources.get(kc);
  if (!s) sources.set(kc, (s = new CredentialSource(kc)));
  return s;
}

const pools = new Map<string, SessionPool>();

/** The connection pool of an origin and TLS configuration; the oldest of more than MAX_POOLS is dropped. */
function poolFor(origin: string, conn: Connection): SessionPool {
  const key = createHash('sha256')
    .update(JSON.stringify([origin, conn.tls]))
    .digest('hex');
  let pool = pools.get(key);
  if (!pool) {
    pool = new SessionPool(origin, conn.tls);
    pools.set(key, pool);
    // NB: not destroyed: its watches end by themselves within minutes, and its idle connections close.
    if (pools.size > MAX_POOLS) pools.delete(pools.keys().next().value as string);
  }
  return pool;
}

/** Watch connections open now and the streams they carry, over every pool (for tests and benches). */
export function watchStats(): { connections: number; streams: number } {
  const sum = { connections: 0, streams: 0 };
  for (const p of pools.values()) {
    const s = p.stats();
    sum.connections += s.connections;
    sum.streams += s.streams;
  }
  return sum;
}
