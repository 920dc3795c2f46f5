/**
 * JSON Patch (RFC 6902) over plain JSON values: add, remove, replace, move, copy and test, with JSON
 * Pointers (RFC 6901, `~0`/`~1` escapes, `-` for the end of an array). The patch is atomic: it works on a
 * copy and throws {@link JsonPatchError} at the first operation that cannot be applied.
 */
import { isDeepStrictEqual } from 'node:util';

export class JsonPatchError extends Error {
  override name = 'JsonPatchError';
}

type Json = unknown;
type Container = { [key: string]: Json } | Json[];

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

/** `doc` with `ops` applied; `doc` itself is not changed. */
export function applyJsonPatch<T>(doc: T, ops: readonly object[]): T {
  let result: Json = structuredClone(doc);
  for (const raw of ops) {
    const op = raw as Operation;
    if (typeof op.path !== 'string') throw new JsonPatchError(`operation ${op.op} has no path`);
    switch (op.op) {
      case 'add':
        result = add(result, op.path, structuredClone(required(op)));
        break;
      case 'remove':
        result = remove(result, op.path);
        break;
      case 'replace':
        result =
          op.path === ''
            ? structuredClone(required(op))
            : add(remove(result, op.path), op.path, structuredClone(required(op)));
        break;
      case 'move': {
        const value = valueAt(result, from(op));
        result = add(remove(result, from(op)), op.path, value);
        break;
      }
      case 'copy':
        result = add(result, op.path, structuredClone(valueAt(result, from(op))));
        break;
      case 'test':
        if (!isDeepStrictEqual(valueAt(result, op.path), op.value))
          throw new JsonPatchError(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw new JsonPatchError(`unknown operation ${JSON.stringify(op.op)}`);
    }
  }
  return result as T;
}

function required(op: Operation): Json {
  if (!('value' in op)) throw new JsonPatchError(`operation ${op.op} ${op.path} has no value`);
  return op.value;
}

function from(op: Operation): string {
  if (typeof op.from !== 'string') throw new JsonPatchError(`operation ${op.op} ${op.path} has no from`);
  return op.from;
}

function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`${pointer} is not a JSON pointer`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function isContainer(v: Json): v is Container {
  return typeof v === 'object' && v !== null;
}

function child(parent: Json, token: string, pointer: string): Json {
  if (Array.isArray(parent)) {
    const i = index(parent, token, pointer, false);
    return parent[i];
  }
  if (isContainer(parent) && Object.hasOwn(parent, token)) return (parent as Record<string, Json>)[token];
  throw new JsonPatchError(`${pointer} does not exist`);
}

function valueAt(doc: Json, pointer: string): Json {
  return tokens(pointer).reduce((v, t) => child(v, t, pointer), doc);
}

/** The container holding the last token of `pointer`, and that token. */
function parentOf(doc: Json, pointer: string): { parent: Container; last: string } {
  const path = tokens(pointer);
  const last = path.pop() as string;
  const parent = path.reduce((v, t) => child(v, t, pointer), doc);
  if (!isContainer(parent)) throw new JsonPatchError(`the parent of ${pointer} is not an object or array`);
  return { parent, last };
}

function index(array: Json[], token: string, pointer: string, inserting: boolean): number {
  if (inserting && token === '-') return array.length;
  const i = /^(0|[1-9]\d*)$/.test(token) ? Number(token) : -1;
  if (i < 0 || i > array.length || (!inserting && i === array.length))
    throw new JsonPatchError(`${pointer}: index out of range`);
  return i;
}

function add(doc: Json, pointer: string, value: Json): Json {
  if (pointer === '') return value;
  const { parent, last } = parentOf(doc, pointer);
  if (Array.isArray(parent)) parent.splice(index(parent, last, pointer, true), 0, value);
  else parent[last] = value;
  return doc;
}

function remove(doc: Json, pointer: string): Json {
  if (pointer === '') throw new JsonPatchError('cannot remove the whole document');
  const { parent, last } = parentOf(doc, pointer);
  if (Array.isArray(parent)) parent.splice(index(parent, last, pointer, false), 1);
  else if (Object.hasOwn(parent, last)) delete parent[last];
  else throw new JsonPatchError(`${pointer} does not exist`);
  return doc;
}
