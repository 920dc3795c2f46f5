/**
 * The tenant keys the key service uses, unwrapped once and kept in a bounded cache (least recently used
 * first out). Everything is read from the replica's caches: the keystore (tenant records, wrapped key
 * versions, root key versions) and the TenantKey informer (each key's version policy). A change to any of
 * these drops the affected entry at once — a rotation, a destroy, a rewrap, a changed policy, a deleted or
 * retained tenant — and the next call opens the key again. A dropped entry's key bytes are overwritten.
 *
 * NB: unwrapped keys never leave this module and the handlers' synchronous encrypt/decrypt calls: no key,
 * plaintext or ciphertext is put in an error, a log line or a metric label.
 */
import type { TenantKey } from '../../crds/v1alpha1/index.ts';
import { randomPool, type Keyring, type RandomSource } from '../crypto/index.ts';
import {
  EntryKind,
  entryKind,
  entryUID,
  IndexKey,
  isKeystoreEntry,
  TENANTKEY_LABEL,
} from '../keystore/entries.ts';
import type { Keystore } from '../keystore/store.ts';
import { recordOf, type TenantRecord } from '../keystore/tenants.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { Component } from '../installation/secrets.ts';
import { openTenantDataKeys, type TenantDataKeys } from './tenantdata.ts';
import { KeyServiceError } from './errors.ts';

export const PRIMARY_KEY = 'primary';
export const DEFAULT_MAX_KEYS = 1024;

/** One open TenantKey: where it lives, its version policy, and its unwrapped versions. */
export interface OpenKey {
  tenant: TenantRecord;
  tenantKey: TenantKey;
  keys: TenantDataKeys;
}

/** What the cache reads: the keystore and the TenantKeys (informer caches on every replica). */
export interface KeySources {
  keystore: Pick<Keystore, 'find' | 'namespace'>;
  rootKeys: { lookup: Keyring; versions(): readonly { version: number }[] };
  tenantKeys: Pick<ObjectCache<TenantKey>, 'get'>;
  rand: RandomSource;
}

export class TenantKeyCache {
  private readonly s: KeySources;
  private readonly max: number;
  /** The open keys' nonces: one pool for all (crypto's randomPool), drawn from `s.rand` a block at a time. */
  private readonly nonces: RandomSource;
  /** `uid/key` → the open key; Map order is recency (a hit moves the entry to the end). */
  private readonly open = new Map<string, OpenKey>();
  /** `namespace/name` of a TenantKey → its entry's `uid/key`. */
  private readonly byObject = new Map<string, string>();

  constructor(s: KeySources, opts: { maxKeys?: number } = {}) {
    this.s = s;
    this.max = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    this.nonces = randomPool(s.rand);
  }

  get size(): number {
    return this.open.size;
  }

  /** The live (not retained) tenant named `tenant`, by Palisade's record. */
  tenant(tenant: string): TenantRecord {
    const record = this.s.keystore
      .find(IndexKey.tenantByName(tenant))
      .map(recordOf)
      .find((r) => !r.retained);
    if (!record) throw new KeyServiceError('NotFound', `Tenant ${tenant} does not exist`);
    return record;
  }

  /** The open key `key` of `tenant`, unwrapping it on a miss. */
  get(tenant: string, key: string): OpenKey {
    const record = this.tenant(tenant);
    const id = `${record.uid}/${key}`;
    const hit = this.open.get(id);
    if (hit && hit.tenant.namespace === record.namespace) {
      this.open.delete(id);
      this.open.set(id, hit);
      return hit;
    }
    const tenantKey = this.s.tenantKeys.get(key, record.namespace);
    if (!tenantKey) {
      throw new KeyServiceError('NotFound', `TenantKey ${key} of Tenant ${tenant} does not exist`);
    }
    const entries = this.s.keystore.find(IndexKey.key(record.uid, key));
    const keys = openTenantDataKeys({
      tenantKey,
      tenantUID: record.uid,
      secrets: entries,
      rootKeys: this.s.rootKeys.lookup,
      rootVersions: this.s.rootKeys.versions().map((r) => r.version),
      rand: this.nonces,
    });
    const opened: OpenKey = { tenant: record, tenantKey, keys };
    this.drop(id);
    this.open.set(id, opened);
    this.byObject.set(`${record.namespace}/${key}`, id);
    while (this.open.size > this.max) {
      const oldest = this.open.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    return opened;
  }

  /** Drops every open key (a root key version changed). */
  clear(): void {
    for (const id of [...this.open.keys()]) this.drop(id);
  }

  /** Drops what a keystore Secret's change affects. */
  onSecret(s: Secret): void {
    if (s.metadata.namespace !== this.s.keystore.namespace) return;
    if (s.metadata.labels?.[COMPONENT_LABEL] === Component.RootKey) return this.clear();
    if (!isKeystoreEntry(s, this.s.keystore.namespace)) return;
    const uid = entryUID(s);
    if (entryKind(s) === EntryKind.TenantKey)
      this.drop(`${uid}/${s.metadata.labels?.[TENANTKEY_LABEL] ?? ''}`);
    else if (entryKind(s) === EntryKind.Tenant) this.dropTenant(uid);
  }

  /** Drops a TenantKey whose spec (its version policy) changed, or that was deleted or re-created. */
  onTenantKey(tk: TenantKey, gone: boolean): void {
    const id = this.byObject.get(`${tk.metadata.namespace}/${tk.metadata.name}`);
    const o = id === undefined ? undefined : this.open.get(id);
    if (!o || id === undefined) return;
    const same =
      o.tenantKey.metadata.uid === tk.metadata.uid &&
      o.tenantKey.metadata.generation === tk.metadata.generation;
    if (gone || !same) this.drop(id);
  }

  /** Follows the caches: call once, before they start. */
  watch(secrets: Pick<ObjectCache<Secret>, 'on'>, tenantKeys: Pick<ObjectCache<TenantKey>, 'on'>): void {
    for (const e of ['add', 'update', 'delete'] as const) {
      secrets.on(e, (s) => this.onSecret(s));
      tenantKeys.on(e, (tk) => this.onTenantKey(tk, e === 'delete'));
    }
  }

  /** NB: a scan, but only on a tenant record's change (created, retained, deleted): rare. */
  private dropTenant(uid: string): void {
    for (const id of [...this.open.keys()]) if (id.startsWith(`${uid}/`)) this.drop(id);
  }

  private drop(id: string): void {
    const o = this.open.get(id);
    if (!o) return;
    this.open.delete(id);
    this.byObject.delete(`${o.tenant.namespace}/${o.tenantKey.metadata.name}`);
    o.keys.forget();
  }
}
