import { fingerprint, generateDataKey, keyId, type RandomSource } from '../crypto/index.ts';
import { isAlreadyExists } from '../runtime/errors.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { AuditLog } from '../runtime/log.ts';
import { observeInstallation } from './observe.ts';
import { Component, FINGERPRINT_ANNOTATION, installationSecret, KEY_ID_ANNOTATION } from './secrets.ts';
import { assessInstallation, recoveryStep } from './verdict.ts';

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
