/**
 * Kubeconfig files as kubectl reads them (client-go's clientcmd): the file given, else every file in
 * $KUBECONFIG merged, else ~/.kube/config, else the pod's ServiceAccount. Only the current context
 * matters to the operator: its cluster (server, CA, TLS checks) and its user (client certificate, bearer
 * token or token file, basic auth, exec plugin, impersonation). Files the kubeconfig names are read each
 * time credentials are read, so a rotated certificate or token file is picked up without a restart.
 * https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseFile, type Cluster, type Context, type Parsed, type User } from './configfile.ts';
import { ExecPlugin, type ExecClusterInfo, type ExecConfig, type ExecCredential } from './exec.ts';

export type { Cluster, Context, User } from './configfile.ts';

/** What TLS connections to the API server need: the CA to trust, the client certificate, checks. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** The current user's credentials as read now: TLS material and request headers. */
export interface Credentials {
  readonly tls: Readonly<TlsMaterial>;
  readonly headers: Readonly<Record<string, string | string[]>>;
  /** The exec credential they carry: its expiry bounds their use, and a 401 marks it rejected. */
  readonly exec?: ExecCredential;
}

/** Where kubeconfigs are looked for; the process's by default, a test's own otherwise. */
export interface Environment {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  serviceAccountDir: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const processEnvironment = (): Environment => ({
  env: process.env,
  home: os.homedir(),
  serviceAccountDir: SERVICE_ACCOUNT_DIR,
});

/** The clusters, users and contexts of one or more kubeconfig files, and the context in use. */
export class KubeConfig {
  private readonly clusters: ReadonlyMap<string, Cluster>;
  private readonly users: ReadonlyMap<string, User>;
  private readonly contexts: ReadonlyMap<string, Context>;
  private readonly currentContext: string;
  private readonly plugins = new Map<string, ExecPlugin>();

  constructor(config: Parsed) {
    this.clusters = new Map(config.clusters.map((c) => [c.name, c]));
    this.users = new Map(config.users.map((u) => [u.name, u]));
    this.contexts = new Map(config.contexts.map((c) => [c.name, c]));
    this.currentContext = config.currentContext;
  }

  getCurrentContext(): string {
    return this.currentContext;
  }

  getContextObject(name: string): Context | undefined {
    return this.contexts.get(name);
  }

  getCurrentCluster(): Cluster | undefined {
    const ctx = this.contexts.get(this.currentContext);
    return ctx && this.clusters.get(ctx.cluster);
  }

  getCurrentUser(): User | undefined {
    const ctx = this.contexts.get(this.currentContext);
    return ctx && this.users.get(ctx.user);
  }

