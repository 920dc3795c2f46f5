import {
  binding,
  BindingPurpose,
  tenantKeyBinding,
  unwrap,
  wrap,
  type Binding,
  type RandomSource,
} from '../crypto/index.ts';
import { rootKeyOf, type RootKeyring } from '../installation/keyring.ts';
import type { RootKey } from '../installation/keys.ts';
import { listVersions } from '../installation/observe.ts';
import { isRetiring } from '../installation/rootversion.ts';
import { Component, secretName } from '../installation/secrets.ts';
import { createOrAdopt } from '../runtime/reconciler.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { TENANT_UID_LABEL } from '../runtime/objects.ts';
import {
  EntryKind,
  entryKind,
  entryUID,
  KEY_UID_LABEL,
  KEYSTORE_INDEX,
  KEYSTORE_ROOT_INDEX,
  keyVersionSlot,
  keystoreIndex,
  keystoreRootIndex,
  ROOT_KEY_VERSION_LABEL,
  COMPONENT_LABEL_SELECTOR,
  rewrapName,
  secretBytes,
  tenantRecordName,
  SLOT_LABEL,
  TENANTKEY_LABEL,
  VERSION_LABEL,
  wrappedByRootVersion,
} from './entries.ts';

export interface KeystoreDeps {
  client: KubeApi;
  /** The operator's labelled-Secret informer (the only one). */
  secrets: ObjectCache<Secret>;
  /** The operator's namespace: the only place keystore entries are read from. */
  namespace: string;
  rootKeys: RootKeyring;
  rand: RandomSource;
}

/** The binding of a tenant's wrapped NATS account seed: copied to another tenant, it does not unwrap. */
export function accountSeedBinding(tenantUID: string): Binding {
  return binding(BindingPurpose.NatsAccountSeed, { tenantUID });
}

/**
 * The binding a wrapped entry was made for, rebuilt from its own labels. Only the rewrap loop uses this
 * (it moves a wrap from one root version to another and must not need to know the entry's owner);
 * readers rebuild the binding from what *they* know, so an entry filed under the wrong owner fails.
 */
export function entryBinding(s: Secret): Binding {
  const l = s.metadata.labels ?? {};
  switch (entryKind(s)) {
    case EntryKind.TenantKey:
      return tenantKeyBinding({
        tenantUID: entryUID(s),
        keyName: l[TENANTKEY_LABEL] ?? '',
        keyUID: l[KEY_UID_LABEL] ?? '',
        version: Number(l[VERSION_LABEL]) || 0,
      });
    case EntryKind.NatsAccount:
      return accountSeedBinding(entryUID(s));
    default:
      throw new Error(`keystore entry ${s.metadata.name} holds nothing wrapped`);
  }
}

/** The key the data of every wrapped entry lives under. */
export const WRAPPED_DATA_KEY = 'wrapped';

/**
 * The one owner of everything Palisade wraps with the root key (see entries.ts for the layout): lookups
 * through the labelled-Secret informer's keystore indexes, wrapping under the active root version, the
 * create-only-then-adopt write of key material, and the rewrap of one slot to the active root version.
 */
export class Keystore {
  readonly namespace: string;
  private readonly d: KeystoreDeps;

  constructor(d: KeystoreDeps) {
    this.d = d;
    this.namespace = d.namespace;
    d.secrets.addIndex(KEYSTORE_INDEX, keystoreIndex(d.namespace));
    d.secrets.addIndex(KEYSTORE_ROOT_INDEX, keystoreRootIndex(d.namespace));
  }

  get rootKeys(): RootKeyring {
    return this.d.rootKeys;
  }

  get client(): KubeApi {
    return this.d.client;
  }

  /**
   * True when a live read finds every one of `versions` of a TenantKey in the keystore (the cache lags).
   * NB: a GET per name a version's wrap may have (its slot, or a rewrap under a held root version) first:
   * a labelled list walks the whole keystore namespace in the API server, tens of thousands of entries.
   * Only a version found under none of those names costs the list.
   */
  async liveVersionsPresent(uid: string, keyName: string, versions: readonly number[]): Promise<boolean> {
    const unfound: number[] = [];
    for (const v of versions) if (!(await this.liveVersionFound(uid, keyName, v))) unfound.push(v);
    if (unfound.length === 0) return true;
    const present = await this.liveVersionsListed(uid, keyName);
    return unfound.every((v) => present.has(v));
  }

  /** True when a live GET finds a wrap of `version` under a name it may have: its slot, or a rewrap. */
  async liveVersionFound(uid: string, keyName: string, version: number): Promise<boolean> {
    const slot = keyVersionSlot(uid, keyName, version);
    const roots = this.d.rootKeys.versions().map((r) => r.version);
    for (const name of [slot, ...roots.map((r) => rewrapName(slot, r))]) {
      if (await this.d.client.get<Secret>({ kind: 'Secret', name, namespace: this.namespace })) return true;
    }
    return false;
  }

