import type { Revocations } from './protocol/index.ts';
import { isAlreadyExists, isConflict } from '../runtime/errors.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { Secret } from '../runtime/kube/types.ts';
import {
  EntryKind,
  keystoreLabels,
  keystoreSecret,
  revocationsName,
  TENANT_NAMESPACE_LABEL,
} from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import { secretText } from './secrets.ts';

/**
 * A tenant's revoked NATS users, kept in the keystore as `palisade-revocations-<uid>` (public keys and
 * times only, nothing secret): the durable input of the account JWT's `revocations`. It lives where no
 * tenant-side write reaches, so a tenant can never shrink it. The ClusterAgent controller adds entries;
 * the Tenant controller reads them into the account and pushes it.
 *
 *   revocations.json = { "<user public key>": { "at": <unix s>, "exp"?: <unix s> } }
 *
 * `at` revokes every JWT of that user issued at or before it. `exp` is when the revoked JWT would have
 * expired anyway; past it, the entry is dropped, so the list does not grow without bound.
 */
export interface RevocationEntry {
  at: number;
  exp?: number;
}
export type RevocationEntries = Record<string, RevocationEntry>;

const KEY = 'revocations.json';
/** Revokes every user of the account: a Tenant deleted with `deletionPolicy: Retain`. */
export const ALL_USERS = '*';

export function readRevocations(secret: Secret | undefined): RevocationEntries {
  if (!secret?.data?.[KEY]) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretText(secret, KEY));
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  // NB: an entry of another shape is dropped, not trusted: the list an upgrade moves was tenant-writable.
  const out: RevocationEntries = {};
  for (const [user, e] of Object.entries(parsed as Record<string, unknown>)) {
    const { at, exp } = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
    if (!Number.isFinite(at) || (exp !== undefined && !Number.isFinite(exp))) continue;
    out[user] = { at: at as number, ...(exp !== undefined ? { exp: exp as number } : {}) };
  }
  return out;
}

/** The account claim's `revocations`: every entry not yet past its expiry. */
export function activeRevocations(entries: RevocationEntries, nowSec: number): Revocations {
  const out: Revocations = {};
  for (const [user, e] of Object.entries(entries))
    if (e.exp === undefined || e.exp > nowSec) out[user] = e.at;
  return out;
}

export interface RevocationDeps {
  client: KubeApi;
  now(): Date;
  keystore: Keystore;
}

/**
 * Adds revocations (and drops expired ones), with a write conditional on the Secret's resourceVersion:
 * two writers cannot lose each other's entries. Returns false when every entry was already there.
 */
export async function addRevocations(
  d: RevocationDeps,
  uid: string,
  tenantNamespace: string,
  add: Record<string, RevocationEntry>,
): Promise<boolean> {
  const ref = { kind: 'Secret', name: revocationsName(uid), namespace: d.keystore.namespace };
  const current = await d.client.get<Secret>(ref);
  const entries = readRevocations(current);
  const missing = Object.entries(add).filter(([user]) => !entries[user]);
  if (missing.length === 0) return false;
  const nowSec = Math.floor(d.now().getTime() / 1000);
  const next: RevocationEntries = {};
  for (const [user, e] of [...Object.entries(entries), ...missing]) {
    if (e.exp === undefined || e.exp > nowSec) next[user] = e;
  }
  const secret = keystoreSecret({
    name: ref.name,
    namespace: ref.namespace,
    labels: keystoreLabels(EntryKind.Revocations, uid, { [TENANT_NAMESPACE_LABEL]: tenantNamespace }),
    data: { [KEY]: JSON.stringify(next) },
    immutable: false,
  });
  try {
    if (current) {
      secret.metadata.resourceVersion = current.metadata.resourceVersion;
      await d.client.update(secret);
    } else {
      await d.client.create(secret);
    }
  } catch (e) {
    // NB: a concurrent writer won; the caller's reconcile retries on the fresh Secret.
    if (isConflict(e) || isAlreadyExists(e))
      throw new Error('revocation list changed concurrently; retrying', { cause: e });
    throw e;
  }
  return true;
}
