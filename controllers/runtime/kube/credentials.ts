/**
 * Credentials that change while the process runs. Projected ServiceAccount tokens are rewritten by the
 * kubelet (about hourly; the old one stops working when it expires or its bound object goes), a
 * kubeconfig's `tokenFile` may be rewritten by whoever issued it, and exec plugins hand out credentials
 * with an expiry. client-go re-reads a token file at most every minute and retries a 401 once with fresh
 * credentials; this module gives the {@link KubeClient} and the informers' watches the same behaviour.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig, type User } from '@kubernetes/client-node';
import { parse } from 'yaml';

type Authenticator = Parameters<KubeConfig['addAuthenticator']>[0];

/** The auth-provider name {@link loadKubeConfig} gives users whose token lives in a file. */
export const TOKEN_FILE_PROVIDER = 'palisade-token-file';

/**
 * Reads the token file on every call: callers decide how often (the client at most every
 * `refreshMs` and after a 401, a watch each time it (re)connects). @kubernetes/client-node's own file
 * authenticator keeps a token for a minute even after the server rejected it, and its kubeconfig loader
 * reads `tokenFile` once, at load.
 */
export class TokenFileAuthenticator implements Authenticator {
  isAuthProvider(user: User): boolean {
    const provider = user.authProvider as { name?: string } | undefined;
    return provider?.name === TOKEN_FILE_PROVIDER;
  }

  async applyAuthentication(user: User, opts: { headers?: Record<string, unknown> }): Promise<void> {
    const file = (user.authProvider as { config: { path: string } }).config.path;
    const token = (await readFile(file, 'utf8')).trim();
    opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
  }
}

/**
 * A kubeconfig (the file at `file`; else $KUBECONFIG, ~/.kube/config or the in-cluster ServiceAccount,
 * as kubectl looks) whose token files are re-read while the process runs: the in-cluster token and every
 * user's `tokenFile` (relative to its kubeconfig and, as in client-go, winning over a `token` beside it).
 * client-node alone would read a `tokenFile` once, at load, relative to the working directory.
 */
export function loadKubeConfig(file?: string): KubeConfig {
  const files = file ? [file] : defaultKubeconfigFiles();
  const [first, ...rest] = files.map(loadFile);
  const kc = first ?? new KubeConfig();
  if (!first) kc.loadFromDefault(); // in-cluster, or client-node's localhost fallback
  for (const other of rest) kc.mergeConfig(other);
  return withTokenFiles(kc);
}

/** Switches users whose token lives in a file (the in-cluster one too) to {@link TokenFileAuthenticator}. */
export function withTokenFiles(kc: KubeConfig): KubeConfig {
  const users = kc.getUsers().map((u): User => {
    const file = (u.authProvider as { config?: { tokenFile?: string } } | undefined)?.config?.tokenFile;
    return file ? { ...u, authProvider: tokenFileProvider(file) } : u;
  });
  kc.loadFromOptions({
    clusters: kc.getClusters(),
    contexts: kc.getContexts(),
    users,
    currentContext: kc.getCurrentContext(),
  });
  kc.addAuthenticator(new TokenFileAuthenticator());
  return kc;
}

const tokenFileProvider = (file: string) => ({ name: TOKEN_FILE_PROVIDER, config: { path: file } });

function defaultKubeconfigFiles(): string[] {
  const env = process.env.KUBECONFIG;
  if (env) return env.split(path.delimiter).filter((f) => f !== '');
  const home = path.join(os.homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

type KubeconfigUser = { name?: unknown; user?: Record<string, unknown> };

/** One kubeconfig file, each `tokenFile` made a {@link TOKEN_FILE_PROVIDER} before client-node reads it. */
function loadFile(file: string): KubeConfig {
  const doc = (parse(readFileSync(file, 'utf8')) ?? {}) as { users?: KubeconfigUser[] };
  const dir = path.dirname(file);
  for (const entry of doc.users ?? []) {
    const user = { ...entry.user };
    const tokenFile = user['token-file'];
    if (typeof tokenFile !== 'string' || tokenFile === '') continue;
    delete user['token-file'];
    delete user.token;
    entry.user = { ...user, 'auth-provider': tokenFileProvider(path.resolve(dir, tokenFile)) };
  }
  const kc = new KubeConfig();
  kc.loadFromString(JSON.stringify(doc));
  kc.makePathsAbsolute(dir);
  return kc;
}

/**
 * What one request needs: a keep-alive agent with the TLS material, and the auth headers. Watches use
 * the TLS material for connections of their own (kube/watch.ts).
 */
export interface Connection {
  readonly agent: https.Agent;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: Readonly<TlsMaterial>;
}

interface Loaded extends Connection {
  readonly loadedAt: number;
}

export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/**
 * The connection to use, re-applied from the kubeconfig at most every `refreshMs` and at once when the
 * server rejected the current one. Exec plugins run through the same path (they cache until their
 * credential expires). The keep-alive agent is replaced only when the TLS material itself changed.
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
    if (c && this.now() - c.loadedAt < this.refreshMs) return c;
    if (!c) return this.load();
    return this.load().catch(() => c);
  }

  /** A connection newer than `rejected` (answered 401): reloaded unless another caller did already. */
  async renew(rejected: Connection): Promise<Connection> {
    const c = this.current;
    if (c && c !== rejected) return c;
    return this.load();
  }

  private load(): Promise<Loaded> {
    this.loading ??= this.read().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async read(): Promise<Loaded> {
    const opts: https.RequestOptions = { headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const tls: TlsMaterial = {
      ca: text(opts.ca),
      cert: text(opts.cert),
      key: text(opts.key),
      ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
      ...(opts.servername ? { servername: opts.servername } : {}),
    };
    const previous = this.current;
    const agent =
      previous && sameTls(previous.tls, tls)
        ? previous.agent
        : new https.Agent({ keepAlive: true, maxSockets: 32, ...tls });
    if (previous && agent !== previous.agent) retire(previous.agent);
    const loaded: Loaded = { agent, headers, tls, loadedAt: this.now() };
    this.current = loaded;
    return loaded;
  }
}

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(text).join('\n');
  return String(v);
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