  /** Every version of a TenantKey the keystore holds, by a live labelled list (the costly read: see above). */
  async liveVersionsListed(uid: string, keyName: string): Promise<Set<number>> {
    const list = await this.d.client.list<Secret>('Secret', {
      namespace: this.namespace,
      labelSelector: `${COMPONENT_LABEL_SELECTOR},${TENANT_UID_LABEL}=${uid},${TENANTKEY_LABEL}=${keyName}`,
    });
    return new Set(list.items.map((s) => Number(s.metadata.labels?.[VERSION_LABEL])));
  }

  /** Every keystore entry of one tenant UID, read live (for its destruction). */
  async liveEntriesOf(uid: string): Promise<Secret[]> {
    const list = await this.d.client.list<Secret>('Secret', {
      namespace: this.namespace,
      labelSelector: `${COMPONENT_LABEL_SELECTOR},${TENANT_UID_LABEL}=${uid}`,
    });
    return list.items;
  }

  /** A tenant record read live (for start-up work that runs before the cache holds its own writes). */
  liveTenantRecord(namespace: string): Promise<Secret | undefined> {
    return this.d.client.get<Secret>({
      kind: 'Secret',
      name: tenantRecordName(namespace),
      namespace: this.namespace,
    });
  }

  /** Keystore entries under one index key (entries.ts `IndexKey`), from the cache. */
  find(indexKey: string): Secret[] {
    return this.d.secrets
      .byIndex(KEYSTORE_INDEX, indexKey)
      .map((k) => this.d.secrets.get(k.slice(k.indexOf('/') + 1), this.namespace))
      .filter((s): s is Secret => !!s);
  }

  get(name: string): Secret | undefined {
    return this.d.secrets.get(name, this.namespace);
  }

  /** Wrapped entries whose current content a root version wraps (what keeps that version alive). */
  referencesOf(rootVersion: number): string[] {
    return this.d.secrets.byIndex(KEYSTORE_ROOT_INDEX, String(rootVersion));
  }

  /** Wraps `plaintext` for `b` under the active root version (or `root`). */
  wrap(
    plaintext: Uint8Array,
    b: Binding,
    root = this.d.rootKeys.active(),
  ): { wrapped: Uint8Array; rootVersion: number } {
    const wrapped = wrap(plaintext, root.key, { version: root.version, keyId: root.keyId }, b, this.d.rand);
    return { wrapped, rootVersion: root.version };
  }

  /** Unwraps an entry for the binding the caller expects; throws EnvelopeError when it does not match. */
  unwrap(s: Secret, b: Binding): Uint8Array {
    return unwrap(secretBytes(s, WRAPPED_DATA_KEY), this.d.rootKeys.lookup, b);
  }

  /**
   * Creates `secret` unless its name exists; of two writers racing for one name exactly one wins and the
   * other adopts the winner's (read live: the cache may lag). Key material that is wrapped goes through
   * {@link createWrapped}, which builds on this.
   */
  async createOnce(secret: Secret): Promise<{ secret: Secret; created: boolean }> {
    const made = await createOrAdopt(this.d.client, secret);
    return { secret: made.object, created: made.created };
  }

  /**
   * The only way wrapped key material is written: wraps `plaintext` for `b` under the active root version,
   * creates the entry `build` makes of it (create-only; adopted when its name exists), then makes sure
   * the root version wrapping the result outlives it ({@link outlive}). Returns the entry the slot is
   * current in: the one made, or a wrap of it under a newer root version.
   */
  async createWrapped(
    plaintext: Uint8Array,
    b: Binding,
    build: (w: { wrapped: Uint8Array; rootVersion: number }) => Secret,
  ): Promise<{ secret: Secret; created: boolean }> {
    const made = await this.createOnce(build(this.wrap(plaintext, b)));
    const secret = await this.outlive(made.secret, b, made.created ? plaintext : undefined);
    return { secret, created: made.created };
  }

  /**
   * The fence between a writer whose cache lags and the retirement loop (keystore/retire.ts), which marks
   * an old root version's Secret retiring, then lists what that version wraps, then deletes it. After
   * `entry` is written, a live read of the root version wrapping it: found and unmarked, the mark (if it
   * ever comes) comes after this write, so the loop's list sees the entry and keeps the version. Marked
   * or gone: the loop's list may have missed the entry, so it is wrapped again under the newest unmarked
   * root version read live (`<slot>-r<R>`, as the rewrap loop names it), which is fenced the same way.
   * The old wrap stays for the rewrap loop to clean up. Returns the entry that passed.
   */
  private async outlive(
    entry: Secret,
    b: Binding,
    plaintext?: Uint8Array,
    made: Secret[] = [],
  ): Promise<Secret> {
    let current = entry;
    let bytes = plaintext;
    for (let attempt = 0; attempt < 3; attempt++) {
      const version = wrappedByRootVersion(current);
      const root = await this.d.client.get<Secret>({
        kind: 'Secret',
        name: secretName(Component.RootKey, version),
        namespace: this.namespace,
      });
      if (root && !isRetiring(root)) return current;
      const newest = await this.liveActiveRoot();
      bytes ??= this.unwrap(current, b);
      const slot = current.metadata.labels?.[SLOT_LABEL] ?? current.metadata.name;
      const next = await this.wrapUnder(slot, current, bytes, b, newest);
      if (next.created) made.push(next.secret);
      current = next.secret;
    }
    throw new Error(`root key versions kept changing while ${entry.metadata.name} was written; retrying`);
  }

