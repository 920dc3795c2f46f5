/**
 * Where a cache (listwatch.ts) keeps its objects, by namespace and name (cluster-scoped ones under '').
 *
 * {@link PlainStore} keeps the objects themselves. {@link CompactStore} keeps each as its JSON deflated
 * against a dictionary of what objects of its kind have in common (field names, label keys, condition
 * types, constant values), so what is left is what makes one object unlike the next: its name, UID,
 * timestamps, a Secret's data: a Ready Tenant's 1.5 KiB of JSON (more as objects on the heap) become about
 * 200 bytes. A read decodes again, so the objects read last are kept decoded too ({@link RECENT}).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { KubeObject } from './kube/types.ts';

export interface ObjectStore<T extends KubeObject> {
  get(namespace: string, name: string): T | undefined;
  /** Keeps `obj` in place of what was held under its namespace and name. */
  put(obj: T): void;
  /** Drops one object; whether one was held. */
  remove(namespace: string, name: string): boolean;
  list(namespace?: string): T[];
  /** Namespace and name of every object held, or of those in `namespace` (nothing decoded). */
  names(namespace?: string): [namespace: string, name: string][];
}

/**
 * One namespace's objects: the one held while it is the only one (a tenant namespace holds one TenantKey,
 * and a Map of one costs about 180 bytes more), a Map by name from the second.
 */
type InNamespace<V> = V | Map<string, V>;

/** What both stores share: objects by namespace, the lone one of a namespace without a Map. */
abstract class NamespaceMap<T extends KubeObject, V> implements ObjectStore<T> {
  private readonly held = new Map<string, InNamespace<V>>();

  protected abstract encode(obj: T): V;
  protected abstract decode(value: V, namespace: string, name: string): T;
  /** A namespace's only value, which must carry its name. */
  protected abstract alone(value: V, name: string): V;
  /** A value made by {@link alone}: its name, and the value as a Map holds it. */
  protected abstract nameOf(lone: V): string;
  protected abstract unalone(lone: V): V;

  get(namespace: string, name: string): T | undefined {
    const v = this.value(namespace, name);
    return v === undefined ? undefined : this.decode(v, namespace, name);
  }

  put(obj: T): void {
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    const value = this.encode(obj);
    const held = this.held.get(ns);
    if (held instanceof Map) held.set(name, value);
    else if (held === undefined || this.nameOf(held) === name) this.held.set(ns, this.alone(value, name));
    else
      this.held.set(
        ns,
        new Map([
          [this.nameOf(held), this.unalone(held)],
          [name, value],
        ]),
      );
  }

  remove(namespace: string, name: string): boolean {
    const held = this.held.get(namespace);
    if (!(held instanceof Map)) {
      if (held === undefined || this.nameOf(held) !== name) return false;
      this.held.delete(namespace);
      return true;
    }
    if (!held.delete(name)) return false;
    if (held.size === 1) {
      const [left, value] = held.entries().next().value as [string, V];
      this.held.set(namespace, this.alone(value, left));
    } else if (held.size === 0) this.held.delete(namespace);
    return true;
  }

  list(namespace?: string): T[] {
    const out: T[] = [];
    const add = (ns: string, held: InNamespace<V> | undefined) => {
      if (held instanceof Map) for (const [name, v] of held) out.push(this.decode(v, ns, name));
      else if (held !== undefined) out.push(this.decode(this.unalone(held), ns, this.nameOf(held)));
    };
    if (namespace !== undefined) add(namespace, this.held.get(namespace));
    else for (const [ns, held] of this.held) add(ns, held);
    return out;
  }

  names(namespace?: string): [string, string][] {
    const out: [string, string][] = [];
    const add = (ns: string, held: InNamespace<V> | undefined) => {
      if (held instanceof Map) for (const name of held.keys()) out.push([ns, name]);
      else if (held !== undefined) out.push([ns, this.nameOf(held)]);
    };
    if (namespace !== undefined) add(namespace, this.held.get(namespace));
    else for (const [ns, held] of this.held) add(ns, held);
    return out;
  }

  /** Every value held, as a Map holds it. */
  protected *values(): Iterable<V> {
    for (const held of this.held.values())
      if (held instanceof Map) yield* held.values();
      else yield this.unalone(held);
  }

  private value(namespace: string, name: string): V | undefined {
    const held = this.held.get(namespace);
    if (held instanceof Map) return held.get(name);
    return held !== undefined && this.nameOf(held) === name ? this.unalone(held) : undefined;
  }
}

