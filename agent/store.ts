/**
 * Where a paired agent keeps its credentials: in its own cluster, never anywhere else. Two stores, one
 * layout (the keys below, as files or as a Secret's data), so a Secret mounted as a volume and a local
 * directory read the same, and the NATS-only mode (`--secret-dir`, agent.ts) runs on either:
 *
 *   ca.crt       the CAs the agent trusts (PEM): the pinned one, then the bundle of the last renewal
 *   tls.crt      the client certificate (PEM, leaf first)          tls.key      its private key (PKCS#8)
 *   agent.creds  the NATS user JWT and the user's nkey seed (.creds; absent when messaging is off)
 *   nats-url     where nats-server listens
 *   tenant-uid   agent-name   tenant   namespace   cluster-name      server       Palisade's gRPC host:port
 *   server-name  (optional) the name Palisade's certificate carries when it differs from the host
 *   not-after    renew-after   Unix seconds, from Palisade
 *   code-id      the public ID of the code the agent paired with
 *
 * A save replaces the whole set at once (a Secret update; a directory's `..data` symlink swapped, the
 * way the kubelet writes Secret volumes), so a crash leaves the old credentials or the new, never a
 * certificate beside the wrong key.
 */
import { mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatCreds } from '../controllers/nats/protocol/accounts.ts';
import type { KubeApi } from '../controllers/runtime/kube/api.ts';
import type { Secret } from '../controllers/runtime/kube/types.ts';

export interface StoredCredentials {
  server: string;
  serverName?: string;
  caPem: string;
  certPem: string;
  /** Secret. */
  keyPem: string;
  /** Secret. */
  natsSeed: string;
  natsJwt: string;
  natsUrl: string;
  tenant: string;
  tenantUID: string;
  namespace: string;
  clusterAgent: string;
  clusterName: string;
  notAfter: number;
  renewAfter: number;
  /** The public ID of the code the agent paired with. */
  codeId?: string;
}

export interface CredentialStore {
  /** What the store describes itself as in logs (a path or namespace/name; never contents). */
  readonly where: string;
  /** The stored credentials, or undefined when the agent has not paired yet. */
  load(): Promise<StoredCredentials | undefined>;
  save(c: StoredCredentials): Promise<void>;
}

const CREDS =
  /-----BEGIN NATS USER JWT-----\s*(\S+)\s*-+END NATS USER JWT-+[\s\S]*?-----BEGIN USER NKEY SEED-----\s*(\S+)\s*-+END USER NKEY SEED-+/;

export function encodeCredentials(c: StoredCredentials): Record<string, string> {
  return {
    'ca.crt': c.caPem,
    'tls.crt': c.certPem,
    'tls.key': c.keyPem,
    // NB: no NATS user when Palisade runs without messaging; its unused seed is not kept either.
    ...(c.natsJwt ? { 'agent.creds': formatCreds(c.natsJwt, c.natsSeed) } : {}),
    'nats-url': c.natsUrl,
    'tenant-uid': c.tenantUID,
    'agent-name': c.clusterAgent,
    tenant: c.tenant,
    namespace: c.namespace,
    'cluster-name': c.clusterName,
    server: c.server,
    ...(c.serverName ? { 'server-name': c.serverName } : {}),
    'not-after': String(c.notAfter),
    'renew-after': String(c.renewAfter),
    ...(c.codeId ? { 'code-id': c.codeId } : {}),
  };
}

