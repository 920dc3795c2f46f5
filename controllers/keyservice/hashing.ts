/**
 * palisade.keys.v1.Identifiers: blind indexes and password hashes with the installation's hash salt
 * (controllers/crypto/identifiers.ts does the cryptography; this chooses the salt versions).
 *
 * - Blind indexes are scoped to the tenant (its UID is the HKDF scope): the same e-mail address gets
 *   unrelated indexes in two tenants, so one tenant's index table says nothing about another's. They are
 *   made with every salt version currently indexed (installation/saltring.ts `indexedVersions`), active
 *   first.
 * - Password hashes use the active version's pepper and name it; verifying uses the version the hash
 *   names, as long as that salt version exists.
 * - Argon2id is memory-hard (19 MiB per hash by default): at most {@link MAX_CONCURRENT_HASHES} run at
 *   once and at most {@link MAX_WAITING_HASHES} wait; beyond that a call is refused (UNAVAILABLE) instead of
 *   letting memory grow with the request rate.
 */
import {
  DEFAULT_PASSWORD_PARAMS,
  hashIdentifier,
  hashPassword,
  IdentifierKind,
  passwordNeedsRehash,
  passwordPepperVersion,
  verifyPassword,
  type PasswordParams,
  type RandomSource,
} from '../crypto/index.ts';
import { indexedVersions, type SaltVersion } from '../installation/saltring.ts';
import type { Operation } from './calls.ts';
import { KeyServiceError } from './errors.ts';
import { each } from './operations.ts';
import type {
  BatchBlindIndexRequest,
  BatchResponse,
  BlindIndexRequest,
  BlindIndexResponse,
  HashPasswordRequest,
  HashPasswordResponse,
  IdentifierKindName,
  VerifyPasswordRequest,
  VerifyPasswordResponse,
} from './proto.ts';

export const MAX_CONCURRENT_HASHES = 2;
export const MAX_WAITING_HASHES = 64;

export interface HashingDeps {
  salts: { versions(): readonly SaltVersion[]; get(version: number): SaltVersion | undefined };
  rand: RandomSource;
  now(): number;
  passwordParams?: PasswordParams;
}

const KINDS: Record<IdentifierKindName, IdentifierKind | undefined> = {
  IDENTIFIER_KIND_UNSPECIFIED: undefined,
  IDENTIFIER_KIND_EMAIL: IdentifierKind.Email,
  IDENTIFIER_KIND_OPAQUE: IdentifierKind.Opaque,
};

function kindOf(k: IdentifierKindName): IdentifierKind {
  const kind = KINDS[k];
  if (!kind)
    throw new KeyServiceError(
      'InvalidArgument',
      'kind must be IDENTIFIER_KIND_EMAIL or IDENTIFIER_KIND_OPAQUE',
    );
  return kind;
}

/** A counting gate for the Argon2 work. */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.running >= MAX_CONCURRENT_HASHES) {
      if (this.waiting.length >= MAX_WAITING_HASHES)
        throw new KeyServiceError(
          'Unavailable',
          'too many password hashes in progress on this replica; retry',
        );
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await f();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

export function identifierOperations(d: HashingDeps) {
  const params = d.passwordParams ?? DEFAULT_PASSWORD_PARAMS;
  const gate = new Gate();
  const active = () => {
    const all = d.salts.versions();
    const last = all[all.length - 1];
    if (!last) throw new KeyServiceError('Unavailable', 'the hash salt is not loaded yet; retry');
    return last;
  };
  const indexes = (uid: string, kind: IdentifierKind, value: string): BlindIndexResponse => ({
    indexes: indexedVersions(d.salts.versions(), d.now()).map((v) => ({
      saltVersion: v.version,
      index: hashIdentifier(v.salt, value, kind, uid),
    })),
  });

  const blindIndex: Operation<BlindIndexRequest, BlindIndexResponse> = (req, scope) => {
    const { uid } = scope.authorize(req.tenant, 'BlindIndex');
    const res = indexes(uid, kindOf(req.kind), req.value);
    scope.version = res.indexes[0]?.saltVersion;
    return res;
  };

  const batchBlindIndex: Operation<BatchBlindIndexRequest, BatchResponse<BlindIndexResponse>> = (
    req,
    scope,
  ) => {
    const { uid } = scope.authorize(req.tenant, 'BlindIndex');
    const kind = kindOf(req.kind);
    const results = each(req.values, (v) => indexes(uid, kind, v));
    scope.version = active().version;
    scope.detail = `${req.values.length} items, ${results.filter((r) => r.result === 'error').length} failed`;
    return { results };
  };

  const hash: Operation<HashPasswordRequest, Promise<HashPasswordResponse>> = async (req, scope) => {
    scope.authorize(req.tenant, 'HashPassword');
    const salt = active();
    scope.version = salt.version;
    const encoded = await gate.run(() => hashPassword(salt.salt, req.password, d.rand, params, salt.version));
    return { hash: encoded, pepperVersion: salt.version };
  };

  const verify: Operation<VerifyPasswordRequest, Promise<VerifyPasswordResponse>> = async (req, scope) => {
    scope.authorize(req.tenant, 'VerifyPassword');
    const pepperVersion = passwordPepperVersion(req.hash);
    scope.version = pepperVersion;
    const salt = d.salts.get(pepperVersion);
    if (!salt)
      throw new KeyServiceError(
        'FailedPrecondition',
        `the hash was made with hash salt version ${pepperVersion}, which this installation does not have`,
      );
    const valid = await gate.run(() => verifyPassword(salt.salt, req.password, req.hash));
    return { valid, needsRehash: passwordNeedsRehash(req.hash, params, active().version), pepperVersion };
  };

  return {
    BlindIndex: blindIndex,
    BatchBlindIndex: batchBlindIndex,
    HashPassword: hash,
    VerifyPassword: verify,
  };
}
