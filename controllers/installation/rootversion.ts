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
