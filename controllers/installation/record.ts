/**
 * The installation record: what Palisade has installed in its namespace, kept apart from the keys
 * themselves, so that a missing key can be told from a fresh install.
 *
 * It is the ConfigMap `palisade-installation` in the operator's namespace (labels
 * `app.kubernetes.io/managed-by=palisade`, `palisade.dev/component=installation-record`), one JSON entry
 * `installation.json`:
 *
 *   {
 *     "format": "palisade-installation-record-v1",
 *     "installationID": "<32 hex: random, drawn at first start>",
 *     "created": "<RFC 3339>",
 *     "rootKeys": [{ "version": 1, "keyId": "<16 hex>", "fingerprint": "sha256:<64 hex>" }, ...],
 *     "jwtSigningKeys": [{ "version": 1, "keyId": "<JWK thumbprint>" }, ...],
 *     "hashSalt": { "fingerprint": "sha256:<64 hex>" },
 *     "hashSalts": [{ "version": 2, "keyId": "sha256:<64 hex>" }, ...]   (rotations only)
 *   }
 *
 * Only public names of keys (controllers/crypto/keys.ts explains why they reveal nothing), never key
 * bytes. Every root key version ever created stays listed, retired ones included. The record is created
 * create-only once the first keys exist (so a record always means "keys were made here") and grows by
 * resourceVersion-guarded updates when a new version appears; nothing is ever removed from it.
 */
import type { RandomSource } from '../crypto/index.ts';
import type { ConfigMap } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';

export const RECORD_CONFIGMAP = 'palisade-installation';
export const RECORD_COMPONENT = 'installation-record';
export const RECORD_KEY = 'installation.json';
const FORMAT = 'palisade-installation-record-v1';

/** A versioned key as the record knows it: public names only. */
export interface KeyFact {
  version: number;
  keyId: string;
  fingerprint?: string;
}

export interface InstallationRecord {
  installationID: string;
  created: string;
  rootKeys: KeyFact[];
  jwtSigningKeys: KeyFact[];
  hashSalt?: { fingerprint: string };
  /** Hash salt versions from rotations (2 and up; version 1 is `hashSalt`), keyId = fingerprint. */
  hashSalts?: KeyFact[];
}

/** A new, empty record for an installation whose first keys were just made. */
export function newRecord(rand: RandomSource, now: Date): InstallationRecord {
  return {
    installationID: Buffer.from(rand(16)).toString('hex'),
    created: now.toISOString(),
    rootKeys: [],
    jwtSigningKeys: [],
  };
}

/**
 * `record` plus every key present that it does not list yet (a root rotation, an upgrade from a version
 * without a record). Entries are only ever added: a version already listed keeps its recorded names, so
 * a different key under the same name is noticed, not adopted.
 */
export function recordWith(
  record: InstallationRecord,
  present: {
    rootKeys: KeyFact[];
    jwtSigningKeys: KeyFact[];
    hashSalt?: { fingerprint: string };
    hashSalts?: KeyFact[];
  },
): InstallationRecord {
  const add = (known: KeyFact[], found: KeyFact[]) =>
    [...known, ...found.filter((f) => f.keyId && !known.some((k) => k.version === f.version))].sort(
      (a, b) => a.version - b.version,
    );
  const salt = record.hashSalt ?? (present.hashSalt?.fingerprint ? present.hashSalt : undefined);
  const salts = add(record.hashSalts ?? [], present.hashSalts ?? []);
  return {
    installationID: record.installationID,
    created: record.created,
    rootKeys: add(record.rootKeys, present.rootKeys),
    jwtSigningKeys: add(record.jwtSigningKeys, present.jwtSigningKeys),
    ...(salt ? { hashSalt: { fingerprint: salt.fingerprint } } : {}),
    ...(salts.length ? { hashSalts: salts } : {}),
  };
}

export function recordConfigMap(namespace: string, record: InstallationRecord): ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: RECORD_CONFIGMAP,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: RECORD_COMPONENT },
    },
    data: { [RECORD_KEY]: serializeRecord(record) },
  };
}

export function serializeRecord(r: InstallationRecord): string {
  return `${JSON.stringify({ format: FORMAT, ...r }, null, 2)}\n`;
}

/** Thrown for a record that cannot be read: it is reported, never overwritten. */
export class DamagedRecordError extends Error {
  override name = 'DamagedRecordError';
}

/** Parses the record's JSON; throws {@link DamagedRecordError} for anything but a well-formed record. */
export function parseRecord(text: string | undefined): InstallationRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text ?? '');
  } catch {
    throw new DamagedRecordError(`${RECORD_KEY} is not JSON`);
  }
  const d = doc as Partial<InstallationRecord> & { format?: unknown };
  if (typeof d !== 'object' || d === null || d.format !== FORMAT)
    throw new DamagedRecordError(`${RECORD_KEY} is not a ${FORMAT} document`);
  if (typeof d.installationID !== 'string' || !/^[0-9a-f]{32}$/.test(d.installationID))
    throw new DamagedRecordError(`${RECORD_KEY} has no valid installationID`);
  const facts = (v: unknown, what: string): KeyFact[] => {
    if (!Array.isArray(v)) throw new DamagedRecordError(`${RECORD_KEY}: ${what} is not a list`);
    return v.map((f: Partial<KeyFact>) => {
      if (!Number.isInteger(f.version) || (f.version ?? 0) < 1 || typeof f.keyId !== 'string' || !f.keyId)
        throw new DamagedRecordError(`${RECORD_KEY}: an entry of ${what} has no version or key ID`);
      return {
        version: f.version as number,
        keyId: f.keyId,
        ...(typeof f.fingerprint === 'string' ? { fingerprint: f.fingerprint } : {}),
      };
    });
  };
  const salt = d.hashSalt;
  if (salt !== undefined && typeof salt?.fingerprint !== 'string')
    throw new DamagedRecordError(`${RECORD_KEY}: hashSalt has no fingerprint`);
  return {
    installationID: d.installationID,
    created: typeof d.created === 'string' ? d.created : '',
    rootKeys: facts(d.rootKeys, 'rootKeys'),
    jwtSigningKeys: facts(d.jwtSigningKeys, 'jwtSigningKeys'),
    ...(salt ? { hashSalt: { fingerprint: salt.fingerprint } } : {}),
    ...(d.hashSalts !== undefined ? { hashSalts: facts(d.hashSalts, 'hashSalts') } : {}),
  };
}
