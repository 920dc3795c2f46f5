/**
 * Reads what the operator's namespace holds (the installation record, the installation keys, wrapped
 * keystore entries under absent root versions) into the shape {@link assessInstallation} decides on, and
 * writes the record. Every read is live (API server, not a cache): these decide whether keys are made.
 */
import { isDeepStrictEqual } from 'node:util';
import { fingerprint, keyId, type RandomSource } from '../crypto/index.ts';
import { isConflict } from '../runtime/errors.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import { jwkThumbprint, publicJwk } from './jwk.ts';
import {
  DamagedRecordError,
  newRecord,
  parseRecord,
  RECORD_CONFIGMAP,
  RECORD_KEY,
  recordConfigMap,
  recordWith,
  type KeyFact,
} from './record.ts';
import { ROOT_KEY_VERSION_LABEL, wrappedByRootVersion } from './rootversion.ts';
import { Component, secretBytes, secretName, versionOf } from './secrets.ts';
import type { Observed } from './verdict.ts';

export interface Observation {
  observed: Observed;
  /** The record ConfigMap as read (for its resourceVersion, and as the object Events are about). */
  recordObject?: ConfigMap;
  rootSecrets: Secret[];
  jwtSecrets: Secret[];
  saltSecret?: Secret;
}

export async function observeInstallation(d: { client: KubeApi; namespace: string }): Promise<Observation> {
  const recordObject = await d.client.get<ConfigMap>({
    kind: 'ConfigMap',
    name: RECORD_CONFIGMAP,
    namespace: d.namespace,
  });
  const [rootSecrets, jwtSecrets, saltSecret, saltVersions] = await Promise.all([
    listVersions(d, Component.RootKey),
    listVersions(d, Component.JwtSigningKey),
    d.client.get<Secret>({ kind: 'Secret', name: secretName(Component.HashSalt), namespace: d.namespace }),
    listVersions(d, Component.HashSalt),
  ]);
  const observed: Observed = {
    rootKeys: rootSecrets.map((s) => keyFact(s, (b) => [keyId(b), fingerprint(b)], 'key')),
    jwtSigningKeys: jwtSecrets.map((s) => keyFact(s, (b) => [jwkThumbprint(publicJwk(b))], 'private.der')),
    hashSalts: saltVersions.map((s) => keyFact(s, (b) => [fingerprint(b)], 'salt')),
    wrappedByAbsent: await wrappedByAbsent(d, rootSecrets.map(versionOf)),
  };
  if (saltSecret)
    observed.hashSalt = { fingerprint: safely(() => fingerprint(secretBytes(saltSecret, 'salt'))) };
  if (recordObject) {
    try {
      observed.record = parseRecord(recordObject.data?.[RECORD_KEY]);
    } catch (e) {
      if (!(e instanceof DamagedRecordError)) throw e;
      observed.recordDamaged = e.message;
    }
  }
  return {
    observed,
    ...(recordObject ? { recordObject } : {}),
    rootSecrets,
    jwtSecrets,
    ...(saltSecret ? { saltSecret } : {}),
  };
}

/** The versions of one installation key's Secrets, read live, lowest first. */
export async function listVersions(d: { client: KubeApi; namespace: string }, component: Component) {
  const list = await d.client.list<Secret>('Secret', {
    namespace: d.namespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${COMPONENT_LABEL}=${component}`,
  });
  // NB: the hash salt's version 1 is the unversioned `palisade-hash-salt`; only rotations carry versions.
  return list.items.filter((s) => versionOf(s) > 0).sort((a, b) => versionOf(a) - versionOf(b));
}

/** Names computed from the key bytes themselves (never from annotations anyone could edit). */
function keyFact(s: Secret, names: (b: Uint8Array) => string[], entry: string): KeyFact {
  const [id, fp] = safelyAll(() => names(secretBytes(s, entry)));
  return { version: versionOf(s), keyId: id ?? '', ...(fp ? { fingerprint: fp } : {}) };
}

function safely(f: () => string): string {
  try {
    return f();
  } catch {
    return '';
  }
}

function safelyAll(f: () => string[]): (string | undefined)[] {
  try {
    return f();
  } catch {
    return [];
  }
}

/**
 * Root versions carried by wrapped entries in the operator's namespace (the keystore) that are not among
 * `present` → how many entries each. One label-selected list that is empty on a healthy installation.
 */
async function wrappedByAbsent(
  d: { client: KubeApi; namespace: string },
  present: number[],
): Promise<Map<number, number>> {
  const notPresent = present.length ? `,${ROOT_KEY_VERSION_LABEL} notin (${present.join(',')})` : '';
  const list = await d.client.list<Secret>('Secret', {
    namespace: d.namespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${ROOT_KEY_VERSION_LABEL}${notPresent}`,
  });
  const out = new Map<number, number>();
  for (const s of list.items) {
    const v = wrappedByRootVersion(s);
    if (v > 0) out.set(v, (out.get(v) ?? 0) + 1);
  }
  return out;
}

export interface RecordDeps {
  client: KubeApi;
  namespace: string;
  rand: RandomSource;
  now: () => Date;
  log: Logger;
  audit: AuditLog;
}

/**
 * Makes the record list every key present: creates it (create-only) when there is none, or adds new
 * versions with a resourceVersion-guarded update. Returns false when another writer got there first
 * (the caller observes again and retries); never removes or changes a recorded entry.
 */
export async function saveRecord(d: RecordDeps, o: Observation): Promise<boolean> {
  const current = o.observed.record;
  const next = recordWith(current ?? newRecord(d.rand, d.now()), o.observed);
  if (current && isDeepStrictEqual(next, current)) return true;
  const cm = recordConfigMap(d.namespace, next);
  const resource = { kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace: d.namespace };
  const added = next.rootKeys.filter((k) => !current?.rootKeys.some((c) => c.version === k.version));
  try {
    if (!o.recordObject) await d.client.create(cm);
    else
      await d.client.update<ConfigMap>({
        ...o.recordObject,
        data: { ...o.recordObject.data, ...cm.data },
      });
  } catch (e) {
    if (isConflict(e)) return false;
    throw e;
  }
  const what = current ? 'recorded new installation keys' : 'created the installation record';
  d.log.info(what, {
    installationID: next.installationID,
    rootVersions: added.map((k) => k.version),
  });
  d.audit.record({
    action: 'installation.record',
    outcome: 'Success',
    resource,
    reason: `installation ${next.installationID}; root versions ${next.rootKeys.map((k) => k.version).join(',')}`,
  });
  return true;
}
