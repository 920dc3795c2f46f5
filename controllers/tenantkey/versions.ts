/**
 * The pure half of the TenantKey controller: from the version Secrets found and the spec, which versions
 * exist, which state each is in, whether a rotation is due, what needs rewrapping or destroying, and the
 * status list. No I/O, no clock: `now` is passed in.
 */
import type { KeyVersionState, TenantKeySpec, TenantKeyVersion } from '../../crds/v1alpha1/index.ts';
import { parseDuration } from '../../crds/v1alpha1/index.ts';
import type { VersionSecretFacts } from './secrets.ts';

/** A version Secret's public facts plus where it is. */
export interface FoundSecret extends VersionSecretFacts {
  name: string;
  uid?: string;
}

/** One key version and every Secret that holds it (more than one only in the middle of a rewrap). */
export interface ObservedVersion {
  version: number;
  keyId: string;
  fingerprint: string;
  created: string;
  trigger: string;
  keyUID: string;
  /** The Secret wrapped by the newest root version: the one that is read. */
  current: FoundSecret;
  /** Older wraps of the same version, deleted once the current one is verified. */
  superseded: FoundSecret[];
}

export type KeyPolicy = Pick<
  TenantKeySpec,
  'retainedVersions' | 'minDecryptionVersion' | 'destroyBelowVersion' | 'rotationPeriod' | 'rotationTrigger'
>;

/** Groups Secrets by version, lowest version first; per version the newest root wrap is current. */
export function groupVersions(found: readonly FoundSecret[]): ObservedVersion[] {
  const byVersion = new Map<number, FoundSecret[]>();
  for (const s of found) {
    if (s.version < 1 || s.rootVersion < 1) continue;
    byVersion.set(s.version, [...(byVersion.get(s.version) ?? []), s]);
  }
  return [...byVersion.entries()]
    .sort(([a], [b]) => a - b)
    .map(([version, all]) => {
      const sorted = [...all].sort((a, b) => b.rootVersion - a.rootVersion || a.name.localeCompare(b.name));
      const current = sorted[0] as FoundSecret;
      return {
        version,
        keyId: current.keyId,
        fingerprint: current.fingerprint,
        created: current.created,
        trigger: current.trigger,
        keyUID: current.keyUID,
        current,
        superseded: sorted.slice(1),
      };
    });
}

/**
 * The state of every present version. The highest is Active (always: it is never disabled or destroyed,
 * whatever the spec says). A version is DecryptOnly while it is within `retainedVersions` of the active
 * one and not below `minDecryptionVersion`; otherwise it is Disabled (kept, unused) — unless it is below
 * `destroyBelowVersion`, when it is Destroyed (its Secrets are deleted).
 */
export function versionStates(policy: KeyPolicy, versions: readonly number[]): Map<number, KeyVersionState> {
  const active = Math.max(0, ...versions);
  const states = new Map<number, KeyVersionState>();
  for (const v of versions) {
    if (v === active) states.set(v, 'Active');
    else if (policy.destroyBelowVersion !== undefined && v < policy.destroyBelowVersion)
      states.set(v, 'Destroyed');
    else if (v >= active - policy.retainedVersions && v >= (policy.minDecryptionVersion ?? 1))
      states.set(v, 'DecryptOnly');
    else states.set(v, 'Disabled');
  }
  return states;
}

/**
 * What a policy ahead of the versions does, or undefined when it is not ahead: `destroyBelowVersion` or
 * `minDecryptionVersion` above the active version `active`. Nothing breaks now (the active version always
 * encrypts and decrypts, whatever the spec says), but until the named version is active every rotation
 * retires the version it replaces at once: Destroyed, for good, below destroyBelowVersion; Disabled
 * (kept, unused, re-enabled by lowering the field) below minDecryptionVersion.
 */
export function policyAhead(policy: KeyPolicy, active: number): string | undefined {
  const destroy = policy.destroyBelowVersion;
  if (destroy !== undefined && destroy > active) {
    return `spec.destroyBelowVersion (${destroy}) is ahead of the current version (${active}): every rotation until version ${destroy} is active destroys the version it replaces, with all data still encrypted under it. destroyBelowVersion cannot be lowered: re-encrypt data under the active version before each rotation`;
  }
  const min = policy.minDecryptionVersion;
  if (min !== undefined && min > active) {
    return `spec.minDecryptionVersion (${min}) is ahead of the current version (${active}): no older version decrypts, and every rotation until version ${min} is active disables the version it replaces. Set minDecryptionVersion to ${active} or less to keep retainedVersions decrypting`;
  }
  return undefined;
}

