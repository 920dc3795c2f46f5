/**
 * Disaster recovery of the installation keys: every Secret in the operator's namespace that carries
 * Palisade's managed-by label and a `palisade.dev/component` label (root key versions, JWT signing key
 * versions, hash salt, and whatever else Palisade keeps there, e.g. NATS operator seeds), serialized as
 * JSON and sealed under a passphrase (Argon2id + XChaCha20-Poly1305, controllers/crypto/passphrase.ts).
 *
 * Restore is create-only: a Secret already present with the same content is left alone; one present
 * with different content makes the whole restore refuse before anything is written.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  openWithPassphrase,
  sealWithPassphrase,
  type PassphraseParams,
  type RandomSource,
} from '../crypto/index.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';

const FORMAT = 'palisade-installation-backup-v1';

interface BackupDoc {
  format: typeof FORMAT;
  namespace: string;
  created: string;
  secrets: {
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    type?: string;
    data: Record<string, string>;
  }[];
}

async function installationSecrets(client: KubeClient, namespace: string): Promise<Secret[]> {
  const list = await client.list<Secret>('Secret', {
    namespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
  });
  return list.items
    .filter((s) => s.metadata.labels?.[COMPONENT_LABEL])
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/** Seals the installation Secrets of `namespace`; returns the blob and the names it holds. */
export async function backupInstallation(o: {
  client: KubeClient;
  namespace: string;
  passphrase: string;
  rand: RandomSource;
  now: Date;
  params?: PassphraseParams;
}): Promise<{ blob: Uint8Array; names: string[] }> {
  const secrets = await installationSecrets(o.client, o.namespace);
  if (!secrets.some((s) => s.metadata.labels?.[COMPONENT_LABEL] === 'root-key'))
    throw new Error(`namespace ${o.namespace} holds no root key: nothing to back up (wrong --namespace?)`);
  const doc: BackupDoc = {
    format: FORMAT,
    namespace: o.namespace,
    created: o.now.toISOString(),
    secrets: secrets.map((s) => ({
      name: s.metadata.name,
      labels: s.metadata.labels ?? {},
      annotations: s.metadata.annotations ?? {},
      ...(s.type ? { type: s.type } : {}),
      data: s.data ?? {},
    })),
  };
  const plaintext = new TextEncoder().encode(JSON.stringify(doc));
  const blob = await sealWithPassphrase(plaintext, o.passphrase, o.rand, o.params);
  return { blob, names: doc.secrets.map((s) => s.name) };
}

/**
 * Restores a backup into `namespace` (the backup's own namespace by default), creating the namespace if
 * needed. Returns what was created and what was already there.
 */
export async function restoreInstallation(o: {
  client: KubeClient;
  blob: Uint8Array;
  passphrase: string;
  namespace?: string;
}): Promise<{ namespace: string; created: string[]; present: string[] }> {
  const doc = JSON.parse(
    new TextDecoder().decode(await openWithPassphrase(o.blob, o.passphrase)),
  ) as BackupDoc;
  if (doc.format !== FORMAT) throw new Error(`not an installation backup (format ${String(doc.format)})`);
  const namespace = o.namespace ?? doc.namespace;
  const present: string[] = [];
  const toCreate: BackupDoc['secrets'] = [];
  for (const s of doc.secrets) {
    const existing = await o.client.get<Secret>({ kind: 'Secret', name: s.name, namespace });
    if (!existing) toCreate.push(s);
    else if (isDeepStrictEqual(existing.data ?? {}, s.data)) present.push(s.name);
    else
      throw new Error(
        `Secret ${namespace}/${s.name} already exists with different content: this cluster has its own ` +
          'installation keys (was the operator started before the restore?). Nothing was restored; ' +
          'restore into a cluster where they do not exist yet, or delete them first if they protect nothing.',
      );
  }
  await o.client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  for (const s of toCreate) {
    await o.client.create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: s.name, namespace, labels: s.labels, annotations: s.annotations },
      ...(s.type ? { type: s.type } : {}),
      immutable: true,
      data: s.data,
    });
  }
  return { namespace, created: toCreate.map((s) => s.name), present };
}
