import type { Secret } from '../runtime/kube/types.ts';

/**
 * Every Secret holding something wrapped by the root key (TenantKey versions, NATS account seeds) carries
 * this label with the root version that wraps it. The keystore indexes it (keystore/entries.ts), so "does
 * anything still need root version R" is a lookup, not a scan, and a root version is retired only when
 * nothing it wraps is left.
 */
export const ROOT_KEY_VERSION_LABEL = 'palisade.dev/root-key-version';

/** The root version a Secret says wraps its content, or 0 when unlabelled. */
export function wrappedByRootVersion(s: Secret): number {
  const v = Number(s.metadata.labels?.[ROOT_KEY_VERSION_LABEL]);
  return Number.isInteger(v) && v > 0 ? v : 0;
}

/**
 * Set on an old root version's Secret by the retirement loop (keystore/retire.ts) before its last check
 * that nothing is wrapped by it. A writer that has just wrapped under a version finding it marked (or
 * gone) wraps again under the newest one: its cache lagged, and the version may be deleted any moment.
 */
export const ROOT_RETIRING_ANNOTATION = 'palisade.dev/retiring';

/** True when the retirement loop has marked this root version's Secret (see above). */
export function isRetiring(rootSecret: Secret): boolean {
  return !!rootSecret.metadata.annotations?.[ROOT_RETIRING_ANNOTATION];
}
