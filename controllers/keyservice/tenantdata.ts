/**
 * Tenant data encryption: encrypt with a TenantKey's Active version, decrypt with any version still
 * allowed to decrypt (Active or DecryptOnly). The ciphertext format is controllers/crypto/data.ts
 * ("PALD"): its header names the key version, so old ciphertexts keep working across rotations.
 *
 * `openTenantDataKeys` is what the key service (controllers/keyservice/) runs on every call's key. Platform
 * code calls the key service; the `load…` readers below need the root key Secret and are for tests and an
 * administrator's recovery checks only:
 *
 *   const keys = await loadTenantDataKeys(client, { namespace: 'tenant-acme', key: 'primary' });
 *   const box = keys.encrypt(utf8('alice@example.com'), 'user/42/email');
 */
import type { KeyVersionState, TenantKey } from '../../crds/v1alpha1/index.ts';
import {
  dataKeyVersion,
  decryptData,
  encryptData,
  keyringOf,
  prepareKey,
  type DataContext,
  type PreparedKey,
  type Keyring,
  type RandomSource,
} from '../crypto/index.ts';
import { Component, secretBytes, versionOf } from '../installation/secrets.ts';
import {
  COMPONENT_LABEL_SELECTOR,
  ENTRY_KIND_LABEL,
  EntryKind,
  TENANT_NAMESPACE_LABEL,
  TENANTKEY_LABEL,
} from '../keystore/entries.ts';
import { recordOf } from '../keystore/tenants.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, TENANT_UID_LABEL } from '../runtime/objects.ts';
import { foundSecret, unwrapVersion, type UnwrapProblem } from '../tenantkey/verify.ts';
import { groupVersions, usable, versionStates } from '../tenantkey/versions.ts';

export interface TenantDataKeys {
  /** The Active version: what `encrypt` uses. */
  readonly activeVersion: number;
  /** State of every version present. */
  readonly states: ReadonlyMap<number, KeyVersionState>;
  encrypt(plaintext: Uint8Array, context?: DataContext): Uint8Array;
  decrypt(ciphertext: Uint8Array, context?: DataContext): Uint8Array;
  /** Overwrites the unwrapped keys with zeros; every later encrypt or decrypt fails. */
  forget(): void;
}

/** Builds the data keys of one TenantKey from its version Secrets (pure: no I/O). */
export function openTenantDataKeys(o: {
  tenantKey: Pick<TenantKey, 'metadata' | 'spec'>;
  tenantUID: string;
  secrets: readonly Secret[];
  rootKeys: Keyring;
  /** The root versions the installation holds (tells a lost root key from a damaged entry). */
  rootVersions?: readonly number[];
  rand: RandomSource;
}): TenantDataKeys {
  const versions = groupVersions(o.secrets.map(foundSecret));
  const states = versionStates(
    o.tenantKey.spec,
    versions.map((v) => v.version),
  );
  // NB: prepared once (a private copy with its key ID), so no call recomputes the ID; the unwrapped bytes
  // are zeroed once copied.
  const keys = new Map<number, PreparedKey>();
  // NB: a damaged version fails only when it is needed; every other version keeps working.
  const broken = new Map<number, UnwrapProblem>();
  const held = new Set(o.rootVersions ?? []);
  for (const v of versions) {
    if (!usable(states.get(v.version))) continue;
    const s = o.secrets.find((x) => x.metadata.name === v.current.name) as Secret;
    const r = unwrapVersion(o.tenantKey, o.tenantUID, s, o.rootKeys, held);
    if (r.ok) {
      keys.set(v.version, prepareKey(r.key));
      r.key.fill(0);
    } else broken.set(v.version, r.problem);
  }
  const problem = (v: number) => {
    const p = broken.get(v);
    return p
      ? new Error(`TenantKey ${o.tenantKey.metadata.name} version ${v}: entry ${p.secret} ${p.message}`)
      : undefined;
  };
  const activeVersion = versions.at(-1)?.version ?? 0;
  let active = keys.get(activeVersion);
  return {
    activeVersion,
    states,
    encrypt(plaintext, context) {
      if (!active)
        throw (
          problem(activeVersion) ?? new Error(`TenantKey ${o.tenantKey.metadata.name} has no version yet`)
        );
      return encryptData(
        plaintext,
        active,
        { keyVersion: activeVersion, ...(context === undefined ? {} : { context }) },
        o.rand,
      );
    },
    decrypt(ciphertext, context) {
      const needed = dataKeyVersion(ciphertext);
      if (!keys.has(needed)) {
        const damaged = problem(needed);
        if (damaged) throw damaged;
        const state = states.get(needed) ?? 'absent';
        throw new Error(`the ciphertext needs key version ${needed}, which is ${state}: it may not decrypt`);
      }
      return decryptData(ciphertext, (v) => keys.get(v), context);
    },
    forget() {
      for (const k of keys.values()) k.wipe();
      keys.clear();
      active = undefined;
    },
  };
}

