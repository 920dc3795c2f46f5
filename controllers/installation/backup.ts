/**
 * Disaster recovery of an installation: every Secret in the operator's namespace that carries Palisade's
 * managed-by label and a `palisade.dev/component` label (root key versions, JWT signing key versions,
 * hash salt, internal CA versions, NATS operator/account seeds and server TLS, the keystore: wrapped
 * tenant keys and account seeds, tenant records, revocations) except the derived ones, plus the
 * installation record, serialized as JSON and sealed under a passphrase (Argon2id + XChaCha20-Poly1305,
 * controllers/crypto/passphrase.ts).
 *
 * Derived Secrets are left out: the operator renders them again at every start or re-issues them
 * (`palisade-nats-server`, internal-CA leaf certificates, cert-manager's Secrets), and a restored copy
 * would only be in the way (immutable, without its owner reference). Every other Secret is restored as
 * it was, `immutable` flag included.
 *
 * Restore is create-only. Into a namespace without an installation record (a fresh cluster) it restores
 * everything, the record first and the root key versions last; a Secret already present with the same
 * content is left alone, one with
 * different content makes the whole restore refuse before anything is written. Into a namespace whose
 * record exists (an installation that lost a key) it repairs: the backup must be of that installation
 * (same installation ID, same key IDs), only missing installation keys are created, and the keystore is
 * left as it is now (what changed since the backup — rotations, rewraps, destroyed versions, revocations —
 * stays as it is). A fresh restore marks the record until it has written everything; found marked, a
 * restore of the same backup finishes it as a fresh one (`resume`).
 */
import { isDeepStrictEqual } from 'node:util';
import {
  keyId,
  openWithPassphrase,
  sealWithPassphrase,
  type PassphraseParams,
  type RandomSource,
} from '../crypto/index.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import {
  DamagedRecordError,
  parseRecord,
  RECORD_CONFIGMAP,
  RECORD_KEY,
  recordConfigMap,
  type InstallationRecord,
} from './record.ts';
import { Component, VERSION_LABEL } from './secrets.ts';

const FORMAT = 'palisade-installation-backup-v2';
const FORMAT_V1 = 'palisade-installation-backup-v1';

/** Components the operator derives from the others: never backed up, never restored. */
export const DERIVED_COMPONENTS: ReadonlySet<string> = new Set([
  'nats-server', // controllers/nats/bootstrap.ts re-renders it (server-side apply) at every start
  'internal-certificate', // leaves: re-issued by the internal CA for their CertificateBinding
  'cert-manager-certificate', // written by cert-manager for its Certificate
]);
/** Where wrapped material and tenant records live; a repair restore never writes there. */
const KEYSTORE_COMPONENT = 'keystore';

interface BackupSecret {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  type?: string;
  /** Absent in v1 backups, which restored everything immutable. */
  immutable?: boolean;
  data: Record<string, string>;
}

interface BackupDoc {
  format: typeof FORMAT | typeof FORMAT_V1;
  namespace: string;
  created: string;
  /** The installation record's JSON (v2; absent when the installation had none yet). */
  record?: string;
  secrets: BackupSecret[];
}

const componentOf = (s: { labels?: Record<string, string> }) => s.labels?.[COMPONENT_LABEL] ?? '';

