import { createHash } from 'node:crypto';
import { Watch, type KubeConfig } from '@kubernetes/client-node';

/** The apiserver ends each watch cleanly after this long (plus jitter, so reconnects spread out). */
const SERVER_TIMEOUT_S = 300;
const SERVER_TIMEOUT_JITTER_S = 60;
/**
 * The client gives up on a watch silent this long. Bookmarks (asked for below) arrive about once a
 * minute, and the server closes the watch first: this only catches a connection that died quietly.
 */
const INACTIVITY_MS = (SERVER_TIMEOUT_S + SERVER_TIMEOUT_JITTER_S + 60) * 1000;
const MAX_POOLS = 4;

/**
 * The library's Watch, made cheap to hold by the thousand (one per tenant namespace): a quiet watch is
 * kept open by bookmarks and ended by the server, instead of being aborted after 30 s of silence and
 * re-opened on a new TLS connection; and every watch of one configuration shares one connection pool, so
 * a re-opened watch reuses a kept-alive connection instead of building a TLS context and handshake.
 */
export class LongWatch extends Watch {
  private readonly transform: (obj: unknown) => unknown;

  /** `transform` is applied to each object a watch event carries, before the cache sees it. */
  constructor(config: KubeConfig, transform: (obj: unknown) => unknown = (o) => o) {
    super(config);
    this.transform = transform;
    // NB: the library keeps this private; it is the only knob for the client-side inactivity limit.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = INACTIVITY_MS;
    sharePools(config);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const timeoutSeconds = SERVER_TIMEOUT_S + Math.floor(Math.random() * SERVER_TIMEOUT_JITTER_S);
    const cb = (phase: string, obj: unknown, w?: unknown) => callback(phase, this.transform(obj), w);
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds }, cb, done);
  }
}

type MakeDispatcher = (cluster: unknown, agentOptions: unknown) => unknown;
const shared = new WeakSet<KubeConfig>();

/** One dispatcher per TLS configuration (credentials rotate rarely; the last few are kept). */
function sharePools(kc: KubeConfig): void {
  if (shared.has(kc)) return;
  shared.add(kc);
  const target = kc as unknown as {
    createDispatcher: MakeDispatcher;
    createDispatcherOptions: (cluster: unknown, agentOptions: unknown) => unknown;
  };
  const make = target.createDispatcher.bind(kc);
  const pools = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const options = JSON.stringify(target.createDispatcherOptions(cluster, agentOptions));
    const key = createHash('sha256').update(options).digest('hex');
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = make(cluster, agentOptions);
      pools.set(key, pool);
      if (pools.size > MAX_POOLS) pools.delete(pools.keys().next().value as string);
    }
    return pool;
  };
}