/** The credentials in `files`, undefined when the set is absent; an incomplete set is an error. */
export function decodeCredentials(
  files: Record<string, string>,
  where: string,
): StoredCredentials | undefined {
  if (!files['tls.crt'] && !files['agent.creds']) return undefined;
  const creds = files['agent.creds'] ? CREDS.exec(files['agent.creds']) : undefined;
  const need = ['ca.crt', 'tls.crt', 'tls.key', 'tenant-uid', 'agent-name', 'server', 'renew-after'];
  const missing = need.filter((k) => !files[k]);
  if (creds === null) missing.push('agent.creds (unreadable)');
  if (missing.length > 0) {
    throw new Error(`${where} holds incomplete credentials (missing ${missing.join(', ')})`);
  }
  return {
    server: files.server as string,
    ...(files['server-name'] ? { serverName: files['server-name'] } : {}),
    caPem: files['ca.crt'] as string,
    certPem: files['tls.crt'] as string,
    keyPem: files['tls.key'] as string,
    natsJwt: creds?.[1] ?? '',
    natsSeed: creds?.[2] ?? '',
    natsUrl: files['nats-url'] ?? '',
    tenant: files.tenant ?? '',
    tenantUID: files['tenant-uid'] as string,
    namespace: files.namespace ?? '',
    clusterAgent: files['agent-name'] as string,
    clusterName: files['cluster-name'] ?? '',
    notAfter: Number(files['not-after'] ?? 0),
    renewAfter: Number(files['renew-after']),
    ...(files['code-id'] ? { codeId: files['code-id'] } : {}),
  };
}

const trimmed = (s: string) => s.trim();

/** A directory of 0600 files (the directory 0700), swapped in as a whole on every save. */
export class DirectoryStore implements CredentialStore {
  readonly where: string;
  constructor(dir: string) {
    this.where = dir;
  }

  async load(): Promise<StoredCredentials | undefined> {
    const names = await readdir(this.where).catch(() => [] as string[]);
    const files: Record<string, string> = {};
    for (const n of names.filter((n) => !n.startsWith('..'))) {
      const text = await readFile(path.join(this.where, n), 'utf8').catch(() => undefined);
      if (text !== undefined) files[n] = n.endsWith('.crt') || n.endsWith('.key') ? text : trimmed(text);
    }
    return decodeCredentials(files, this.where);
  }

  async save(c: StoredCredentials): Promise<void> {
    const dir = this.where;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const files = encodeCredentials(c);
    const version = `..${new Date().toISOString().replace(/[:.]/g, '_')}_${process.pid}`;
    await mkdir(path.join(dir, version), { mode: 0o700 });
    for (const [k, v] of Object.entries(files)) {
      await writeFile(path.join(dir, version, k), v, { mode: 0o600 });
    }
    const previous = await readlink(path.join(dir, '..data')).catch(() => undefined);
    await swapSymlink(dir, '..data', version);
    for (const k of Object.keys(files)) await swapSymlink(dir, k, path.join('..data', k));
    if (previous && previous !== version)
      await rm(path.join(dir, previous), { recursive: true, force: true });
  }
}

/** Points `name` in `dir` at `target` in one rename (atomic on POSIX), replacing a file or link there. */
async function swapSymlink(dir: string, name: string, target: string): Promise<void> {
  const tmp = path.join(dir, `..tmp-${name}`);
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await rename(tmp, path.join(dir, name));
}

const LABELS = {
  'app.kubernetes.io/managed-by': 'palisade-agent',
  'app.kubernetes.io/name': 'palisade-agent',
};

/**
 * A Secret in the agent's own cluster. Saving updates it in place (its resourceVersion guards against a
 * concurrent writer) and creates it only when absent, so the chart can pre-create it and grant the agent
 * nothing but get and update on that one name.
 */
export class SecretStore implements CredentialStore {
  readonly where: string;
  private readonly kube: KubeApi;
  private readonly namespace: string;
  private readonly name: string;

  constructor(kube: KubeApi, namespace: string, name: string) {
    this.kube = kube;
    this.namespace = namespace;
    this.name = name;
    this.where = `Secret ${namespace}/${name}`;
  }

  async load(): Promise<StoredCredentials | undefined> {
    const s = await this.kube.get<Secret>({ kind: 'Secret', namespace: this.namespace, name: this.name });
    const files = Object.fromEntries(
      Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
    return decodeCredentials(files, this.where);
  }

  async save(c: StoredCredentials): Promise<void> {
    const data = Object.fromEntries(
      Object.entries(encodeCredentials(c)).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    const ref = { kind: 'Secret', namespace: this.namespace, name: this.name };
    const existing = await this.kube.get<Secret>(ref);
    if (!existing) {
      await this.kube.create<Secret>({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: this.name, namespace: this.namespace, labels: LABELS },
        type: 'Opaque',
        data,
      } as Secret);
      return;
    }
    await this.kube.update<Secret>({ ...existing, data } as Secret);
  }
}
