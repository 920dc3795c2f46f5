import type { Keyring, WrappingKeyRef } from '../crypto/index.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { Component, KEY_ID_ANNOTATION, secretBytes, versionOf } from './secrets.ts';
import type { RootKey } from './keys.ts';

const ROOT_KEY_INDEX = 'root-key';

/** The root key a `palisade-root-key-v<N>` Secret holds. */
export function rootKeyOf(s: Secret): RootKey {
  return {
    version: versionOf(s),
    keyId: s.metadata.annotations?.[KEY_ID_ANNOTATION] ?? '',
    key: secretBytes(s, 'key'),
  };
}

/**
 * The root key versions, read live from the operator's labelled-Secret informer, so a root rotation
 * (a new `palisade-root-key-v<N>` Secret) is seen without a restart. The active version, the one new
 * wraps use, is the highest; every version present can unwrap.
 */
export class RootKeyring {
  private readonly secrets: ObjectCache<Secret>;
  private readonly namespace: string;
  private cache: { rv: string; keys: RootKey[] } | undefined;

  constructor(secrets: ObjectCache<Secret>, namespace: string) {
    this.secrets = secrets;
    this.namespace = namespace;
    // NB: an index, not a scan: the keystore's entries share this namespace, tens of thousands of them,
    // and the keyring is read on every wrap and unwrap.
    secrets.addIndex(ROOT_KEY_INDEX, (s) =>
      s.metadata.namespace === namespace &&
      s.metadata.labels?.[COMPONENT_LABEL] === Component.RootKey &&
      versionOf(s) > 0
        ? ['root']
        : [],
    );
  }

  /** Every root key version present, lowest first. */
  versions(): RootKey[] {
    const found = this.secrets
      .byIndex(ROOT_KEY_INDEX, 'root')
      .map((k) => this.secrets.get(k.slice(k.indexOf('/') + 1), this.namespace))
      .filter((s): s is Secret => !!s)
      .sort((a, b) => versionOf(a) - versionOf(b));
    const rv = found.map((s) => s.metadata.resourceVersion).join(',');
    if (this.cache?.rv === rv) return this.cache.keys;
    const keys = found.map(rootKeyOf);
    this.cache = { rv, keys };
    return keys;
  }

  /** The version new wraps use. Throws before the installation keys exist (a start-up task makes them). */
  active(): RootKey {
    const all = this.versions();
    const last = all[all.length - 1];
    if (!last) throw new Error('no root key yet: the installation keys have not been created');
    return last;
  }

  /** A crypto {@link Keyring}: the key of a version, only if its key ID matches too. */
  readonly lookup: Keyring = (ref: WrappingKeyRef) => {
    const k = this.versions().find((v) => v.version === ref.version);
    return k && k.keyId === ref.keyId ? k.key : undefined;
  };
}
