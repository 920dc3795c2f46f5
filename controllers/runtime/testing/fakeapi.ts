/**
 * An in-memory Kubernetes API server for unit tests, behind the same {@link KubeApi} interface as the
 * real client, so code under test cannot tell them apart by the verbs. What it models, and what it
 * simplifies, is listed once here; controllers/runtime/testing/contract/ holds the cases that run
 * against both this and the real apiserver, so the two cannot drift apart unnoticed.
 *
 * Modelled: resourceVersion (one growing counter), uid, creationTimestamp, generation for custom
 * resources (bumped by spec changes and by deletion, not by status or metadata), create-only 409
 * AlreadyExists, resourceVersion preconditions on update and apply (409 Conflict; a custom resource
 * update without one is 422), server-side apply with field ownership (ownership.ts), the status
 * subresource, CRD schema defaults and pruning (kinds.ts), immutable Secrets and ConfigMaps, JSON patch
 * with `test` (422 when it fails), label selectors, namespaces that must exist and stop taking new
 * objects while terminating, finalizers, delete with a uid precondition, and background garbage
 * collection (lifecycle.ts).
 *
 * Simplified: writes take effect at once and every list is consistent (no watch cache lag; use
 * {@link FakeCache} with `hold` to test a stale cache); garbage collection and namespace deletion happen
 * inside the write that triggers them; no OpenAPI/CEL validation, admission, RBAC, `managedFields`,
 * pagination, field selectors, dry-run or `Foreground`/`Orphan` propagation; every apply is forced.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, isNotFound } from '../kube/errors.ts';
import type { DeleteOptions, KubeApi, ObjectRef } from '../kube/api.ts';
import type { KubeObject, ObjectList } from '../kube/types.ts';
import { applyJsonPatch, JsonPatchError } from './jsonpatch.ts';
import { createDefaults, normalize, traitsOf, type KindTraits } from './kinds.ts';
import { Lifecycle } from './lifecycle.ts';
import { applyFields, describeManagers, managerKey, updateFields, type Managers } from './ownership.ts';
import {
  alreadyExists,
  asObj,
  invalid,
  notFound,
  patchRefused,
  precondition,
  resourceVersionRequired,
  scope,
  specChanged,
  SYSTEM_METADATA,
  systemMetadata,
  terminating,
  uidMismatch,
  validateUpdate,
} from './rules.ts';
import { parseSelector } from './selector.ts';
import { Store, storeKey, type Entry, type WatchHandler } from './store.ts';

export type { WatchEventType, WatchHandler } from './store.ts';

export interface FakeApiServerOptions {
  /** Milliseconds since the epoch, for creation and deletion timestamps (default: the system clock). */
  now?: () => number;
  /** Namespaces that exist from the start (objects can only be created in existing namespaces). */
  namespaces?: readonly string[];
}

export class FakeApiServer {
  private readonly store = new Store();
  private readonly lifecycle: Lifecycle;
  private readonly clock: () => number;

