/**
 * The hash salt's versions, read live from the operator's labelled-Secret informer (every replica), so a
 * salt rotation is seen without a restart.
 *
 * Version 1 is the Secret `palisade-hash-salt` every installation has; a rotation adds
 * `palisade-hash-salt-v<N>` (create-only, never overwritten, recorded like the root key versions). The
 * active version, the one new blind indexes and password hashes use, is the highest. An older version
 * stays for as long as something may need it: password hashes name the version of their pepper and
 * verify with it until they are rehashed; blind indexes under it are still returned beside the active
 * version's until the overlap window its successor's rotation declared (`palisade.dev/previous-until`)
 * has passed, so a platform can re-index its rows meanwhile.
 */
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { Component, secretBytes, secretName, versionOf } from './secrets.ts';

/** On a salt version ≥ 2: until when (RFC 3339) the version below it keeps getting blind indexes. */
export const PREVIOUS_UNTIL_ANNOTATION = 'palisade.dev/previous-until';

const SALT_INDEX = 'hash-salt';

export interface SaltVersion {
  version: number;
  salt: Uint8Array;
  /** Until when (ms since the epoch) the version below this one is still indexed; 0 for version 1. */
  previousUntil: number;
}

/** The version a hash-salt Secret holds: 1 for `palisade-hash-salt`, N for `-v<N>`, 0 if neither. */
export function saltVersionOf(s: Secret): number {
  if (s.metadata.labels?.[COMPONENT_LABEL] !== Component.HashSalt) return 0;
  if (s.metadata.name === secretName(Component.HashSalt)) return 1;
  const v = versionOf(s);
  return v >= 2 && s.metadata.name === secretName(Component.HashSalt, v) ? v : 0;
}

/**
 * The versions whose blind indexes are current at `now`, active first: the active version, and each
 * older one while the rotation above it is inside its overlap window.
 */
export function indexedVersions(versions: readonly SaltVersion[], now: number): SaltVersion[] {
  const out: SaltVersion[] = [];
  for (let i = versions.length - 1; i >= 0; i--) {
    const v = versions[i] as SaltVersion;
    out.push(v);
    if (v.previousUntil <= now) break;
  }
  return out;
}

export class HashSaltRing {
  private readonly secrets: ObjectCache<Secret>;
  private readonly namespace: string;
  private cache: { rv: string; versions: SaltVersion[] } | undefined;

  constructor(secrets: ObjectCache<Secret>, namespace: string) {
    this.secrets = secrets;
    this.namespace = namespace;
    secrets.addIndex(SALT_INDEX, (s) =>
      s.metadata.namespace === namespace && saltVersionOf(s) > 0 ? ['salt'] : [],
    );
  }

  /** Every salt version present, lowest first. */
  versions(): SaltVersion[] {
    const found = this.secrets
      .byIndex(SALT_INDEX, 'salt')
      .map((k) => this.secrets.get(k.slice(k.indexOf('/') + 1), this.namespace))
      .filter((s): s is Secret => !!s)
      .sort((a, b) => saltVersionOf(a) - saltVersionOf(b));
    const rv = found.map((s) => s.metadata.resourceVersion).join(',');
    if (this.cache?.rv === rv) return this.cache.versions;
    const versions = found.map((s) => ({
      version: saltVersionOf(s),
      salt: secretBytes(s, 'salt'),
      previousUntil: Date.parse(s.metadata.annotations?.[PREVIOUS_UNTIL_ANNOTATION] ?? '') || 0,
    }));
    this.cache = { rv, versions };
    return versions;
  }

  /** The version new hashes use. Throws before the installation keys exist. */
  active(): SaltVersion {
    const all = this.versions();
    const last = all[all.length - 1];
    if (!last) throw new Error('no hash salt yet: the installation keys have not been created');
    return last;
  }

  /** One version, if present. */
  get(version: number): SaltVersion | undefined {
    return this.versions().find((v) => v.version === version);
  }
}
