import { generateKeyPairSync } from 'node:crypto';
import { fingerprint, generateDataKey, keyId, type RandomSource } from '../crypto/index.ts';
import { isAlreadyExists } from '../runtime/errors.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import { jwkThumbprint, publicJwk } from './jwk.ts';
import { ACTIVATE_AT_ANNOTATION, JWT_OVERLAP_MS } from './jwtschedule.ts';
import { observeInstallation } from './observe.ts';
import { PREVIOUS_UNTIL_ANNOTATION } from './saltring.ts';
import { Component, FINGERPRINT_ANNOTATION, installationSecret, KEY_ID_ANNOTATION } from './secrets.ts';
import { assessInstallation, recoveryStep, type Observed } from './verdict.ts';

/**
 * Starts a root key rotation: creates `palisade-root-key-v<N+1>`, create-only, where N is the highest
 * version present *or recorded* (a number once used is never used again). That is all it does; the
 * operator sees the new version through its Secret informer, adds it to the installation record,
 * rewraps everything wrapped under older versions and retires them once nothing carries their
 * `palisade.dev/root-key-version` label. It refuses while an installation key is missing: a rotation
 * is no way around a lost key (restore it first). Two rotations racing for the same N+1 cannot both
 * win: the loser gets a clear error.
 */
export async function rotateRootKey(d: {
  client: KubeApi;
  namespace: string;
  rand: RandomSource;
  audit: AuditLog;
}): Promise<{ version: number; keyId: string; previous: number }> {
  const { observed } = await observeInstallation(d);
  const verdict = assessInstallation(observed);
  if (verdict.kind === 'lost')
    throw new Error(
      `refusing to rotate the root key of namespace ${d.namespace}: ${verdict.problems.map((p) => p.message).join('; ')}. ` +
        `First ${recoveryStep(verdict.problems, d.namespace)}`,
    );
  const previous = Math.max(0, ...observed.rootKeys.map((k) => k.version));
  if (previous === 0) {
    throw new Error(
      `no root key in namespace ${d.namespace}: start the operator (or restore a backup) first`,
    );
  }
  const recorded = observed.record?.rootKeys.map((k) => k.version) ?? [];
  const key = generateDataKey(d.rand);
  const version = Math.max(previous, ...recorded) + 1;
  const secret = installationSecret({
    namespace: d.namespace,
    component: Component.RootKey,
    version,
    data: { key },
    annotations: { [KEY_ID_ANNOTATION]: keyId(key), [FINGERPRINT_ANNOTATION]: fingerprint(key) },
  });
  const resource = { kind: 'Secret', name: secret.metadata.name, namespace: d.namespace };
  try {
    await d.client.create(secret);
  } catch (e) {
    d.audit.record({ action: 'root-key.rotate', outcome: 'Failure', resource, version, reason: String(e) });
    if (isAlreadyExists(e))
      throw new Error(`root key version ${version} was created by someone else meanwhile; nothing done`);
    throw e;
  }
  d.audit.record({ action: 'root-key.rotate', outcome: 'Success', resource, version, keyId: keyId(key) });
  return { version, keyId: keyId(key), previous };
}

interface RotateDeps {
  client: KubeApi;
  namespace: string;
  audit: AuditLog;
  now?: () => Date;
}

/**
 * Starts a JWT signing key rotation: creates `palisade-jwt-signing-key-v<N+1>` (create-only) that becomes
 * the signing key at `now + activateAfterMs` (default {@link JWT_OVERLAP_MS}: published as the JWKS's
 * "next" key at least that long before it signs). The key it supersedes stays published for
 * JWT_OVERLAP_MS more (controllers/installation/jwtschedule.ts).
 */
export async function rotateJwtSigningKey(
  d: RotateDeps & { activateAfterMs?: number },
): Promise<{ version: number; kid: string; activateAt: string }> {
  const now = (d.now ?? (() => new Date()))().getTime();
  const { observed } = await observeInstallation(d);
  refuseIfLost(observed, d.namespace, 'JWT signing key');
  const version =
    Math.max(
      0,
      ...observed.jwtSigningKeys.map((k) => k.version),
      ...(observed.record?.jwtSigningKeys.map((k) => k.version) ?? []),
    ) + 1;
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const kid = jwkThumbprint(publicJwk(der));
  const activateAt = new Date(now + (d.activateAfterMs ?? JWT_OVERLAP_MS)).toISOString();
  const secret = installationSecret({
    namespace: d.namespace,
    component: Component.JwtSigningKey,
    version,
    data: { 'private.der': der },
    annotations: { [KEY_ID_ANNOTATION]: kid, [ACTIVATE_AT_ANNOTATION]: activateAt },
  });
  await createRotated(d, secret, 'jwt-signing-key.rotate', version, kid);
  return { version, kid, activateAt };
}

/**
 * Starts a hash salt rotation: creates `palisade-hash-salt-v<N+1>` (create-only, 32 random bytes). New
 * blind indexes and password hashes use it at once; blind indexes under version N are still returned
 * beside the new ones for `overlapMs` (a window to re-index), and password hashes made with version N's
 * pepper keep verifying (reporting needs-rehash) for as long as its Secret exists.
 */
export async function rotateHashSalt(
  d: RotateDeps & { rand: RandomSource; overlapMs: number },
): Promise<{ version: number; previousUntil: string }> {
  const now = (d.now ?? (() => new Date()))().getTime();
  const { observed } = await observeInstallation(d);
  refuseIfLost(observed, d.namespace, 'hash salt');
  if (!observed.hashSalt)
    throw new Error(`no hash salt in namespace ${d.namespace}: start the operator first`);
  const version =
    Math.max(
      1,
      ...(observed.hashSalts ?? []).map((k) => k.version),
      ...(observed.record?.hashSalts?.map((k) => k.version) ?? []),
    ) + 1;
  const previousUntil = new Date(now + d.overlapMs).toISOString();
  const secret = installationSecret({
    namespace: d.namespace,
    component: Component.HashSalt,
    version,
    data: { salt: d.rand(32) },
    annotations: { [PREVIOUS_UNTIL_ANNOTATION]: previousUntil },
  });
  await createRotated(d, secret, 'hash-salt.rotate', version, undefined);
  return { version, previousUntil };
}

function refuseIfLost(observed: Observed, namespace: string, what: string): void {
  const verdict = assessInstallation(observed);
  if (verdict.kind === 'lost')
    throw new Error(
      `refusing to rotate the ${what} of namespace ${namespace}: ${verdict.problems.map((p) => p.message).join('; ')}. ` +
        `First ${recoveryStep(verdict.problems, namespace)}`,
    );
}

async function createRotated(
  d: RotateDeps,
  secret: Secret,
  action: string,
  version: number,
  keyId: string | undefined,
): Promise<void> {
  const resource = { kind: 'Secret', name: secret.metadata.name, namespace: d.namespace };
  try {
    await d.client.create(secret);
  } catch (e) {
    d.audit.record({ action, outcome: 'Failure', resource, version, reason: String(e) });
    if (isAlreadyExists(e))
      throw new Error(`${secret.metadata.name} was created by someone else meanwhile; nothing done`);
    throw e;
  }
  d.audit.record({ action, outcome: 'Success', resource, version, ...(keyId ? { keyId } : {}) });
}
