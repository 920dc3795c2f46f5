import type { Secret } from '../runtime/kube/types.ts';

/**
 * Every Secret holding something wrapped by the root key (TenantKey versions, NATS account seeds) carries
 * this label with the root version that wraps it. The labelled-Secret informer indexes it
 * ({@link ROOT_KEY_VERSION_INDEX}), so "does anything still need root version R" is a lookup, not a scan,
 * and a root version is retired only when its index entry is empty.
 */
export const ROOT_KEY_VERSION_LABEL = 'palisade.dev/root-key-version';
export const ROOT_KEY_VERSION_INDEX = 'root-key-version';

export function rootKeyVersionIndex(s: Secret): string[] {
  const v = s.metadata.labels?.[ROOT_KEY_VERSION_LABEL];
  return v ? [v] : [];
}

/** The root version a Secret says wraps its content, or 0 when unlabelled. */
export function wrappedByRootVersion(s: Secret): number {
  const v = Number(s.metadata.labels?.[ROOT_KEY_VERSION_LABEL]);
  return Number.isInteger(v) && v > 0 ? v : 0;
}
