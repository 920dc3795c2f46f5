/**
 * Tenant data encryption for platform code: encrypt with a TenantKey's Active version, decrypt with any
 * version still allowed to decrypt (Active or DecryptOnly). The ciphertext format is
 * controllers/crypto/data.ts ("PALD"): its header names the key version, so old ciphertexts keep working
 * across rotations.
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
  type DataContext,
  type Keyring,
  type RandomSource,
} from '../crypto/index.ts';
import { Component, secretBytes, versionOf } from '../installation/secrets.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Namespace, Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, TENANT_UID_LABEL } from '../runtime/objects.ts';
import { TENANTKEY_LABEL } from './conditions.ts';
import { foundSecret, unwrapVersion } from './verify.ts';
import { groupVersions, usable, versionStates } from './versions.ts';

export interface TenantDataKeys {
  /** The Active version: what `encrypt` uses. */
  readonly activeVersion: number;
  /** State of every version present. */
  readonly states: ReadonlyMap<number, KeyVersionState>;
  encrypt(plaintext: Uint8Array, context?: DataContext): Uint8Array;
  decrypt(ciphertext: Uint8Array, context?: DataContext): Uint8Array;
}

/** Builds the data keys of one TenantKey from its version Secrets (pure: no I/O). */
export function openTenantDataKeys(o: {
  tenantKey: Pick<TenantKey, 'metadata' | 'spec'>;
  tenantUID: string;
  secrets: readonly Secret[];
  rootKeys: Keyring;
  rand: RandomSource;
}): TenantDataKeys {
  const versions = groupVersions(o.secrets.map(foundSecret));
  const states = versionStates(
    o.tenantKey.spec,
    versions.map((v) => v.version),
  );
  const keys = new Map<number, Uint8Array>();
  for (const v of versions) {
    if (!usable(states.get(v.version))) continue;
    const s = o.secrets.find((x) => x.metadata.name === v.current.name) as Secret;
    const r = unwrapVersion(o.tenantKey as TenantKey, o.tenantUID, s, o.rootKeys);
    if (!r.ok)
      throw new Error(
        `TenantKey ${o.tenantKey.metadata.name}: Secret ${r.problem.secret} ${r.problem.message}`,
      );
    keys.set(v.version, r.key);
  }
  const activeVersion = versions.at(-1)?.version ?? 0;
  const active = keys.get(activeVersion);
  return {
    activeVersion,
    states,
    encrypt(plaintext, context) {
      if (!active) throw new Error(`TenantKey ${o.tenantKey.metadata.name} has no version yet`);
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
        const state = states.get(needed) ?? 'absent';
        throw new Error(`the ciphertext needs key version ${needed}, which is ${state}: it may not decrypt`);
      }
      return decryptData(ciphertext, (v) => keys.get(v), context);
    },
  };
}

/** A keyring of the root key versions in the operator's namespace, read once. */
export async function loadRootKeyring(client: KubeClient, operatorNamespace: string): Promise<Keyring> {
  const list = await client.list<Secret>('Secret', {
    namespace: operatorNamespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${COMPONENT_LABEL}=${Component.RootKey}`,
  });
  return keyringOf(new Map(list.items.map((s) => [versionOf(s), secretBytes(s, 'key')])));
}

/** Reads a TenantKey, its namespace's tenant UID, its version Secrets and the root keys, then opens them. */
export async function loadTenantDataKeys(
  client: KubeClient,
  o: { namespace: string; key: string; operatorNamespace?: string; rand: RandomSource },
): Promise<TenantDataKeys> {
  const tenantKey = await client.get<TenantKey>({ kind: 'TenantKey', name: o.key, namespace: o.namespace });
  if (!tenantKey) throw new Error(`TenantKey ${o.namespace}/${o.key} not found`);
  const ns = await client.get<Namespace>({ kind: 'Namespace', name: o.namespace });
  const tenantUID = ns?.metadata.labels?.[TENANT_UID_LABEL];
  if (!tenantUID)
    throw new Error(`namespace ${o.namespace} has no ${TENANT_UID_LABEL} label: not a tenant namespace`);
  const secrets = await client.list<Secret>('Secret', {
    namespace: o.namespace,
    labelSelector: `${TENANTKEY_LABEL}=${o.key}`,
  });
  const rootKeys = await loadRootKeyring(client, o.operatorNamespace ?? 'palisade-system');
  return openTenantDataKeys({ tenantKey, tenantUID, secrets: secrets.items, rootKeys, rand: o.rand });
}
