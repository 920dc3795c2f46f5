/**
 * What the in-memory API server checks and refuses, with the codes, reasons and messages of the real
 * server (the messages as kube-apiserver v1.34 words them; code and reason are what callers branch on).
 */
import { isDeepStrictEqual } from 'node:util';
import { ApiError } from '../kube/errors.ts';
import type { KubeObject } from '../kube/types.ts';
import { qualifiedKind, qualifiedResource, type KindTraits } from './kinds.ts';
import type { FieldPath, Scope } from './ownership.ts';
import type { Entry } from './store.ts';

type Obj = Record<string, unknown>;

/** The fields a main-resource or `/status` write may change. */
export function scope(t: KindTraits, subresource?: 'status'): Scope {
  if (subresource) return (p: FieldPath) => p[0] === 'status';
  if (t.statusSubresource) return (p: FieldPath) => p[0] !== 'status';
  return () => true;
}

export function precondition(t: KindTraits, entry: Entry, resourceVersion: string | undefined): void {
  if (resourceVersion && resourceVersion !== entry.object.metadata.resourceVersion)
    throw new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualifiedResource(t.type)} "${entry.object.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
}

/** Metadata only the server sets: an update or patch cannot change it. */
export const SYSTEM_METADATA = [
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
] as const;

export function systemMetadata(live: KubeObject): Partial<KubeObject['metadata']> {
  const m = asObj(live.metadata);
  const out: Obj = {};
  for (const k of SYSTEM_METADATA) if (m[k] !== undefined) out[k] = m[k];
  return out;
}

export function asObj(o: object): Obj {
  return o as unknown as Obj;
}

/** Refusals of the real server's update validation that the operator can run into. */
export function validateUpdate(t: KindTraits, live: KubeObject, next: KubeObject): void {
  const name = live.metadata.name;
  const before = asObj(live);
  const after = asObj(next);
  if ((t.type.kind === 'Secret' || t.type.kind === 'ConfigMap') && before.immutable === true) {
    if (after.immutable !== true)
      throw invalid(t, name, 'immutable: Forbidden: field is immutable when `immutable` is set');
    for (const field of ['data', 'binaryData'])
      if (!isDeepStrictEqual(before[field], after[field]))
        throw invalid(t, name, `${field}: Forbidden: field is immutable when \`immutable\` is set`);
  }
  if (t.type.kind === 'Secret' && before.type !== after.type)
    throw invalid(t, name, 'type: Invalid value: field is immutable');
  if (live.metadata.deletionTimestamp) {
    const added = (next.metadata.finalizers ?? []).filter((f) => !live.metadata.finalizers?.includes(f));
    if (added.length)
      throw invalid(
        t,
        name,
        `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
      );
  }
}

export function specChanged(live: KubeObject, next: KubeObject): boolean {
  const content = (o: KubeObject) => ({ ...asObj(o), metadata: undefined, status: undefined });
  return !isDeepStrictEqual(content(live), content(next));
}

export function notFound(t: KindTraits, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(t.type)} "${name}" not found`);
}

export function invalid(t: KindTraits, name: string, detail: string): ApiError {
  return new ApiError(422, 'Invalid', `${qualifiedKind(t.type)} "${name}" is invalid: ${detail}`);
}

export function alreadyExists(t: KindTraits, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(t.type)} "${name}" already exists`);
}

export function resourceVersionRequired(t: KindTraits, name: string): ApiError {
  const detail = 'metadata.resourceVersion: Invalid value: 0: must be specified for an update';
  return new ApiError(422, 'Invalid', `${qualifiedResource(t.type)} "${name}" is invalid: ${detail}`);
}

export function uidMismatch(t: KindTraits, entry: Entry, uid: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${t.type.kind} "${entry.object.metadata.name}": the UID in the precondition (${uid}) does not match the UID in record (${entry.object.metadata.uid}). The object might have been deleted and then recreated`,
  );
}

export function terminating(t: KindTraits, namespace: string, name: string): ApiError {
  return new ApiError(
    403,
    'Forbidden',
    `${qualifiedResource(t.type)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
  );
}

/** A JSON patch that cannot be applied (a failed `test` included): the real server says no more. */
export function patchRefused(cause: unknown): ApiError {
  return new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    cause,
  });
}
