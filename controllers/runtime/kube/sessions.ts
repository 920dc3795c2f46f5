/**
 * HTTP/2 connections to the API server, shared by every watch of one TLS configuration: a watch is one
 * stream, and a connection carries up to {@link MAX_STREAMS} of them (fewer if the server says so in its
 * SETTINGS; kube-apiserver's --http2-max-streams-per-connection). Thousands of watches then hold a few
 * dozen TLS sockets. A connection that stops answering pings is destroyed, which ends its streams with
 * an error (their informers restart); one that the server ends (GOAWAY, restart) takes no new streams.
 */
import http2 from 'node:http2';
import type { TlsMaterial } from './kubeconfig.ts';

/** Streams per connection at most: the loss of one connection restarts at most this many watches. */
export const MAX_STREAMS = 250;
/** A connection is pinged this often, and destroyed when a ping is not answered within PING_TIMEOUT_MS. */
const PING_EVERY_MS = 30_000;
const PING_TIMEOUT_MS = 15_000;
/** Streams on a connection before the server's SETTINGS say how many it allows (RFC 9113 §6.5.2: ≥ 100). */
const UNSETTLED_STREAMS = 100;
/** A connection left without streams this long is closed. */
const IDLE_MS = 30_000;

interface Entry {
  session: http2.ClientHttp2Session;
  /** Resolves once the server's SETTINGS arrived (its stream limit is known), or the session failed. */
  ready: Promise<void>;
  settled: boolean;
  streams: number;
  usable: boolean;
  idle: NodeJS.Timeout | undefined;
}

/** The connections of one origin and TLS configuration. */
export class SessionPool {
  private readonly origin: string;
  private readonly tls: Readonly<TlsMaterial>;
  private readonly entries = new Set<Entry>();

  constructor(origin: string, tls: Readonly<TlsMaterial>) {
    this.origin = origin;
    this.tls = tls;
  }

  /**
   * Opens a stream with `headers` on a connection with room for it. The caller must call the returned
   * `release` once, when the stream has closed.
   */
  async open(
    headers: http2.OutgoingHttpHeaders,
  ): Promise<{ stream: http2.ClientHttp2Stream; release: () => void }> {
    let e = this.withRoom();
    if (!e) {
      e = this.connect();
      this.entries.add(e);
    }
    e.streams++;
    clearTimeout(e.idle);
    e.session.ref();
    const entry = e;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.released(entry);
    };
    try {
      await e.ready;
      return { stream: e.session.request(headers, { endStream: true }), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Connections open now and the streams they carry (for tests and benches). */
  stats(): { connections: number; streams: number } {
    let streams = 0;
    for (const e of this.entries) streams += e.streams;
    return { connections: this.entries.size, streams };
  }

  private withRoom(): Entry | undefined {
    for (const e of this.entries) {
      if (!e.usable) continue;
      const limit = e.settled
        ? Math.min(MAX_STREAMS, e.session.remoteSettings.maxConcurrentStreams ?? MAX_STREAMS)
        : UNSETTLED_STREAMS;
      if (e.streams < limit) return e;
    }
    return undefined;
  }

  private connect(): Entry {
    const session = http2.connect(this.origin, { ...this.tls });
    const entry: Entry = {
      session,
      ready: Promise.resolve(),
      settled: false,
      streams: 0,
      usable: true,
      idle: undefined,
    };
    const retire = () => {
      entry.usable = false;
      this.entries.delete(entry);
      clearTimeout(entry.idle);
    };
    entry.ready = new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => {
        entry.settled = true;
        resolve();
      });
      session.once('error', reject);
      session.once('close', () => reject(new Error(`the connection to ${this.origin} closed`)));
    });
    entry.ready.catch(() => undefined);
    session.on('error', retire);
    session.on('goaway', retire);
    session.on('close', retire);
    const pinger = setInterval(() => ping(session), PING_EVERY_MS);
    pinger.unref();
    session.once('close', () => clearInterval(pinger));
    return entry;
  }

  private released(e: Entry): void {
    e.streams--;
    if (e.streams > 0 || !e.usable) return;
    // NB: an idle connection neither keeps the process alive nor stays open for long.
    e.session.unref();
    e.idle = setTimeout(() => {
      this.entries.delete(e);
      e.usable = false;
      e.session.close();
    }, IDLE_MS);
    e.idle.unref();
  }
}

function ping(session: http2.ClientHttp2Session): void {
  if (session.closed || session.destroyed) return;
  const deadline = setTimeout(
    () => session.destroy(new Error(`the API server did not answer a ping within ${PING_TIMEOUT_MS} ms`)),
    PING_TIMEOUT_MS,
  );
  deadline.unref();
  const sent = session.ping((err) => {
    clearTimeout(deadline);
    if (err && !session.destroyed) session.destroy(err);
  });
  if (!sent) clearTimeout(deadline);
}
