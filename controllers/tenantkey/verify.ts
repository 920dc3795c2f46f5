import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import { EnvelopeError, parseEnvelope, tenantKeyBinding, unwrap, type Keyring } from '../crypto/index.ts';
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
export function unwrapVersion(
  tk: Pick<TenantKey, 'metadata'>,
  tenantUID: string,
  s: Secret,
  keyring: Keyring,
  heldRootVersions: ReadonlySet<number>,
): Unwrapped {
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
    if (code === 'WrongKeyId') return wrongKey(where, wrapped, heldRootVersions);
    const why = e instanceof Error ? e.message : String(e);
    return fail({ ...where, reason: TenantKeyReason.KeyUnreadable, message: `cannot be read: ${why}` });
  }
}

/**
 * The header names a root key this installation cannot use. Either the root version is not held at all
 * (a lost root key: restore it from a backup), or it is held but the header's key ID is another key's:
 * the envelope itself is damaged, and restoring the root key would not help.
 */
function wrongKey(
  where: { version: number; secret: string },
  wrapped: Uint8Array,
  held: ReadonlySet<number>,
): Unwrapped {
  let named: number | undefined;
  try {
    named = parseEnvelope(wrapped).wrappingKey.version;
  } catch {
    named = undefined;
  }
  if (named !== undefined && !held.has(named))
    return fail({
      ...where,
      reason: TenantKeyReason.RootKeyMissing,
      message: `is wrapped by root key version ${named}, which this installation does not hold (restore it with \`palisade restore\` from a backup)`,
    });
  return fail({
    ...where,
    reason: TenantKeyReason.KeyUnreadable,
    message: `is damaged: its envelope header names root key version ${named ?? '?'} with a key ID that is not that version's (restore this entry from a backup of the keystore; the root key is intact)`,
  });
}

function fail(problem: UnwrapProblem): Unwrapped {
  return { ok: false, problem };
}

/**
 * Unwraps the current wrap of every version. A damaged version never takes the others down: every key
 * that unwraps is returned beside the problems of those that do not.
 */
export function unwrapAll(
  tk: TenantKey,
  tenantUID: string,
  versions: readonly ObservedVersion[],
  secretOf: (name: string) => Secret | undefined,
  keyring: Keyring,
  heldRootVersions: ReadonlySet<number>,
): { keys: Map<number, Uint8Array>; problems: UnwrapProblem[] } {
  const keys = new Map<number, Uint8Array>();
  const problems: UnwrapProblem[] = [];
  for (const v of versions) {
    const s = secretOf(v.current.name);
    if (!s) continue;
    const r = unwrapVersion(tk, tenantUID, s, keyring, heldRootVersions);
    if (r.ok) keys.set(v.version, r.key);
    else problems.push(r.problem);
  }
  return { keys, problems };
}
