import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import { fingerprint, generateDataKey, keyId, tenantKeyBinding, unwrap, wrap } from '../crypto/index.ts';
import { isAlreadyExists } from '../runtime/errors.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { KeyEvent, TENANTKEY_LABEL } from './conditions.ts';
import type { TenantKeyDeps } from './reconcile.ts';
import { factsOf, versionSecret, wrappedBytes, type VersionSecretFacts } from './secrets.ts';
import { foundSecret } from './verify.ts';
import type { FoundSecret, ObservedVersion, RotationReason } from './versions.ts';

/** Where the keys of one TenantKey live, for the effectful steps below. */
export interface KeyPlace {
  tk: TenantKey;
  tenantUID: string;
}

function record(d: TenantKeyDeps, p: KeyPlace, action: string, f: VersionSecretFacts, note: string) {
  const reason = { generate: KeyEvent.Generated, rotate: KeyEvent.Rotated, rewrap: KeyEvent.Rewrapped }[
    action
  ];
  d.events.record(p.tk, 'Normal', reason ?? KeyEvent.Destroyed, action, note);
  d.audit.record({
    action: `tenantkey.${action}`,
    outcome: 'Success',
    resource: { kind: 'TenantKey', name: p.tk.metadata.name, namespace: f.namespace, uid: p.tk.metadata.uid },
    tenantUID: p.tenantUID,
    keyId: f.keyId,
    version: f.version,
  });
}

function wrapFor(d: TenantKeyDeps, p: KeyPlace, key: Uint8Array, f: VersionSecretFacts): Uint8Array {
  const root = d.rootKeys.active();
  const binding = tenantKeyBinding({
    tenantUID: p.tenantUID,
    keyName: f.keyName,
    keyUID: f.keyUID,
    version: f.version,
  });
  return wrap(key, root.key, { version: root.version, keyId: root.keyId }, binding, d.env.rand);
}

/**
 * Generates version `version` and stores it wrapped, create-only under the name `<key>-v<version>`: of
 * two writers racing for a version exactly one wins and the other retries from what is there. Before
 * creating, a live read (not the cache, which may lag behind our own last write) confirms no such
 * version exists.
 */
export async function generateVersion(
  d: TenantKeyDeps,
  p: KeyPlace,
  version: number,
  keyUID: string,
  reason: RotationReason,
): Promise<ObservedVersion> {
  const ns = p.tk.metadata.namespace ?? '';
  const live = await d.client.list<Secret>('Secret', {
    namespace: ns,
    labelSelector: `${TENANTKEY_LABEL}=${p.tk.metadata.name}`,
  });
  if (live.items.some((s) => factsOf(s).version >= version))
    throw new Error(`version ${version} of ${ns}/${p.tk.metadata.name} already exists; the cache is behind`);
  const key = generateDataKey(d.env.rand);
  const facts: VersionSecretFacts = {
    namespace: ns,
    keyName: p.tk.metadata.name,
    keyUID,
    version,
    rootVersion: d.rootKeys.active().version,
    keyId: keyId(key),
    fingerprint: fingerprint(key),
    created: d.env.now().toISOString(),
    trigger: p.tk.spec.rotationTrigger ?? '',
  };
  const created = await d.client.create(versionSecret(facts, wrapFor(d, p, key, facts), false));
  const action = reason === 'Initial' ? 'generate' : 'rotate';
  const why =
    reason === 'Initial'
      ? ''
      : ` (${reason === 'Trigger' ? 'rotationTrigger changed' : 'rotationPeriod elapsed'})`;
  record(d, p, action, facts, `generated version ${version}, key ID ${facts.keyId}${why}`);
  return observedOf(foundSecret(created));
}

function observedOf(s: FoundSecret): ObservedVersion {
  const { version, keyId: id, fingerprint: fp, created, trigger, keyUID } = s;
  return { version, keyId: id, fingerprint: fp, created, trigger, keyUID, current: s, superseded: [] };
}

/**
 * Rewraps one version under the active root: create `<key>-v<N>-r<R>` (create-only; if it exists, a
 * crashed or racing run made it and it is adopted), verify it unwraps to the same key, and only then
 * delete the older wraps. A crash at any point leaves at least one readable wrap.
 */
export async function rewrapVersion(
  d: TenantKeyDeps,
  p: KeyPlace,
  v: ObservedVersion,
  key: Uint8Array,
): Promise<ObservedVersion> {
  const root = d.rootKeys.active();
  const facts: VersionSecretFacts = { ...v.current, rootVersion: root.version };
  let stored: Secret;
  try {
    stored = await d.client.create(versionSecret(facts, wrapFor(d, p, key, facts), true));
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const name = versionSecret(facts, new Uint8Array(0), true).metadata.name;
    const existing = await d.client.get<Secret>({ kind: 'Secret', name, namespace: facts.namespace });
    if (!existing) throw new Error(`rewrapped Secret ${name} vanished; retrying`, { cause: e });
    stored = existing;
  }
  const binding = tenantKeyBinding({
    tenantUID: p.tenantUID,
    keyName: facts.keyName,
    keyUID: facts.keyUID,
    version: facts.version,
  });
  const back = unwrap(wrappedBytes(stored) ?? new Uint8Array(0), d.rootKeys.lookup, binding);
  if (Buffer.compare(Buffer.from(back), Buffer.from(key)) !== 0)
    throw new Error(
      `rewrapped Secret ${stored.metadata.name} holds another key; refusing to delete the old wrap`,
    );
  await deleteSecrets(d, [v.current, ...v.superseded]);
  record(d, p, 'rewrap', facts, `rewrapped version ${v.version} under root key version ${root.version}`);
  return observedOf(foundSecret(stored));
}

/** Deletes Secrets by name with a UID precondition (never a same-named newer object). */
export async function deleteSecrets(d: TenantKeyDeps, secrets: readonly FoundSecret[]): Promise<void> {
  for (const s of secrets) {
    await d.client.delete(
      { kind: 'Secret', name: s.name, namespace: s.namespace },
      s.uid ? { uid: s.uid } : {},
    );
  }
}

/** Destroys a version for good: every wrap of it is deleted. Only for versions below destroyBelowVersion. */
export async function destroyVersion(d: TenantKeyDeps, p: KeyPlace, v: ObservedVersion): Promise<void> {
  await deleteSecrets(d, [v.current, ...v.superseded]);
  record(d, p, 'destroy', v.current, `destroyed version ${v.version} (below destroyBelowVersion)`);
}
