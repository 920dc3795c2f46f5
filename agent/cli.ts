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
  namespace: { type: 'string' },
} as const;

export interface StoreFlags {
  'credentials-dir'?: string | undefined;
  'credentials-secret'?: string | undefined;
  kubeconfig?: string | undefined;
  namespace?: string | undefined;
}

const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

let kube: KubeClient | undefined;

/**
 * The agent's own cluster's API, and the namespace it works in: --namespace, else its pod's, else the
 * kubeconfig context's.
 */
function agentCluster(flags: StoreFlags): { kube: KubeClient; namespace: string } {
  const kc = loadKubeConfig(flags.kubeconfig);
  kube ??= new KubeClient(kc, 'palisade-agent');
  let namespace = flags.namespace;
  if (!namespace) {
    try {
      namespace = readFileSync(IN_CLUSTER_NAMESPACE, 'utf8').trim();
    } catch {
      namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
    }
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

/** What the agent is told for pairing; from a code Secret, also what Palisade shows beside the code. */
export interface PairingInput {
  code?: string;
  /** `ca-pin`, `server` and `code-id` of a code Secret as Palisade writes it (`<agent>-pairing-code`). */
  caPin?: string;
  server?: string;
  codeId?: string;
}

/**
 * The pairing code from `--code`, `--code-file`, `--code-secret [namespace/]name[:key]` (key default
 * `code`) or $PALISADE_PAIRING_CODE. A code Secret that is gone gives nothing (it may be deleted once
 * the agent paired).
 */
export async function pairingInput(
  flags: StoreFlags & {
    code?: string | undefined;
    'code-file'?: string | undefined;
    'code-secret'?: string | undefined;
  },
): Promise<PairingInput> {
  if (flags.code) return { code: flags.code.trim() };
  if (flags['code-file']) return { code: (await readFile(flags['code-file'], 'utf8')).trim() };
  const fromSecret = flags['code-secret'];
  if (fromSecret) {
    const [ref = '', key = 'code'] = fromSecret.split(':');
    const { kube: api, namespace, name } = secretRef(flags, ref);
    const data = (await api.get<Secret>({ kind: 'Secret', namespace, name }))?.data ?? {};
    const text = (k: string) => {
      const v = data[k] && Buffer.from(data[k], 'base64').toString('utf8').trim();
      return v ? v : undefined;
    };
    const [code, caPin, server, codeId] = [text(key), text('ca-pin'), text('server'), text('code-id')];
    return {
      ...(code ? { code } : {}),
      ...(caPin ? { caPin } : {}),
      ...(server ? { server } : {}),
      ...(codeId ? { codeId } : {}),
    };
  }
  const code = process.env.PALISADE_PAIRING_CODE?.trim();
  return code ? { code } : {};
}

/** `10s`, `500ms`, `2m`. */
export function durationMs(s: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(s);
  if (!m) throw new UsageError(`a duration is like 10s, 500ms or 2m; got "${s}"`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}