async function labelledSecrets(client: KubeApi, namespace: string): Promise<Secret[]> {
  const list = await client.list<Secret>('Secret', {
    namespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${COMPONENT_LABEL}`,
  });
  return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

export interface BackupResult {
  blob: Uint8Array;
  /** The Secrets it holds. */
  names: string[];
  /** Derived Secrets left out (the operator makes them again). */
  derived: string[];
  /** The installation ID of the record it holds, if the installation has one. */
  installationID?: string;
}

/** Seals the installation Secrets and record of `namespace`. */
export async function backupInstallation(o: {
  client: KubeApi;
  namespace: string;
  passphrase: string;
  rand: RandomSource;
  now: Date;
  params?: PassphraseParams;
}): Promise<BackupResult> {
  const all = await labelledSecrets(o.client, o.namespace);
  const secrets = all.filter((s) => !DERIVED_COMPONENTS.has(componentOf(s.metadata)));
  if (!secrets.some((s) => componentOf(s.metadata) === Component.RootKey))
    throw new Error(`namespace ${o.namespace} holds no root key: nothing to back up (wrong --namespace?)`);
  const recordObject = await o.client.get<ConfigMap>({
    kind: 'ConfigMap',
    name: RECORD_CONFIGMAP,
    namespace: o.namespace,
  });
  const recordText = recordObject ? (recordObject.data?.[RECORD_KEY] ?? '') : undefined;
  let record: InstallationRecord | undefined;
  try {
    record = recordText === undefined ? undefined : parseRecord(recordText);
  } catch (e) {
    throw new Error(
      `the installation record ${o.namespace}/${RECORD_CONFIGMAP} cannot be read (${String(e)}): repair it ` +
        '(or delete it: the operator rebuilds it from the keys present) before taking a backup',
    );
  }
  const doc: BackupDoc = {
    format: FORMAT,
    namespace: o.namespace,
    created: o.now.toISOString(),
    ...(recordText !== undefined ? { record: recordText } : {}),
    secrets: secrets.map((s) => ({
      name: s.metadata.name,
      labels: s.metadata.labels ?? {},
      annotations: s.metadata.annotations ?? {},
      ...(s.type ? { type: s.type } : {}),
      immutable: s.immutable === true,
      data: s.data ?? {},
    })),
  };
  const plaintext = new TextEncoder().encode(JSON.stringify(doc));
  const blob = await sealWithPassphrase(plaintext, o.passphrase, o.rand, o.params);
  return {
    blob,
    names: doc.secrets.map((s) => s.name),
    derived: all.filter((s) => !secrets.includes(s)).map((s) => s.metadata.name),
    ...(record ? { installationID: record.installationID } : {}),
  };
}

export interface RestoreResult {
  namespace: string;
  /**
   * `fresh`: no installation was there; `resume`: a fresh restore of this backup that stopped part-way,
   * finished; `repair`: the backup's own installation, missing keys created.
   */
  mode: 'fresh' | 'resume' | 'repair';
  installationID?: string;
  created: string[];
  present: string[];
  /** Keystore Secrets not written by a repair (the live keystore wins), and derived ones of v1 backups. */
  skipped: string[];
  recordCreated: boolean;
}

/**
 * Restores a backup into `namespace` (the backup's own namespace by default), creating the namespace if
 * needed. Checks everything before it writes anything.
 */
export async function restoreInstallation(o: {
  client: KubeApi;
  blob: Uint8Array;
  passphrase: string;
  namespace?: string;
}): Promise<RestoreResult> {
  const doc = JSON.parse(
    new TextDecoder().decode(await openWithPassphrase(o.blob, o.passphrase)),
  ) as BackupDoc;
  if (doc.format !== FORMAT && doc.format !== FORMAT_V1)
    throw new Error(`not an installation backup (format ${String(doc.format)})`);
  const namespace = o.namespace ?? doc.namespace;
  const backupRecord = doc.record === undefined ? undefined : parseRecord(doc.record);
  const live = await readLiveRecordObject(o.client, namespace);
  const liveRecord = live?.record;
  if (liveRecord) sameInstallation(liveRecord, backupRecord, doc.secrets, namespace);
  // NB: a fresh restore marks the record until its last key is written, so one that stopped part-way
  // (an API error among thousands of creates) is finished by running it again, keystore included: no
  // operator can have changed that keystore, since the root key comes last.
  const mode = !liveRecord ? 'fresh' : live.restoring ? 'resume' : 'repair';

  const present: string[] = [];
  const skipped: string[] = [];
  const toCreate: BackupSecret[] = [];
  for (const s of doc.secrets) {
    const component = componentOf(s);
    if (DERIVED_COMPONENTS.has(component) || (mode === 'repair' && component === KEYSTORE_COMPONENT)) {
      skipped.push(s.name);
      continue;
    }
    const existing = await o.client.get<Secret>({ kind: 'Secret', name: s.name, namespace });
    if (!existing) toCreate.push(s);
    else if (isDeepStrictEqual(existing.data ?? {}, s.data)) present.push(s.name);
    else if (mode === 'repair' && existing.immutable !== true) present.push(s.name);
    else
      throw new Error(
        `Secret ${namespace}/${s.name} already exists with different content: this cluster has its own ` +
          'installation keys (was the operator started before the restore?). Nothing was restored; ' +
          'restore into a cluster where they do not exist yet, or delete them first if they protect nothing.',
      );
  }
  await o.client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  // NB: the record before the keys, and the root key versions after everything else: an operator starting
  // meanwhile waits for the root key instead of taking the namespace for a fresh install, and by then
  // every tenant record and key version it will look for is there.
  const recordCreated = !liveRecord && backupRecord !== undefined;
  if (recordCreated && backupRecord) await createRecord(o.client, namespace, backupRecord);
  const isRoot = (s: BackupSecret) => componentOf(s) === Component.RootKey;
  for (const s of [...toCreate.filter((x) => !isRoot(x)), ...toCreate.filter(isRoot)]) {
    await o.client.create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: s.name, namespace, labels: s.labels, annotations: s.annotations },
      ...(s.type ? { type: s.type } : {}),
      immutable: s.immutable ?? true,
      data: s.data,
    });
  }
  if (recordCreated || mode === 'resume') await finishRestoring(o.client, namespace);
  const installationID = (liveRecord ?? backupRecord)?.installationID;
  return {
    namespace,
    mode,
    ...(installationID ? { installationID } : {}),
    created: toCreate.map((s) => s.name),
    present,
    skipped,
    recordCreated,
  };
}

/** On the record while a fresh restore writes the keys (removed after the last one). */
const RESTORING_ANNOTATION = 'palisade.dev/restore-in-progress';

async function readLiveRecord(client: KubeApi, namespace: string): Promise<InstallationRecord | undefined> {
  return (await readLiveRecordObject(client, namespace))?.record;
}

async function readLiveRecordObject(
  client: KubeApi,
  namespace: string,
): Promise<{ record: InstallationRecord; restoring: boolean } | undefined> {
  const cm = await client.get<ConfigMap>({ kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace });
  if (!cm) return undefined;
  try {
    return {
      record: parseRecord(cm.data?.[RECORD_KEY]),
      restoring: cm.metadata.annotations?.[RESTORING_ANNOTATION] !== undefined,
    };
  } catch (e) {
    if (!(e instanceof DamagedRecordError)) throw e;
    throw new Error(
      `the installation record ${namespace}/${RECORD_CONFIGMAP} cannot be read (${e.message}); nothing was ` +
        'restored. Repair it, or delete it if this namespace holds no installation worth keeping.',
    );
  }
}

async function createRecord(client: KubeApi, namespace: string, record: InstallationRecord) {
  const cm = recordConfigMap(namespace, record);
  cm.metadata.annotations = { ...cm.metadata.annotations, [RESTORING_ANNOTATION]: 'true' };
  try {
    await client.create(cm);
  } catch (e) {
    const now = await readLiveRecord(client, namespace);
    if (now?.installationID !== record.installationID) throw e;
  }
}

async function finishRestoring(client: KubeApi, namespace: string): Promise<void> {
  const ref = { kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace };
  const cm = await client.get<ConfigMap>(ref);
  if (cm?.metadata.annotations?.[RESTORING_ANNOTATION] === undefined) return;
  await client.jsonPatch(ref, [
    { op: 'remove', path: `/metadata/annotations/${RESTORING_ANNOTATION.replace('/', '~1')}` },
  ]);
}

function keyIdOf(base64: string | undefined): string {
  try {
    return keyId(new Uint8Array(Buffer.from(base64 ?? '', 'base64')));
  } catch {
    return 'unreadable';
  }
}

/**
 * Refuses a backup of another installation: a different installation ID, or a root key whose key ID is
 * not the one the live record holds for its version (or no root version in common at all).
 */
function sameInstallation(
  live: InstallationRecord,
  backup: InstallationRecord | undefined,
  secrets: BackupSecret[],
  namespace: string,
): void {
  const refuse = (why: string) =>
    new Error(
      `this backup is not of the installation in namespace ${namespace} (installation ${live.installationID}): ` +
        `${why}. Nothing was restored; use a backup of this installation.`,
    );
  if (backup && backup.installationID !== live.installationID)
    throw refuse(`it was taken from installation ${backup.installationID}`);
  const roots = secrets.filter((s) => componentOf(s) === Component.RootKey);
  let common = 0;
  for (const s of roots) {
    const version = Number(s.labels[VERSION_LABEL]);
    const recorded = live.rootKeys.find((k) => k.version === version);
    if (!recorded) continue;
    common++;
    const id = keyIdOf(s.data.key);
    if (id !== recorded.keyId)
      throw refuse(
        `its root key version ${version} has key ID ${id}, the installation recorded key ID ${recorded.keyId}`,
      );
  }
  if (common === 0)
    throw refuse(
      `none of its root key versions (${roots.map((s) => s.labels[VERSION_LABEL]).join(', ') || 'none'}) ` +
        `is one the installation recorded (${live.rootKeys.map((k) => k.version).join(', ')})`,
    );
}
