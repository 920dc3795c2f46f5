/**
 * One kubeconfig file read into the entries the operator uses, its relative paths made absolute
 * against the file's own directory (as kubectl does before merging files). Fields the operator has no
 * use for (preferences, extensions, proxy-url) are left out.
 * https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { ExecConfig } from './exec.ts';

export interface Cluster {
  name: string;
  /** Without a trailing slash: request paths are appended to it. '' when the file sets none. */
  server: string;
  caFile?: string;
  /** PEM text (the file holds it base64-encoded). */
  caData?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
}

export interface User {
  name: string;
  certFile?: string;
  certData?: string;
  keyFile?: string;
  keyData?: string;
  token?: string;
  /** Wins over `token`, as in client-go; re-read with the rest of the credentials. */
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  /** `as`, `as-uid`, `as-groups`. */
  impersonate?: { user?: string; uid?: string; groups: string[] };
  /** Why the user cannot be used (kubectl, too, fails only when the current context uses it). */
  unusable?: string;
}

export interface Context {
  name: string;
  cluster: string;
  user: string;
  namespace?: string;
}

/** The entries of one file, or of several merged. */
export interface Parsed {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  /** '' when unset. */
  currentContext: string;
}

type Entry = { name?: unknown; [k: string]: unknown };
type Fields = Record<string, unknown>;

/** One file's entries, their paths made absolute against the file's directory (as kubectl does). */
export function parseFile(file: string): Parsed {
  const doc = (parse(readFileSync(file, 'utf8')) ?? {}) as Fields;
  const dir = path.dirname(path.resolve(file));
  const entries = (key: string, body: string) =>
    (Array.isArray(doc[key]) ? (doc[key] as Entry[]) : []).map((e, i) => {
      if (typeof e?.name !== 'string' || e.name === '')
        throw new Error(`kubeconfig ${file}: ${key}[${i}] has no name`);
      return { name: e.name, fields: (e[body] ?? {}) as Fields };
    });
  return {
    clusters: entries('clusters', 'cluster').map(({ name, fields }) => parseCluster(name, fields, dir)),
    users: entries('users', 'user').map(({ name, fields }) => parseUser(name, fields, dir, file)),
    contexts: entries('contexts', 'context').map(({ name, fields }) => ({
      name,
      cluster: str(fields.cluster) ?? '',
      user: str(fields.user) ?? '',
      ...(str(fields.namespace) ? { namespace: str(fields.namespace) } : {}),
    })),
    currentContext: str(doc['current-context']) ?? '',
  };
}

function parseCluster(name: string, c: Fields, dir: string): Cluster {
  return {
    name,
    server: (str(c.server) ?? '').replace(/\/+$/, ''),
    ...optional('caFile', resolved(dir, str(c['certificate-authority']))),
    ...optional('caData', base64(c['certificate-authority-data'])),
    skipTLSVerify: c['insecure-skip-tls-verify'] === true,
    ...optional('tlsServerName', str(c['tls-server-name'])),
  };
}

function parseUser(name: string, u: Fields, dir: string, file: string): User {
  const provider = (u['auth-provider'] as { name?: unknown } | undefined)?.name;
  const unusable =
    provider !== undefined
      ? `kubeconfig ${file}: user "${name}" uses auth-provider "${String(provider)}", which kubectl no ` +
        'longer supports; use its exec credential plugin instead (e.g. gke-gcloud-auth-plugin, kubelogin)'
      : u['as-user-extra'] !== undefined
        ? `kubeconfig ${file}: user "${name}" sets as-user-extra, which the operator does not support`
        : undefined;
  const groups = Array.isArray(u['as-groups']) ? u['as-groups'].filter((g) => typeof g === 'string') : [];
  const impersonate = { ...optional('user', str(u.as)), ...optional('uid', str(u['as-uid'])), groups };
  return {
    name,
    ...optional('certFile', resolved(dir, str(u['client-certificate']))),
    ...optional('certData', base64(u['client-certificate-data'])),
    ...optional('keyFile', resolved(dir, str(u['client-key']))),
    ...optional('keyData', base64(u['client-key-data'])),
    ...optional('token', str(u.token)),
    ...optional('tokenFile', resolved(dir, str(u['token-file']))),
    ...optional('username', str(u.username)),
    ...optional('password', str(u.password)),
    ...optional('exec', u.exec ? parseExec(u.exec as Fields, dir) : undefined),
    ...(impersonate.user || impersonate.uid || groups.length ? { impersonate } : {}),
    ...optional('unusable', unusable),
  };
}

function parseExec(e: Fields, dir: string): ExecConfig {
  const command = str(e.command) ?? '';
  const env = Array.isArray(e.env) ? (e.env as Fields[]) : [];
  return {
    // NB: as kubectl, a bare name is looked up on PATH; only a path with a separator is relative to the file.
    command: command.includes(path.sep) ? path.resolve(dir, command) : command,
    args: Array.isArray(e.args) ? e.args.map(String) : [],
    env: env.map((v) => ({ name: String(v.name), value: String(v.value ?? '') })),
    apiVersion: str(e.apiVersion) ?? '',
    ...optional('interactiveMode', str(e.interactiveMode)),
    provideClusterInfo: e.provideClusterInfo === true,
    ...optional('installHint', str(e.installHint)),
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const resolved = (dir: string, p: string | undefined) => (p ? path.resolve(dir, p) : undefined);
const base64 = (v: unknown) =>
  typeof v === 'string' && v !== '' ? Buffer.from(v, 'base64').toString('utf8') : undefined;
const optional = <K extends string, V>(key: K, v: V | undefined) =>
  (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
