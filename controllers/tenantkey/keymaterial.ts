import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import { fingerprint, generateDataKey, keyId, tenantKeyBinding } from '../crypto/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { KeyEvent } from './conditions.ts';
import type { TenantKeyDeps } from './deps.ts';
import { versionSecret, type VersionSecretFacts } from './secrets.ts';
import { foundSecret } from './verify.ts';
import type { ObservedVersion, RotationReason } from './versions.ts';

/** Where the keys of one TenantKey live, for the effectful steps below. */
export interface KeyPlace {
  tk: TenantKey;
  tenantUID: string;
}

function record(d: TenantKeyDeps, p: KeyPlace, action: string, f: VersionSecretFacts, note: string) {
  const reason = { generate: KeyEvent.Generated, rotate: KeyEvent.Rotated }[action];
  d.events.record(p.tk, 'Normal', reason ?? KeyEvent.Destroyed, action, note);
  d.audit.record({
    action: `tenantkey.${action}`,
    outcome: 'Success',
    resource: {
      kind: 'TenantKey',
      name: p.tk.metadata.name,
      namespace: p.tk.metadata.namespace,
      uid: p.tk.metadata.uid,
    },
    tenantUID: p.tenantUID,
    keyId: f.keyId,
    version: f.version,
  });
}

/**
 * Whether a version ≥ `version` of the key exists, read live: the cache may lag behind our own last write.
 * A new key's first version (nothing cached, nothing in status, no destroy policy) takes a GET per name
 * version 1 may have: versions are made one after another, so a later one exists only if version 1 does,
 * or was destroyed, which takes a destroy policy. Any other version takes the labelled list, which walks
 * the whole keystore namespace in the API server (tens of milliseconds of its CPU at 10,000 tenants).
 */
async function versionAtOrAbove(d: TenantKeyDeps, p: KeyPlace, version: number): Promise<boolean> {
  const ks = d.keystore;
  const name = p.tk.metadata.name;
  const fresh =
    version === 1 && !p.tk.status?.versions?.length && p.tk.spec.destroyBelowVersion === undefined;
  if (fresh) return ks.liveVersionFound(p.tenantUID, name, version);
  return [...(await ks.liveVersionsListed(p.tenantUID, name))].some((v) => v >= version);
}

/**
 * Generates version `version` and stores it wrapped in the keystore, create-only under the version's
 * slot name: of two writers racing for a version exactly one wins and the other retries from what is
 * there. Before creating, a live read (not the cache, which may lag behind our own last write) confirms
 * no such version exists.
 */
export async function generateVersion(
  d: TenantKeyDeps,
  p: KeyPlace,
  version: number,
  keyUID: string,
  reason: RotationReason,
): Promise<ObservedVersion> {
  const ks = d.keystore;
  if (await versionAtOrAbove(d, p, version))
    throw new Error(
      `version ${version} of ${p.tk.metadata.namespace}/${p.tk.metadata.name} already exists; the cache is behind`,
    );
  const key = generateDataKey(d.env.rand);
  const binding = tenantKeyBinding({ tenantUID: p.tenantUID, keyName: p.tk.metadata.name, keyUID, version });
  let facts: VersionSecretFacts | undefined;
  const made = await ks.createWrapped(key, binding, ({ wrapped, rootVersion }) => {
    facts = {
      tenantUID: p.tenantUID,
      tenantNamespace: p.tk.metadata.namespace ?? '',
      keyName: p.tk.metadata.name,
      keyUID,
      version,
      rootVersion,
      keyId: keyId(key),
      fingerprint: fingerprint(key),
      created: d.env.now().toISOString(),
      trigger: p.tk.spec.rotationTrigger ?? '',
    };
    return versionSecret(facts, wrapped, false, ks.namespace);
  });
  if (!made.created || !facts)
    throw new Error(`version ${version} of ${p.tk.metadata.name} was generated concurrently; retrying`);
  const action = reason === 'Initial' ? 'generate' : 'rotate';
  const why =
    reason === 'Initial'
      ? ''
      : ` (${reason === 'Trigger' ? 'rotationTrigger changed' : 'rotationPeriod elapsed'})`;
  record(d, p, action, facts, `generated version ${version}, key ID ${facts.keyId}${why}`);
  const s = foundSecret(made.secret);
  const { keyId: id, fingerprint: fp, created, trigger } = s;
  return { version, keyId: id, fingerprint: fp, created, trigger, keyUID, current: s, superseded: [] };
}

/** Destroys a version for good: every wrap of it is deleted. Only for versions below destroyBelowVersion. */
export async function destroyVersion(d: TenantKeyDeps, p: KeyPlace, v: ObservedVersion): Promise<void> {
  const wraps = [v.current, ...v.superseded]
    .map((s) => d.keystore.get(s.name))
    .filter((s): s is Secret => !!s);
  await d.keystore.delete(wraps);
  record(d, p, 'destroy', v.current, `destroyed version ${v.version} (below destroyBelowVersion)`);
}
