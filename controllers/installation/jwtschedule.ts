/**
 * When each JWT signing key version signs and when it is published: the pure schedule behind the JWKS
 * ConfigMap, the key service's GetJwks and its choice of signing key.
 *
 * A rotation creates version N+1 with `palisade.dev/activate-at`. Until then it is **next**: published,
 * not signing, so relying parties that cache the JWKS know it before the first token it signs. From then
 * it is **current** (the highest version whose time has come; a version without the annotation is active
 * from its creation). A version that was current and was superseded at time T is **previous** until
 * T + JWT_OVERLAP_MS: tokens it signed verify for their whole lifetime. After that it is unpublished
 * (its Secret stays: the installation record lists it, and a key is never deleted silently).
 */

/** The longest access token lifetime the key service issues. */
export const MAX_ACCESS_TOKEN_SECONDS = 3600;
/** Allowed clock skew between Palisade and relying parties. */
export const CLOCK_SKEW_SECONDS = 300;
/** How long a superseded signing key stays published: at least the longest token lifetime. */
export const JWT_OVERLAP_MS = (MAX_ACCESS_TOKEN_SECONDS + CLOCK_SKEW_SECONDS) * 1000;

export const ACTIVATE_AT_ANNOTATION = 'palisade.dev/activate-at';

export interface SigningKeyFact {
  version: number;
  kid: string;
  /** ms since the epoch; 0 when active from creation. */
  activateAt: number;
}

export interface SigningSchedule<K extends SigningKeyFact> {
  current: K | undefined;
  next: K[];
  previous: K[];
  /** When the schedule changes next (a next key activates, a previous key is unpublished); undefined: never. */
  changesAt: number | undefined;
}

export function signingSchedule<K extends SigningKeyFact>(
  keys: readonly K[],
  now: number,
  overlapMs = JWT_OVERLAP_MS,
): SigningSchedule<K> {
  const sorted = [...keys].sort((a, b) => a.version - b.version);
  const started = sorted.filter((k) => k.activateAt <= now);
  const current = started[started.length - 1];
  const next = sorted.filter((k) => k.activateAt > now && (!current || k.version > current.version));
  const previous: K[] = [];
  const changes = next.map((k) => k.activateAt);
  for (let i = 0; i < started.length - 1; i++) {
    const k = started[i] as K;
    const supersededAt = Math.min(...started.slice(i + 1).map((s) => s.activateAt));
    const until = supersededAt + overlapMs;
    if (until > now) {
      previous.push(k);
      changes.push(until);
    }
  }
  return {
    current,
    next,
    previous: previous.reverse(),
    changesAt: changes.length ? Math.min(...changes) : undefined,
  };
}
