/**
 * What each operation does with an open tenant key, item by item. Synchronous on purpose: an unwrapped key
 * is used between two awaits never, so an eviction (a rotation, a destroy) cannot interleave with its use.
 */
import type { KeyOperation } from '../../crds/v1alpha1/index.ts';
import { dataKeyVersion, generateDataKey, type RandomSource } from '../crypto/index.ts';
import { usable } from '../tenantkey/versions.ts';
import { asKeyServiceError, KeyServiceError } from './errors.ts';
import type { OpenKey } from './keycache.ts';
import type {
  CiphertextItem,
  DecryptResponse,
  EncryptItem,
  EncryptResponse,
  GenerateDataKeyResponse,
  ItemResult,
  RewrapResponse,
} from './proto.ts';

/** Most items in one batch call. */
export const MAX_BATCH_ITEMS = 1000;

const where = (o: OpenKey) => `TenantKey ${o.tenantKey.metadata.name} of Tenant ${o.tenant.tenant}`;

function activeVersion(o: OpenKey): number {
  const v = o.keys.activeVersion;
  if (!v) throw new KeyServiceError('FailedPrecondition', `${where(o)} has no key version yet`);
  return v;
}

/**
 * Throws unless `version` may decrypt now, saying why not: Destroyed (for good), Disabled (and what
 * re-enables it), or unknown to this key.
 */
export function requireDecryptable(o: OpenKey, version: number): void {
  const state = o.keys.states.get(version);
  if (usable(state)) return;
  const spec = o.tenantKey.spec;
  const listed = o.tenantKey.status?.versions?.find((v) => v.version === version);
  const destroyed =
    state === 'Destroyed' ||
    listed?.state === 'Destroyed' ||
    (spec.destroyBelowVersion !== undefined && version < spec.destroyBelowVersion);
  if (destroyed) {
    throw new KeyServiceError(
      'FailedPrecondition',
      `the ciphertext needs version ${version} of ${where(o)}, which was destroyed` +
        (spec.destroyBelowVersion !== undefined
          ? ` (spec.destroyBelowVersion is ${spec.destroyBelowVersion})`
          : '') +
        ': data encrypted under it can never be decrypted again',
    );
  }
  if (state === 'Disabled') {
    throw new KeyServiceError(
      'FailedPrecondition',
      `the ciphertext needs version ${version} of ${where(o)}, which is Disabled (minDecryptionVersion ` +
        `${spec.minDecryptionVersion ?? 1}, retainedVersions ${spec.retainedVersions}, active version ` +
        `${o.keys.activeVersion}): lower spec.minDecryptionVersion or raise spec.retainedVersions to decrypt it`,
    );
  }
  if (version > o.keys.activeVersion) {
    throw new KeyServiceError(
      'InvalidArgument',
      `the ciphertext names version ${version}, which ${where(o)} does not have (its active version is ${o.keys.activeVersion}): made by another key?`,
    );
  }
  throw new KeyServiceError('FailedPrecondition', `version ${version} of ${where(o)} is not held any more`);
}

const ctx = (c: Uint8Array) => (c.length ? c : undefined);

export function encrypt(o: OpenKey, item: EncryptItem): EncryptResponse {
  const keyVersion = activeVersion(o);
  return { ciphertext: o.keys.encrypt(item.plaintext, ctx(item.context)), keyVersion };
}

export function decrypt(o: OpenKey, item: CiphertextItem): DecryptResponse {
  const keyVersion = dataKeyVersion(item.ciphertext);
  requireDecryptable(o, keyVersion);
  return { plaintext: o.keys.decrypt(item.ciphertext, ctx(item.context)), keyVersion };
}

export function generate(o: OpenKey, context: Uint8Array, rand: RandomSource): GenerateDataKeyResponse {
  const keyVersion = activeVersion(o);
  const plaintextKey = generateDataKey(rand);
  return { plaintextKey, encryptedKey: o.keys.encrypt(plaintextKey, ctx(context)), keyVersion };
}

export function rewrap(o: OpenKey, item: CiphertextItem): RewrapResponse {
  const { plaintext, keyVersion: fromVersion } = decrypt(o, item);
  try {
    return { ...encrypt(o, { plaintext, context: item.context }), fromVersion };
  } finally {
    plaintext.fill(0);
  }
}

/** Runs `fn` on each item; a failing item becomes its error, the others go on. */
export function each<I, R>(items: readonly I[], fn: (item: I) => R): ItemResult<R>[] {
  if (items.length > MAX_BATCH_ITEMS)
    throw new KeyServiceError(
      'InvalidArgument',
      `at most ${MAX_BATCH_ITEMS} items per batch, got ${items.length}`,
    );
  return items.map((item) => {
    try {
      return { result: 'ok', ok: fn(item) };
    } catch (e) {
      const err = asKeyServiceError(e);
      return { result: 'error', error: { code: err.grpcCode, message: err.message } };
    }
  });
}

/** The versions an outcome touched, for the audit record. */
export function versionsOf(results: readonly unknown[]): number[] {
  const out = new Set<number>();
  for (const r of results) {
    const v = r as { keyVersion?: number; result?: string; ok?: { keyVersion?: number } };
    const version = v.result === 'ok' ? v.ok?.keyVersion : v.keyVersion;
    if (version) out.add(version);
  }
  return [...out].sort((a, b) => a - b);
}

/** The operation a KeyAccessPolicy must allow for each RPC. */
export const OPERATION_OF: Record<string, KeyOperation> = {
  Encrypt: 'Encrypt',
  BatchEncrypt: 'Encrypt',
  Decrypt: 'Decrypt',
  BatchDecrypt: 'Decrypt',
  GenerateDataKey: 'GenerateDataKey',
  BatchGenerateDataKey: 'GenerateDataKey',
  Rewrap: 'Rewrap',
  BatchRewrap: 'Rewrap',
};
