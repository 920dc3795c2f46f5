/**
 * Field ownership for server-side apply, the part of it the operator relies on: an apply sets the fields
 * it names and removes the fields its manager applied before and no longer names, unless another manager
 * also owns them; a forced apply takes over fields whose value it changes; an update (or a patch) makes its
 * manager the owner of the fields it changed.
 *
 * Simplified from the real field manager (structured-merge-diff): a field is a path of object keys down to
 * a leaf (a scalar, an empty object, or a list), and every list is atomic: where the real server merges
 * `listType: map`/`set` lists element by element, here a list is owned, replaced and removed as a whole.
 * Ownership is kept beside the object; `metadata.managedFields` is not returned.
 */
import { isDeepStrictEqual } from 'node:util';

export type FieldPath = readonly string[];

/** Manager key (see {@link managerKey}) → the fields it owns, each a JSON-encoded {@link FieldPath}. */
export type Managers = ReadonlyMap<string, ReadonlySet<string>>;

/** Which fields a write may touch: the status subresource only status, the main resource all but status. */
export type Scope = (path: FieldPath) => boolean;

type Obj = Record<string, unknown>;

/** Set by the server, never owned by a manager. */
const SERVER_METADATA = new Set([
  'name',
  'namespace',
  'generateName',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
]);

/** Managers are told apart by name, operation and subresource, as in `metadata.managedFields`. */
export function managerKey(manager: string, operation: 'Apply' | 'Update', subresource?: string): string {
  return JSON.stringify([manager, operation, subresource ?? '']);
}

/** The names of the managers of an object, e.g. `palisade (Apply, status)`. */
export function describeManagers(managers: Managers): string[] {
  return [...managers.keys()].map((k) => {
    const [name, operation, sub] = JSON.parse(k) as string[];
    return `${name} (${operation}${sub ? `, ${sub}` : ''})`;
  });
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ownable(path: FieldPath): boolean {
  const [top, second] = path;
  if (top === 'apiVersion' || top === 'kind') return false;
  return !(top === 'metadata' && second !== undefined && SERVER_METADATA.has(second));
}

/** The leaf fields of `value` that `scope` lets a manager own. */
export function fieldsOf(value: unknown, scope: Scope): FieldPath[] {
  const out: FieldPath[] = [];
  const walk = (v: unknown, path: string[]) => {
    if (isObject(v) && Object.keys(v).length > 0) {
      for (const [k, c] of Object.entries(v)) if (c !== undefined) walk(c, [...path, k]);
    } else if (path.length > 0 && ownable(path) && scope(path)) out.push(path);
  };
  walk(value, []);
  return out;
}

export function valueAt(obj: unknown, path: FieldPath): unknown {
  let v = obj;
  for (const k of path) {
    if (!isObject(v)) return undefined;
    v = v[k];
  }
  return v;
}

function setAt(obj: Obj, path: FieldPath, value: unknown): void {
  let v = obj;
  for (const k of path.slice(0, -1)) {
    if (!isObject(v[k])) v[k] = {};
    v = v[k] as Obj;
  }
  v[path[path.length - 1] as string] = value;
}

/** Removes the field and the objects it leaves empty. */
function removeAt(obj: Obj, path: FieldPath): void {
  const parents: Obj[] = [obj];
  for (const k of path.slice(0, -1)) {
    const next = parents[parents.length - 1]?.[k];
    if (!isObject(next)) return;
    parents.push(next);
  }
  for (let i = path.length - 1; i >= 0; i--) {
    const parent = parents[i] as Obj;
    delete parent[path[i] as string];
    if (i === 0 || Object.keys(parent).length > 0) return;
  }
}

/**
 * A forced server-side apply of `config` by manager `key` onto `live` (undefined: the object is being
 * created). Returns the merged object and the new ownership.
 */
export function applyFields(
  live: Obj | undefined,
  config: Obj,
  managers: Managers,
  key: string,
  scope: Scope,
): { object: Obj; managers: Managers } {
  const object = structuredClone(live ?? {});
  const applied = new Set(fieldsOf(config, scope).map((p) => JSON.stringify(p)));
  for (const p of managers.get(key) ?? []) {
    if (applied.has(p) || ownedByAnother(managers, key, p)) continue;
    removeAt(object, JSON.parse(p) as string[]);
  }
  for (const p of applied) {
    const path = JSON.parse(p) as string[];
    const value = valueAt(config, path);
    // An empty object in a config claims the map, not its absence: what others put in it stays.
    if (isObject(value) && isObject(valueAt(object, path))) continue;
    setAt(object, path, structuredClone(value));
  }
  const next = new Map(keptOwners(managers, live, object));
  if (applied.size) next.set(key, applied);
  else next.delete(key);
  return { object, managers: next };
}

/** Ownership after an update or patch by manager `key` turned `before` into `after`. */
export function updateFields(
  before: Obj | undefined,
  after: Obj,
  managers: Managers,
  key: string,
  scope: Scope,
): Managers {
  const next = new Map(keptOwners(managers, before, after));
  const changed = fieldsOf(after, scope)
    .filter((p) => !isDeepStrictEqual(valueAt(before, p), valueAt(after, p)))
    .map((p) => JSON.stringify(p));
  if (changed.length) next.set(key, new Set([...(next.get(key) ?? []), ...changed]));
  return next;
}

export function sameManagers(a: Managers, b: Managers): boolean {
  if (a.size !== b.size) return false;
  for (const [k, set] of a) {
    const other = b.get(k);
    if (!other || other.size !== set.size || [...set].some((p) => !other.has(p))) return false;
  }
  return true;
}

function ownedByAnother(managers: Managers, key: string, field: string): boolean {
  for (const [k, set] of managers) if (k !== key && set.has(field)) return true;
  return false;
}

/** Each manager keeps the fields still present with the value they had: a changed field is lost. */
function keptOwners(managers: Managers, before: unknown, after: unknown): Map<string, ReadonlySet<string>> {
  const next = new Map<string, ReadonlySet<string>>();
  for (const [k, set] of managers) {
    const kept = [...set].filter((p) => {
      const path = JSON.parse(p) as string[];
      const now = valueAt(after, path);
      return now !== undefined && isDeepStrictEqual(valueAt(before, path), now);
    });
    if (kept.length) next.set(k, new Set(kept));
  }
  return next;
}
