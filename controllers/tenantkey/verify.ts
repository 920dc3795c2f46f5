import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import { EnvelopeError, tenantKeyBinding, unwrap, type Keyring } from '../crypto/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { TenantKeyReason } from './conditions.ts';
import { factsOf, wrappedBytes } from './secrets.ts';
import type { FoundSecret, ObservedVersion } from './versions.ts';

export type UnwrapProblem = {
  reason:
    | typeof TenantKeyReason.KeyBindingMismatch
    | typeof TenantKeyReason.RootKeyMissing
    | typeof TenantKeyReason.KeyUnreadable;
  version: number;
  secret: string;
  message: string;
};

export type Unwrapped = { ok: true; key: Uint8Array } | { ok: false; problem: UnwrapProblem };

export function foundSecret(s: Secret): FoundSecret {
  return { ...factsOf(s), name: s.metadata.name, ...(s.metadata.uid ? { uid: s.metadata.uid } : {}) };
}

/**
 * Unwraps one version Secret, rebuilding the binding from where it was found: the tenant UID of its
 * namespace, the TenantKey name, the key's lineage UID and the version. A Secret copied from another
 * tenant or key fails authentication here: that is the point.
 */
export function unwrapVersion(tk: TenantKey, tenantUID: string, s: Secret, keyring: Keyring): Unwrapped {
  const f = factsOf(s);
  const where = { version: f.version, secret: s.metadata.name };
  const wrapped = wrappedBytes(s);
  if (!wrapped) {
    return fail({ ...where, reason: TenantKeyReason.KeyUnreadable, message: 'has no "wrapped" entry' });
  }
  try {
    const binding = tenantKeyBinding({
      tenantUID,
      keyName: tk.metadata.name,
      keyUID: f.keyUID,
      version: f.version,
    });
    return { ok: true, key: unwrap(wrapped, keyring, binding) };
  } catch (e) {
    const code = e instanceof EnvelopeError ? e.code : undefined;
    if (code === 'AuthenticationFailed') {
      return fail({
        ...where,
        reason: TenantKeyReason.KeyBindingMismatch,
        message: `does not unwrap for tenant ${tenantUID}, key ${tk.metadata.name}, version ${f.version}: it was wrapped for another tenant, key or version (or altered)`,
      });
    }
    if (code === 'WrongKeyId') {
      return fail({
        ...where,
        reason: TenantKeyReason.RootKeyMissing,
        message: `is wrapped by root key version ${f.rootVersion}, which this installation does not hold (restore it from a backup)`,
      });
    }
    const why = e instanceof Error ? e.message : String(e);
    return fail({ ...where, reason: TenantKeyReason.KeyUnreadable, message: `cannot be read: ${why}` });
  }
}

function fail(problem: UnwrapProblem): Unwrapped {
  return { ok: false, problem };
}

/** Unwraps the current wrap of every version; returns the keys, or the first problem found. */
export function unwrapAll(
  tk: TenantKey,
  tenantUID: string,
  versions: readonly ObservedVersion[],
  secretOf: (name: string) => Secret | undefined,
  keyring: Keyring,
): { keys: Map<number, Uint8Array>; problem?: UnwrapProblem } {
  const keys = new Map<number, Uint8Array>();
  for (const v of versions) {
    const s = secretOf(v.current.name);
    if (!s) continue;
    const r = unwrapVersion(tk, tenantUID, s, keyring);
    if (!r.ok) return { keys, problem: r.problem };
    keys.set(v.version, r.key);
  }
  return { keys };
}
