/**
 * Credentials that change while the process runs. Projected ServiceAccount tokens are rewritten by the
 * kubelet (about hourly; the old one stops working when it expires or its bound object goes), a
 * kubeconfig's `tokenFile` may be rewritten by whoever issued it, and exec plugins hand out credentials
 * with an expiry. client-go re-reads a token file at most every minute and retries a 401 once with fresh
 * credentials; this module gives the {@link KubeClient} and the informers' watches the same behaviour.
 */
import https from 'node:https';
import type { Credentials, KubeConfig, TlsMaterial } from './kubeconfig.ts';

/**
 * What one request needs: a keep-alive agent with the TLS material, and the auth headers. Watches use
 * the TLS material for connections of their own (kube/watch.ts).
 */
export interface Connection {
  readonly agent: https.Agent;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly tls: Readonly<TlsMaterial>;
}

interface Loaded extends Connection {
  readonly loadedAt: number;
  /** How long it is used without re-reading: `refreshMs`, or less when an exec credential expires sooner. */
  readonly freshFor: number;
  readonly credentials: Credentials;
}

/**
 * The connection to use, re-applied from the kubeconfig at most every `refreshMs` and at once when the
 * server rejected the current one. Exec plugins run through the same path: their credential is kept
 * until it expires, and the plugin runs again when the server rejected it. The keep-alive agent is
 * replaced only when the TLS material itself changed.
 */
export class CredentialSource {
  private readonly kc: KubeConfig;
  private readonly refreshMs: number;
  private readonly now: () => number;
  private current: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;

  constructor(kc: KubeConfig, opts: { refreshMs?: number; now?: () => number } = {}) {
    this.kc = kc;
    this.refreshMs = opts.refreshMs ?? 60_000;
    this.now = opts.now ?? (() => performance.now());
  }

  /** The cached connection while it is fresh; a periodic refresh that fails keeps the last one. */
  async connection(): Promise<Connection> {
    const c = this.current;
    if (c && this.now() - c.loadedAt < c.freshFor) return c;
    if (!c) return this.load();
    return this.load().catch(() => c);
  }

  /** A connection newer than `rejected` (answered 401): reloaded unless another caller did already. */
  async renew(rejected: Connection): Promise<Connection> {
    const c = this.current;
    if (c && c !== rejected) return c;
    return this.load(c?.credentials);
  }

  private load(rejected?: Credentials): Promise<Loaded> {
    this.loading ??= this.read(rejected).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async read(rejected?: Credentials): Promise<Loaded> {
    const credentials = await this.kc.credentials(rejected);
    const { tls, headers } = credentials;
    const expiresAt = credentials.exec?.expiresAt;
    const validFor = expiresAt === undefined ? Infinity : expiresAt - Date.now();
    const freshFor = Math.max(0, Math.min(this.refreshMs, validFor));
    const previous = this.current;
    const agent =
      previous && sameTls(previous.tls, tls)
        ? previous.agent
        : new https.Agent({ keepAlive: true, maxSockets: 32, ...tls });
    if (previous && agent !== previous.agent) retire(previous.agent);
    const loaded: Loaded = { agent, headers, tls, loadedAt: this.now(), freshFor, credentials };
    this.current = loaded;
    return loaded;
  }
}

function sameTls(a: TlsMaterial, b: TlsMaterial): boolean {
  return (
    a.ca === b.ca &&
    a.cert === b.cert &&
    a.key === b.key &&
    a.rejectUnauthorized === b.rejectUnauthorized &&
    a.servername === b.servername
  );
}

/** Requests in flight on an agent whose TLS material changed finish (30 s timeout); then it closes. */
function retire(agent: https.Agent): void {
  setTimeout(() => agent.destroy(), 60_000).unref();
}
