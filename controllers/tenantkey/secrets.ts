import {
  CREATED_ANNOTATION,
  EntryKind,
  FINGERPRINT_ANNOTATION,
  KEY_ID_ANNOTATION,
  KEY_UID_LABEL,
  keystoreLabels,
  keystoreSecret,
  keyVersionSlot,
  rewrapName,
  ROOT_KEY_VERSION_LABEL,
  SLOT_LABEL,
  TENANT_NAMESPACE_LABEL,
  TENANTKEY_LABEL,
  TRIGGER_ANNOTATION,
  VERSION_LABEL,
  entryUID,
  wrappedByRootVersion,
} from '../keystore/entries.ts';
import { WRAPPED_DATA_KEY } from '../keystore/store.ts';
import type { Secret } from '../runtime/kube/types.ts';

/**
 * One immutable keystore Secret per (key version, wrapping root version), in the operator's namespace,
 * created create-only (controllers/keystore/entries.ts has the names):
 *
 *   palisade-key-<uid>-<tenantkey>-v<N>         version N as generated (the create-only lock on N)
 *   palisade-key-<uid>-<tenantkey>-v<N>-r<R>    version N rewrapped under root version R
 *
 * data `wrapped` is the binary envelope (controllers/crypto/envelope.ts); labels and annotations carry
 * only public facts (version, root version, key ID, fingerprint, creation time, rotation trigger).
 * NB: no ownerReference, ever: garbage collection must never be able to destroy key material.
 */
export interface VersionSecretFacts {
  tenantUID: string;
  /** The tenant's namespace, where the TenantKey lives (a label for people; never read for decisions). */
  tenantNamespace: string;
  keyName: string;
  keyUID: string;
  version: number;
  rootVersion: number;
  keyId: string;
  fingerprint: string;
  created: string;
  trigger: string;
}

export function versionSecret(
  f: VersionSecretFacts,
  wrapped: Uint8Array,
  rewrap: boolean,
  keystoreNamespace: string,
): Secret {
  const slot = keyVersionSlot(f.tenantUID, f.keyName, f.version);
  return keystoreSecret({
    name: rewrap ? rewrapName(slot, f.rootVersion) : slot,
    namespace: keystoreNamespace,
    labels: keystoreLabels(EntryKind.TenantKey, f.tenantUID, {
      [TENANT_NAMESPACE_LABEL]: f.tenantNamespace,
      [TENANTKEY_LABEL]: f.keyName,
      [VERSION_LABEL]: String(f.version),
      [ROOT_KEY_VERSION_LABEL]: String(f.rootVersion),
      [KEY_UID_LABEL]: f.keyUID,
      [SLOT_LABEL]: slot,
    }),
    annotations: {
      [KEY_ID_ANNOTATION]: f.keyId,
      [FINGERPRINT_ANNOTATION]: f.fingerprint,
      [CREATED_ANNOTATION]: f.created,
      [TRIGGER_ANNOTATION]: f.trigger,
    },
    data: { [WRAPPED_DATA_KEY]: wrapped },
    immutable: true,
  });
}

/** The public facts a version Secret states about itself (labels and annotations, never its data). */
export function factsOf(s: Secret): VersionSecretFacts {
  const l = s.metadata.labels ?? {};
  const a = s.metadata.annotations ?? {};
  return {
    tenantUID: entryUID(s),
    tenantNamespace: l[TENANT_NAMESPACE_LABEL] ?? '',
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
  const v = s.data?.[WRAPPED_DATA_KEY];
  return v === undefined ? undefined : new Uint8Array(Buffer.from(v, 'base64'));
}