  constructor(opts: FakeApiServerOptions = {}) {
    this.clock = opts.now ?? Date.now;
    this.lifecycle = new Lifecycle(this.store, () => this.timestamp());
    for (const name of opts.namespaces ?? [])
      this.create('fake-apiserver', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }

  /** A client whose writes are made as `fieldManager`. */
  client(fieldManager = 'palisade'): KubeApi {
    return new FakeClient(this, fieldManager);
  }

  /** The latest resourceVersion: unchanged means nothing was written. */
  get resourceVersion(): string {
    return this.store.resourceVersion;
  }

  /** Calls `fn` for every change to objects of `kind`, as it commits (what an informer's watch sees). */
  watch(kind: string, fn: WatchHandler): () => void {
    traitsOf(kind);
    return this.store.watch(kind, fn);
  }

  /** The field managers of an object, e.g. `palisade (Apply, status)`; for tests of ownership. */
  managersOf(ref: ObjectRef): string[] {
    const e = this.store.get(this.key(traitsOf(ref.kind), ref.namespace, ref.name));
    return e ? describeManagers(e.managers) : [];
  }

  get(ref: ObjectRef): KubeObject | undefined {
    const e = this.store.get(this.key(traitsOf(ref.kind), ref.namespace, ref.name));
    return e && structuredClone(e.object);
  }

  list(kind: string, opts: { namespace?: string; labelSelector?: string } = {}): ObjectList<KubeObject> {
    const t = traitsOf(kind);
    const matches = parseSelector(opts.labelSelector);
    const items = this.store
      .all(kind)
      .map(([, e]) => e.object)
      .filter((o) => !opts.namespace || !t.type.namespaced || o.metadata.namespace === opts.namespace)
      .filter((o) => matches(o.metadata.labels))
      .map((o) => {
        if (t.custom) return structuredClone(o);
        // NB: the real server sends list items of built-in kinds without apiVersion and kind.
        const item: Partial<KubeObject> = structuredClone(o);
        delete item.apiVersion;
        delete item.kind;
        return item as KubeObject;
      });
    const list = { apiVersion: t.type.apiVersion, kind: `${kind}List` };
    return {
      ...list,
      metadata: { resourceVersion: this.store.resourceVersion },
      items,
    } as ObjectList<KubeObject>;
  }

  create(manager: string, input: KubeObject): KubeObject {
    const t = traitsOf(input.kind);
    const obj = structuredClone(input);
    if (!t.type.namespaced) delete obj.metadata.namespace;
    if (!obj.metadata.name) throw invalid(t, '', 'metadata.name: Required value: name is required');
    const key = this.admit(t, obj.metadata.namespace, obj.metadata.name);
    if (this.store.get(key)) throw alreadyExists(t, obj.metadata.name);
    this.initialize(obj, t);
    const managers = updateFields(undefined, asObj(obj), new Map(), managerKey(manager, 'Update'), scope(t));
    return structuredClone(this.lifecycle.settle(key, obj, { managers, traits: t }));
  }

  apply(manager: string, config: KubeObject, subresource?: 'status'): KubeObject {
    const t = traitsOf(config.kind);
    const { name, namespace } = config.metadata;
    const key = this.key(t, namespace, name);
    const entry = this.store.get(key);
    const mkey = managerKey(manager, 'Apply', subresource);
    if (!entry) {
      if (subresource) throw notFound(t, name);
      this.admit(t, namespace, name);
      const skeleton = { apiVersion: config.apiVersion, kind: config.kind, metadata: { name, namespace } };
      if (!t.type.namespaced) delete skeleton.metadata.namespace;
      // NB: creating by apply ignores metadata.resourceVersion, as the real server does.
      const { object, managers } = applyFields(skeleton, asObj(config), new Map(), mkey, scope(t));
      const obj = object as unknown as KubeObject;
      this.initialize(obj, t);
      return structuredClone(this.lifecycle.settle(key, obj, { managers, traits: t }));
    }
    precondition(t, entry, config.metadata.resourceVersion);
    const merged = applyFields(
      asObj(entry.object),
      asObj(config),
      entry.managers,
      mkey,
      scope(t, subresource),
    );
    return this.replace(key, entry, merged.object as unknown as KubeObject, () => merged.managers);
  }

  update(manager: string, input: KubeObject): KubeObject {
    const t = traitsOf(input.kind);
    const key = this.key(t, input.metadata.namespace, input.metadata.name);
    const entry = this.store.get(key);
    if (!entry) throw notFound(t, input.metadata.name);
    const rv = input.metadata.resourceVersion;
    if (!rv && t.custom) throw resourceVersionRequired(t, input.metadata.name);
    precondition(t, entry, rv);
    return this.rewrite(key, entry, structuredClone(input), manager);
  }

  jsonPatch(manager: string, ref: ObjectRef, ops: readonly object[]): KubeObject {
    const t = traitsOf(ref.kind);
    const key = this.key(t, ref.namespace, ref.name);
    const entry = this.store.get(key);
    if (!entry) throw notFound(t, ref.name);
    let patched: KubeObject;
    try {
      patched = applyJsonPatch(entry.object, ops);
    } catch (e) {
      if (!(e instanceof JsonPatchError)) throw e;
      throw patchRefused(e);
    }
    precondition(t, entry, patched.metadata?.resourceVersion);
    return this.rewrite(key, entry, patched, manager);
  }

  delete(ref: ObjectRef, opts: DeleteOptions = {}): void {
    const t = traitsOf(ref.kind);
    const key = this.key(t, ref.namespace, ref.name);
    const entry = this.store.get(key);
    if (!entry) throw notFound(t, ref.name);
    if (opts.uid && opts.uid !== entry.object.metadata.uid) throw uidMismatch(t, entry, opts.uid);
    if (opts.propagationPolicy === 'Foreground' || opts.propagationPolicy === 'Orphan')
      throw new Error(`the fake API server does not model ${opts.propagationPolicy} deletion`);
    this.lifecycle.delete(key);
  }

  /** An update or patch: system fields and (with a status subresource) status stay the server's. */
  private rewrite(key: string, entry: Entry, next: KubeObject, manager: string): KubeObject {
    const live = entry.object;
    const n = asObj(next);
    next.apiVersion = live.apiVersion;
    next.kind = live.kind;
    next.metadata = { ...next.metadata, ...systemMetadata(live) };
    if (entry.traits.statusSubresource) {
      const status = asObj(live).status;
      if (status === undefined) delete n.status;
      else n.status = structuredClone(status);
    }
    if (entry.traits.type.kind === 'Namespace') n.spec = structuredClone(asObj(live).spec);
    const mkey = managerKey(manager, 'Update');
    return this.replace(key, entry, next, (o) =>
      updateFields(asObj(live), o, entry.managers, mkey, scope(entry.traits)),
    );
  }

  /** The common end of every change to an existing object: normalize, validate, generation, store. */
  private replace(
    key: string,
    entry: Entry,
    next: KubeObject,
    managers: (o: Record<string, unknown>) => Managers,
  ): KubeObject {
    const t = entry.traits;
    const live = entry.object;
    normalize(next, t);
    validateUpdate(t, live, next);
    if (t.custom && specChanged(live, next)) next.metadata.generation = (live.metadata.generation ?? 0) + 1;
    const stored = this.lifecycle.settle(key, next, {
      managers: managers(asObj(next)),
      traits: t,
    });
    return structuredClone(stored);
  }

  /** Server-set fields of a new object. */
  private initialize(obj: KubeObject, t: KindTraits): void {
    const m = asObj(obj.metadata);
    for (const k of SYSTEM_METADATA) if (k !== 'name' && k !== 'namespace') delete m[k];
    if (t.statusSubresource) delete asObj(obj).status;
    createDefaults(obj, t);
    normalize(obj, t);
    m.uid = randomUUID();
    m.creationTimestamp = this.timestamp();
    if (t.custom) m.generation = 1;
  }

  /** The key of a new object, once its namespace is known to take it. */
  private admit(t: KindTraits, namespace: string | undefined, name: string): string {
    const key = this.key(t, namespace, name);
    if (!t.type.namespaced || namespace === undefined) return key;
    const ns = this.lifecycle.namespace(namespace);
    if (!ns) throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`);
    if (ns.terminating) throw terminating(t, namespace, name);
    return key;
  }

  private key(t: KindTraits, namespace: string | undefined, name: string): string {
    if (t.type.namespaced && !namespace)
      throw new Error(`${t.type.kind} ${name}: a namespaced kind needs a namespace`);
    return storeKey(t, namespace, name);
  }

  /** RFC 3339 to the second, as the server writes timestamps. */
  private timestamp(): string {
    return new Date(this.clock()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

/** A {@link KubeApi} over a {@link FakeApiServer}, as one field manager. */
class FakeClient implements KubeApi {
  readonly fieldManager: string;
  private readonly server: FakeApiServer;

  constructor(server: FakeApiServer, fieldManager: string) {
    this.server = server;
    this.fieldManager = fieldManager;
  }

  async get<T extends KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    return this.server.get(ref) as T | undefined;
  }

  async list<T extends KubeObject>(
    kind: string,
    opts: { namespace?: string; labelSelector?: string } = {},
  ): Promise<ObjectList<T>> {
    return this.server.list(kind, opts) as ObjectList<T>;
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    return this.server.create(this.fieldManager, obj) as T;
  }

  async apply<T extends KubeObject>(obj: KubeObject, opts: { subresource?: 'status' } = {}): Promise<T> {
    return this.server.apply(this.fieldManager, obj, opts.subresource) as T;
  }

  async update<T extends KubeObject>(obj: T): Promise<T> {
    return this.server.update(this.fieldManager, obj) as T;
  }

  async jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: readonly object[]): Promise<T> {
    return this.server.jsonPatch(this.fieldManager, ref, ops) as T;
  }

  async delete(ref: ObjectRef, opts: DeleteOptions = {}): Promise<boolean> {
    try {
      this.server.delete(ref, opts);
      return true;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return false;
    }
  }
}