  /** The newest root version not marked retiring, read live (for a writer whose cache lags). */
  private async liveActiveRoot(): Promise<RootKey> {
    const roots = await listVersions({ client: this.d.client, namespace: this.namespace }, Component.RootKey);
    const newest = roots.filter((s) => !isRetiring(s)).at(-1);
    if (!newest) throw new Error('no root key version is readable; the installation keys are missing');
    return rootKeyOf(newest);
  }

  /**
   * Wraps `plaintext` (what `from` holds) under `root` as `<slot>-r<R>` (create-only; adopted when a
   * crashed or racing run made it), checked to unwrap to the same bytes.
   */
  private async wrapUnder(
    slot: string,
    from: Secret,
    plaintext: Uint8Array,
    b: Binding,
    root: RootKey,
  ): Promise<{ secret: Secret; created: boolean }> {
    const { wrapped, rootVersion } = this.wrap(plaintext, b, root);
    // NB: built explicitly: objects from an informer's initial list carry no kind or apiVersion.
    const next: Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      immutable: true,
      metadata: {
        name: rewrapName(slot, rootVersion),
        namespace: this.namespace,
        labels: {
          ...from.metadata.labels,
          [ROOT_KEY_VERSION_LABEL]: String(rootVersion),
          [SLOT_LABEL]: slot,
        },
        ...(from.metadata.annotations ? { annotations: from.metadata.annotations } : {}),
      },
      data: { [WRAPPED_DATA_KEY]: Buffer.from(wrapped).toString('base64') },
    };
    const made = await this.createOnce(next);
    const lookup = (ref: { version: number; keyId: string }) =>
      ref.version === root.version && ref.keyId === root.keyId ? root.key : this.d.rootKeys.lookup(ref);
    const held = unwrap(secretBytes(made.secret, WRAPPED_DATA_KEY), lookup, b);
    if (Buffer.compare(Buffer.from(held), Buffer.from(plaintext)) !== 0)
      throw new Error(`rewrapped entry ${made.secret.metadata.name} holds other bytes; the old wrap is kept`);
    return made;
  }

  /** Deletes entries by name with a UID precondition (never a same-named newer object). */
  async delete(secrets: readonly Secret[]): Promise<number> {
    let deleted = 0;
    for (const s of secrets) {
      const now = await this.d.client.delete(
        { kind: 'Secret', name: s.metadata.name, namespace: this.namespace },
        s.metadata.uid ? { uid: s.metadata.uid } : {},
      );
      if (now) deleted++;
    }
    return deleted;
  }

  /**
   * Brings one slot (every wrap of one wrapped thing) to the active root version: create the wrap
   * `<slot>-r<R>` (create-only; adopted if a crashed or racing run made it), check it unwraps to the same
   * bytes, and only then delete the older wraps. A crash at any point leaves at least one readable wrap.
   * Returns the number of API writes made (0 when the slot is current).
   */
  async rewrapSlot(slot: string, wraps: readonly Secret[]): Promise<number> {
    const active = this.d.rootKeys.active();
    const sorted = [...wraps].sort((a, b) => wrappedByRootVersion(b) - wrappedByRootVersion(a));
    const current = sorted[0];
    if (!current) return 0;
    const b = entryBinding(current);
    const plaintext = this.unwrap(current, b);
    let newest = current;
    /** The wraps this call created (adopted ones were made, and their sources deleted, by an earlier run). */
    const made: Secret[] = [];
    if (wrappedByRootVersion(current) < active.version) {
      const next = await this.wrapUnder(slot, current, plaintext, b, active);
      if (next.created) made.push(next.secret);
      newest = await this.outlive(next.secret, b, plaintext, made);
    }
    // NB: a wrap made here under a version found retiring (outlive moved on) goes with the older ones.
    const older = [...sorted, ...made].filter((s) => s.metadata.name !== newest.metadata.name);
    let deleted = 0;
    for (const s of older) {
      if ((await this.delete([s])) === 1) {
        deleted++;
        continue;
      }
      // NB: a concurrent destroy of this slot (a TenantKey version below destroyBelowVersion) must not be
      // undone by the wraps just made: when the wrap they were made from is already gone, they go too.
      if (made.length && s.metadata.name === current.metadata.name)
        return made.length + deleted + (await this.delete(made));
    }
    return made.length + deleted;
  }
}
