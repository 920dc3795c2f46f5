import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import { FINGERPRINT_ANNOTATION, KEY_ID_ANNOTATION, VERSION_LABEL } from '../installation/secrets.ts';
import { ROOT_KEY_VERSION_LABEL, wrappedByRootVersion } from '../installation/rootversion.ts';
import {
  CREATED_ANNOTATION,
  KEY_UID_LABEL,
  TENANT_KEY_COMPONENT,
  TENANTKEY_LABEL,
  TRIGGER_ANNOTATION,
} from './conditions.ts';

/**
 * One immutable Secret per (key version, wrapping root version), created create-only:
 *
 *   <tenantkey>-v<N>         version N as generated (its name is the create-only lock on version N)
 *   <tenantkey>-v<N>-r<R>    version N rewrapped under root version R
 *
 * data `wrapped` is the binary envelope (controllers/crypto/envelope.ts); labels and annotations carry
 * only public facts (version, root version, key ID, fingerprint, creation time, rotation trigger).
 * NB: no ownerReference, ever: garbage collection must never be able to destroy key material.
 */
export interface VersionSecretFacts {
  namespace: string;
  keyName: string;
  keyUID: string;
  version: number;
  rootVersion: number;
  keyId: string;
  fingerprint: string;
  created: string;
  trigger: string;
}

export function versionSecretName(keyName: string, version: number, rootVersion?: number): string {
  return rootVersion === undefined ? `${keyName}-v${version}` : `${keyName}-v${version}-r${rootVersion}`;
}

export function versionSecret(f: VersionSecretFacts, wrapped: Uint8Array, rewrap: boolean): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: versionSecretName(f.keyName, f.version, rewrap ? f.rootVersion : undefined),
      namespace: f.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [COMPONENT_LABEL]: TENANT_KEY_COMPONENT,
        [TENANTKEY_LABEL]: f.keyName,
        [VERSION_LABEL]: String(f.version),
        [ROOT_KEY_VERSION_LABEL]: String(f.rootVersion),
        [KEY_UID_LABEL]: f.keyUID,
      },
      annotations: {
        [KEY_ID_ANNOTATION]: f.keyId,
        [FINGERPRINT_ANNOTATION]: f.fingerprint,
        [CREATED_ANNOTATION]: f.created,
        [TRIGGER_ANNOTATION]: f.trigger,
      },
    },
    type: 'Opaque',
    immutable: true,
    data: { wrapped: Buffer.from(wrapped).toString('base64') },
  };
}

/** The public facts a version Secret states about itself (labels and annotations, never its data). */
export function factsOf(s: Secret): VersionSecretFacts {
  const l = s.metadata.labels ?? {};
  const a = s.metadata.annotations ?? {};
  return {
    namespace: s.metadata.namespace ?? '',
    keyName: l[TENANTKEY_LABEL] ?? '',
    keyUID: l[KEY_UID_LABEL] ?? '',
    version: Number(l[VERSION_LABEL]) || 0,
    rootVersion: wrappedByRootVersion(s),
    keyId: a[KEY_ID_ANNOTATION] ?? '',
    fingerprint: a[FINGERPRINT_ANNOTATION] ?? '',
    created: a[CREATED_ANNOTATION] ?? s.metadata.creationTimestamp ?? '',
    trigger: a[TRIGGER_ANNOTATION] ?? '',
  };
}

export function wrappedBytes(s: Secret): Uint8Array | undefined {
  const v = s.data?.wrapped;
  return v === undefined ? undefined : new Uint8Array(Buffer.from(v, 'base64'));
}

export function isKeyVersionSecret(s: Secret): boolean {
  return (
    s.metadata.labels?.[COMPONENT_LABEL] === TENANT_KEY_COMPONENT && !!s.metadata.labels[TENANTKEY_LABEL]
  );
}

/** Index of version Secrets by their TenantKey (`namespace/name`). */
export const BY_TENANTKEY_INDEX = 'tenantkey';
export function tenantKeyIndex(s: Secret): string[] {
  return isKeyVersionSecret(s) ? [`${s.metadata.namespace}/${s.metadata.labels?.[TENANTKEY_LABEL]}`] : [];
}