/** True for the states that may decrypt. */
export const usable = (s: KeyVersionState | undefined): boolean => s === 'Active' || s === 'DecryptOnly';

export type RotationReason = 'Initial' | 'Trigger' | 'Period';
export type Rotation = { due: true; reason: RotationReason } | { due: false; nextAt?: Date };

/**
 * Whether a new version is due. The trigger compares spec.rotationTrigger with the trigger recorded on
 * the active version's Secret at its generation (not with status), so a crash between creating a
 * version and writing status can never rotate twice for one change; the first version records the
 * trigger in force, so the initial value does not rotate; removing the trigger does not rotate either.
 */
export function rotationDue(policy: KeyPolicy, active: ObservedVersion | undefined, now: Date): Rotation {
  if (!active) return { due: true, reason: 'Initial' };
  // NB: an absent trigger asks for nothing: a TenantKey re-created without one (a namespace re-created, a
  // restore, the Tenant's primary key) adopts its versions instead of rotating them.
  if (policy.rotationTrigger && policy.rotationTrigger !== active.trigger)
    return { due: true, reason: 'Trigger' };
  if (!policy.rotationPeriod) return { due: false };
  const created = Date.parse(active.created);
  if (Number.isNaN(created)) return { due: true, reason: 'Period' };
  const at = created + parseDuration(policy.rotationPeriod);
  return now.getTime() >= at ? { due: true, reason: 'Period' } : { due: false, nextAt: new Date(at) };
}

/** Versions whose current wrap is under an older root than `activeRoot` (and that are not being destroyed). */
export function rewrapTargets(
  versions: readonly ObservedVersion[],
  states: ReadonlyMap<number, KeyVersionState>,
  activeRoot: number,
): ObservedVersion[] {
  return versions.filter((v) => v.current.rootVersion < activeRoot && states.get(v.version) !== 'Destroyed');
}

/** The next version number: above every version present and every version status ever listed. */
export function nextVersion(
  versions: readonly ObservedVersion[],
  listed: readonly TenantKeyVersion[],
): number {
  return Math.max(0, ...versions.map((v) => v.version), ...listed.map((v) => v.version)) + 1;
}

/**
 * Versions status listed that have no Secret any more and were not destroyed on purpose: key material
 * someone deleted. Reported, never silently regenerated.
 */
export function missingVersions(
  versions: readonly ObservedVersion[],
  listed: readonly TenantKeyVersion[],
  policy: KeyPolicy,
): number[] {
  const present = new Set(versions.map((v) => v.version));
  return listed
    .filter((l) => !present.has(l.version) && l.state !== 'Destroyed')
    .filter((l) => !(policy.destroyBelowVersion !== undefined && l.version < policy.destroyBelowVersion))
    .map((l) => l.version);
}

/**
 * The status list: every present version with its state, plus versions destroyed earlier (remembered from
 * the previous status: once their Secrets are gone, status is the only record), newest last.
 */
export function statusVersions(
  versions: readonly ObservedVersion[],
  states: ReadonlyMap<number, KeyVersionState>,
  listed: readonly TenantKeyVersion[],
  policy: KeyPolicy,
): TenantKeyVersion[] {
  const out = new Map<number, TenantKeyVersion>();
  for (const l of listed) {
    const destroyed =
      l.state === 'Destroyed' ||
      (policy.destroyBelowVersion !== undefined && l.version < policy.destroyBelowVersion);
    out.set(l.version, destroyed ? { ...l, state: 'Destroyed' } : l);
  }
  for (const v of versions) {
    out.set(v.version, {
      version: v.version,
      keyId: v.keyId,
      fingerprint: v.fingerprint,
      created: v.created,
      state: states.get(v.version) ?? 'Disabled',
      rootKeyVersion: v.current.rootVersion,
    });
  }
  return [...out.values()].sort((a, b) => a.version - b.version);
}