/** A keyring of the root key versions in the operator's namespace, read once. */
export async function loadRootKeyring(
  client: KubeClient,
  operatorNamespace: string,
): Promise<{ keyring: Keyring; versions: number[] }> {
  const list = await client.list<Secret>('Secret', {
    namespace: operatorNamespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${COMPONENT_LABEL}=${Component.RootKey}`,
  });
  const byVersion = new Map(list.items.map((s) => [versionOf(s), secretBytes(s, 'key')]));
  return { keyring: keyringOf(byVersion), versions: [...byVersion.keys()] };
}

/** The tenant UID of `namespace`, from the keystore's tenant record (never from namespace labels). */
export async function tenantUIDOf(
  client: KubeClient,
  operatorNamespace: string,
  namespace: string,
): Promise<string> {
  const list = await client.list<Secret>('Secret', {
    namespace: operatorNamespace,
    labelSelector: `${COMPONENT_LABEL_SELECTOR},${ENTRY_KIND_LABEL}=${EntryKind.Tenant},${TENANT_NAMESPACE_LABEL}=${namespace}`,
  });
  const [record] = list.items.map(recordOf);
  if (!record) throw new Error(`namespace ${namespace} belongs to no Tenant: not a tenant namespace`);
  return record.uid;
}

/** The keystore entries of one TenantKey. */
export async function keyEntries(
  client: KubeClient,
  operatorNamespace: string,
  uid: string,
  key: string,
): Promise<Secret[]> {
  const list = await client.list<Secret>('Secret', {
    namespace: operatorNamespace,
    labelSelector: `${COMPONENT_LABEL_SELECTOR},${ENTRY_KIND_LABEL}=${EntryKind.TenantKey},${TENANT_UID_LABEL}=${uid},${TENANTKEY_LABEL}=${key}`,
  });
  return list.items;
}

/** Reads a TenantKey, its tenant's UID, its keystore entries and the root keys, then opens them. */
export async function loadTenantDataKeys(
  client: KubeClient,
  o: { namespace: string; key: string; operatorNamespace?: string; rand: RandomSource },
): Promise<TenantDataKeys> {
  const operatorNamespace = o.operatorNamespace ?? 'palisade-system';
  const tenantKey = await client.get<TenantKey>({ kind: 'TenantKey', name: o.key, namespace: o.namespace });
  if (!tenantKey) throw new Error(`TenantKey ${o.namespace}/${o.key} not found`);
  const tenantUID = await tenantUIDOf(client, operatorNamespace, o.namespace);
  const secrets = await keyEntries(client, operatorNamespace, tenantUID, o.key);
  const root = await loadRootKeyring(client, operatorNamespace);
  return openTenantDataKeys({
    tenantKey,
    tenantUID,
    secrets,
    rootKeys: root.keyring,
    rootVersions: root.versions,
    rand: o.rand,
  });
}