  /**
   * The current user's credentials, their files read now. An exec plugin's credential is reused until
   * it expires, or re-run when `rejected` (the credentials a 401 answered) carried it.
   */
  async credentials(rejected?: Credentials): Promise<Credentials> {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig context "${this.currentContext}" has no cluster`);
    const user = this.getCurrentUser();
    const [ca, certFromFile, keyFromFile, tokenFromFile] = await Promise.all([
      cluster.caData ?? readText(cluster.caFile),
      user?.certData ?? readText(user?.certFile),
      user?.keyData ?? readText(user?.keyFile),
      readText(user?.tokenFile).then((t) => t?.trim()),
    ]);
    const exec = user?.exec
      ? await this.plugin(user, user.exec, cluster).credential(rejected?.exec)
      : undefined;
    const cert = exec?.cert ?? certFromFile;
    const key = exec?.key ?? keyFromFile;
    const headers = user ? headersFor(user, exec?.token ?? tokenFromFile ?? user.token) : {};
    const tls: TlsMaterial = {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
      ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    };
    return { tls, headers, ...(exec ? { exec } : {}) };
  }

  private plugin(user: User, exec: ExecConfig, cluster: Cluster): ExecPlugin {
    let p = this.plugins.get(user.name);
    if (!p) this.plugins.set(user.name, (p = new ExecPlugin(user.name, exec, () => clusterInfo(cluster))));
    return p;
  }
}

/** A bearer token wins over basic auth; impersonation goes with either. */
function headersFor(user: User, token: string | undefined): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (user.username !== undefined)
    headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
  if (user.impersonate?.user) headers['Impersonate-User'] = user.impersonate.user;
  if (user.impersonate?.uid) headers['Impersonate-Uid'] = user.impersonate.uid;
  if (user.impersonate?.groups.length) headers['Impersonate-Group'] = user.impersonate.groups;
  return headers;
}

async function clusterInfo(c: Cluster): Promise<ExecClusterInfo> {
  const ca = c.caData ?? (await readText(c.caFile));
  return {
    server: c.server,
    ...(c.tlsServerName ? { 'tls-server-name': c.tlsServerName } : {}),
    ...(c.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
    ...(ca ? { 'certificate-authority-data': Buffer.from(ca).toString('base64') } : {}),
  };
}

const readText = async (file: string | undefined) => (file ? readFile(file, 'utf8') : undefined);

/**
 * The kubeconfig at `file`; without one, what kubectl would use: the files in $KUBECONFIG (missing ones
 * skipped, the first to name a cluster, user or context or to set current-context winning), else
 * ~/.kube/config, else, when those hold nothing, the pod's ServiceAccount. Throws when none applies, or
 * when the current context cannot be used (a missing cluster or user, a removed auth-provider).
 */
export function loadKubeConfig(file?: string, where: Environment = processEnvironment()): KubeConfig {
  const files = file ? [file] : defaultFiles(where);
  const parts = files.filter((f) => f === file || existsSync(f)).map(parseFile);
  const merged = merge(parts);
  if (merged.clusters.length === 0 && merged.users.length === 0 && merged.contexts.length === 0) {
    if (file) throw new Error(`kubeconfig ${file} is empty`);
    const inCluster = inClusterConfig(where);
    if (inCluster) return inCluster;
    throw new Error(
      'no kubeconfig: pass one, set KUBECONFIG, create ~/.kube/config, or run in a pod (KUBERNETES_SERVICE_HOST and _PORT)',
    );
  }
  const kc = new KubeConfig(merged);
  checkCurrent(kc, merged, files);
  return kc;
}

function defaultFiles(where: Environment): string[] {
  const list = where.env.KUBECONFIG;
  if (list) return [...new Set(list.split(path.delimiter).filter((f) => f !== ''))];
  return [path.join(where.home, '.kube', 'config')];
}

function merge(parts: Parsed[]): Parsed {
  const firstByName = <T extends { name: string }>(lists: T[][]) => {
    const seen = new Map<string, T>();
    for (const item of lists.flat()) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  return {
    clusters: firstByName(parts.map((p) => p.clusters)),
    users: firstByName(parts.map((p) => p.users)),
    contexts: firstByName(parts.map((p) => p.contexts)),
    currentContext: parts.find((p) => p.currentContext !== '')?.currentContext ?? '',
  };
}

function checkCurrent(kc: KubeConfig, config: Parsed, files: string[]): void {
  const where = `kubeconfig ${files.join(path.delimiter)}`;
  if (!config.currentContext) throw new Error(`${where} sets no current-context`);
  const ctx = kc.getContextObject(config.currentContext);
  if (!ctx) throw new Error(`${where} has no context "${config.currentContext}"`);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${where} has no cluster "${ctx.cluster}" (context "${ctx.name}")`);
  if (!cluster.server) throw new Error(`${where}: cluster "${cluster.name}" has no server`);
  const user = kc.getCurrentUser();
  if (ctx.user && !user) throw new Error(`${where} has no user "${ctx.user}" (context "${ctx.name}")`);
  if (user?.unusable) throw new Error(user.unusable);
}

/** The pod's ServiceAccount, as client-go's InClusterConfig: both env variables and the token must be there. */
export function inClusterConfig(where: Environment = processEnvironment()): KubeConfig | undefined {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = where.env;
  const tokenFile = path.join(where.serviceAccountDir, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  const namespaceFile = path.join(where.serviceAccountDir, 'namespace');
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
  return new KubeConfig({
    clusters: [
      {
        name: 'in-cluster',
        server: `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`,
        caFile: path.join(where.serviceAccountDir, 'ca.crt'),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'in-cluster', tokenFile }],
    contexts: [
      { name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster', ...(namespace ? { namespace } : {}) },
    ],
    currentContext: 'in-cluster',
  });
}
