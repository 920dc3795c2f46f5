import { fingerprint, generateDataKey, keyId, type RandomSource } from '../crypto/index.ts';
import { isAlreadyExists } from '../runtime/errors.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import {
  Component,
  FINGERPRINT_ANNOTATION,
  installationSecret,
  KEY_ID_ANNOTATION,
  versionOf,
} from './secrets.ts';

/**
 * Starts a root key rotation: creates `palisade-root-key-v<N+1>`, create-only. That is all it does; the
 * operator sees the new version through its Secret informer, rewraps every TenantKey version under it,
 * and retires the old version once nothing carries its `palisade.dev/root-key-version` label.
 * Two rotations racing for the same N+1 cannot both win: the loser gets a clear error.
 */
export async function rotateRootKey(d: {
  client: KubeClient;
  namespace: string;
  rand: RandomSource;
  audit: AuditLog;
}): Promise<{ version: number; keyId: string; previous: number }> {
  const list = await d.client.list<Secret>('Secret', {
    namespace: d.namespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${COMPONENT_LABEL}=${Component.RootKey}`,
  });
  const previous = Math.max(0, ...list.items.map(versionOf));
  if (previous === 0) {
    throw new Error(
      `no root key in namespace ${d.namespace}: start the operator (or restore a backup) first`,
    );
  }
  const key = generateDataKey(d.rand);
  const version = previous + 1;
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
