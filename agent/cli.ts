/**
 * The flags `pair` and `run` share: where the credentials are kept (a directory, or a Secret of the
 * agent's own cluster reached by its in-cluster ServiceAccount or a kubeconfig), and where the pairing
 * code comes from. Codes are best passed by file, Secret or environment: a `--code` flag is visible to
 * every user of the machine in the process list.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { KubeClient, loadKubeConfig } from '../controllers/runtime/kube/client.ts';
import type { Secret } from '../controllers/runtime/kube/types.ts';
import { DirectoryStore, SecretStore, type CredentialStore } from './store.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

export const STORE_OPTIONS = {
  'credentials-dir': { type: 'string' },
  'credentials-secret': { type: 'string' },
  kubeconfig: { type: 'string' },
} as const;

export interface StoreFlags {
  'credentials-dir'?: string | undefined;
  'credentials-secret'?: string | undefined;
  kubeconfig?: string | undefined;
}

const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

let kube: KubeClient | undefined;

/** The agent's own cluster's API, and the namespace it works in (its pod's, else the kubeconfig's). */
function agentCluster(flags: StoreFlags): { kube: KubeClient; namespace: string } {
  const kc = loadKubeConfig(flags.kubeconfig);
  kube ??= new KubeClient(kc, 'palisade-agent');
  let namespace: string | undefined;
  try {
    namespace = readFileSync(IN_CLUSTER_NAMESPACE, 'utf8').trim();
  } catch {
    namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  }
  return { kube, namespace: namespace || 'default' };
}

/** `[namespace/]name`, the namespace defaulting to the agent's. */
function secretRef(flags: StoreFlags, value: string): { kube: KubeClient; namespace: string; name: string } {
  const cluster = agentCluster(flags);
  const [a, b] = value.split('/');
  if (!a || value.split('/').length > 2) throw new UsageError(`a Secret is [namespace/]name, got "${value}"`);
  return b ? { kube: cluster.kube, namespace: a, name: b } : { ...cluster, name: a };
}

export function storeFrom(flags: StoreFlags): CredentialStore {
  const dir = flags['credentials-dir'];
  const secret = flags['credentials-secret'];
  if (!!dir === !!secret)
    throw new UsageError('give exactly one of --credentials-dir and --credentials-secret');
  if (dir) return new DirectoryStore(dir);
  const ref = secretRef(flags, secret as string);
  return new SecretStore(ref.kube, ref.namespace, ref.name);
}

export const CODE_OPTIONS = {
  code: { type: 'string' },
  'code-file': { type: 'string' },
  'code-secret': { type: 'string' },
} as const;

/**
 * The pairing code from `--code`, `--code-file`, `--code-secret [namespace/]name[:key]` (key default
 * `code`) or $PALISADE_PAIRING_CODE; undefined when none is given.
 */
export async function codeFrom(
  flags: StoreFlags & {
    code?: string | undefined;
    'code-file'?: string | undefined;
    'code-secret'?: string | undefined;
  },
): Promise<string | undefined> {
  if (flags.code) return flags.code.trim();
  if (flags['code-file']) return (await readFile(flags['code-file'], 'utf8')).trim();
  const fromSecret = flags['code-secret'];
  if (fromSecret) {
    const [ref = '', key = 'code'] = fromSecret.split(':');
    const { kube: api, namespace, name } = secretRef(flags, ref);
    const s = await api.get<Secret>({ kind: 'Secret', namespace, name });
    const value = s?.data?.[key];
    if (!value) throw new UsageError(`Secret ${namespace}/${name} has no key ${key}`);
    return Buffer.from(value, 'base64').toString('utf8').trim();
  }
  return process.env.PALISADE_PAIRING_CODE?.trim() || undefined;
}

/** `10s`, `500ms`, `2m`. */
export function durationMs(s: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(s);
  if (!m) throw new UsageError(`a duration is like 10s, 500ms or 2m; got "${s}"`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}