export class PlainStore<T extends KubeObject> extends NamespaceMap<T, T> {
  protected encode(obj: T): T {
    return obj;
  }
  protected decode(obj: T): T {
    return obj;
  }
  protected alone(obj: T): T {
    return obj;
  }
  protected nameOf(obj: T): string {
    return obj.metadata.name;
  }
  protected unalone(obj: T): T {
    return obj;
  }
}

/**
 * The objects decoded last, shared by every compact store: a reconcile reads the same few objects several
 * times, and the key service the same tenant's records on every call. Bounded, so it holds a few hundred
 * objects however many are cached.
 */
class Recent {
  private readonly objects = new Map<string, object>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }

  get(key: string): object | undefined {
    const o = this.objects.get(key);
    if (o !== undefined) {
      this.objects.delete(key);
      this.objects.set(key, o);
    }
    return o;
  }

  set(key: string, o: object): void {
    this.objects.delete(key);
    this.objects.set(key, o);
    if (this.objects.size > this.max) this.objects.delete(this.objects.keys().next().value as string);
  }

  delete(key: string): void {
    this.objects.delete(key);
  }

  clear(): void {
    this.objects.clear();
  }
}

const RECENT = new Recent(512);
let stores = 0;

/** Forgets every decoded object, so the next reads decode (for tests). */
export function forgetDecoded(): void {
  RECENT.clear();
}
/** One copy of each dictionary however many stores use it (a namespaced informer has one per namespace). */
const dictionaries = new Map<string, Buffer>();

/** deflate's window: 8 KiB (a dictionary longer than that is used from its end). */
const WINDOW_BITS = 13;
/**
 * zlib's output buffer. Node's default (16 KiB) is an allocation of its own outside the V8 heap for each
 * call, held until the next collection: with 2,000 tenants created at once these made half the operator's
 * peak of native memory (heaptrack). Under 4 KiB it comes from Node's shared Buffer pool; a larger
 * object's output is a few chunks joined.
 */
const CHUNK_SIZE = 2048;

/**
 * Each object as its JSON deflated against `dictionary`, as a latin1 string (one byte per character;
 * prefixed with its name and a NUL when it is the only one of its namespace). Objects a cache holds are
 * never changed in place, so one decoded object may be handed to every reader, as a plain store does.
 */
export class CompactStore<T extends KubeObject> extends NamespaceMap<T, string> {
  private readonly dictionary: Buffer;
  private readonly id = `${++stores}`;

  constructor(dictionary: string) {
    super();
    let d = dictionaries.get(dictionary);
    if (!d) dictionaries.set(dictionary, (d = Buffer.from(dictionary)));
    this.dictionary = d;
  }

  override put(obj: T): void {
    super.put(obj);
    // NB: kept decoded as it came: what was just written is what the next reads ask for (the handlers'
    // reconciles, the next event's `old`), and decoding it again cost more CPU than the encoding.
    RECENT.set(this.recentKey(obj.metadata.namespace ?? '', obj.metadata.name), obj);
  }

  override remove(namespace: string, name: string): boolean {
    RECENT.delete(this.recentKey(namespace, name));
    return super.remove(namespace, name);
  }

  protected encode(obj: T): string {
    const json = Buffer.from(JSON.stringify(obj));
    const packed = deflateRawSync(json, {
      dictionary: this.dictionary,
      windowBits: WINDOW_BITS,
      memLevel: 4,
      chunkSize: CHUNK_SIZE,
    });
    return packed.toString('latin1');
  }

  protected alone(packed: string, name: string): string {
    // NB: copied into one string, not concatenated: a concatenation is kept as a tree of its parts.
    return Buffer.concat([Buffer.from(`${name}\0`), Buffer.from(packed, 'latin1')]).toString('latin1');
  }

  protected nameOf(lone: string): string {
    return lone.slice(0, lone.indexOf('\0'));
  }

  protected unalone(lone: string): string {
    return lone.slice(lone.indexOf('\0') + 1);
  }

  protected decode(value: string, namespace: string, name: string): T {
    const key = this.recentKey(namespace, name);
    const seen = RECENT.get(key);
    if (seen !== undefined) return seen as T;
    const packed = Buffer.from(value, 'latin1');
    const obj = JSON.parse(
      inflateRawSync(packed, {
        dictionary: this.dictionary,
        windowBits: WINDOW_BITS,
        chunkSize: CHUNK_SIZE,
      }).toString(),
    ) as T;
    RECENT.set(key, obj);
    return obj;
  }

  /** The characters held for the objects (one byte each): what compaction leaves. */
  heldLength(): number {
    let n = 0;
    for (const v of this.values()) n += v.length;
    return n;
  }

  private recentKey(namespace: string, name: string): string {
    return `${this.id}\0${namespace}\0${name}`;
  }
}
