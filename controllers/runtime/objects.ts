import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { KubeApi } from './kube/api.ts';
import type { KubeObject, OwnerReference, Secret } from './kube/types.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'palisade';
export const TENANT_LABEL = 'palisade.dev/tenant';
export const TENANT_UID_LABEL = 'palisade.dev/tenant-uid';
export const COMPONENT_LABEL = 'palisade.dev/component';

/** An owner reference making `owner` the controller of a child (garbage collection follows it). */
export function controllerRef(owner: KubeObject): OwnerReference {
  if (!owner.metadata.uid) throw new Error(`${owner.kind} ${owner.metadata.name} has no uid yet`);
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === owner.metadata.uid);
}

/** JSON round trip: drops `undefined` so a desired value compares equal to what the server returns. */
export function normalized<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** What this process last wrote as an object's status, until its cache shows the write. */
interface WrittenStatus {
  /** The resourceVersion the status was computed from (the cache's, then). */
  from: string;
  /** A digest of the status's JSON, not a copy: one entry per object written, for every kind. */
  digest: string;
}

function digestOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64');
}
/**
 * The memo matters only until the cache shows the write (milliseconds to seconds), so it is kept short:
 * a forgotten entry costs at most one write refused as stale (409, requeued), while one entry per object
 * ever written cost about 200 bytes per object held for good (two per tenant).
 */
const MAX_WRITTEN = 1_024;
const written = new WeakMap<KubeApi, Map<string, WrittenStatus>>();

/** Whether `status` differs from the status `obj` has (what {@link writeStatus} would write). */
export function statusDiffers<S>(obj: KubeObject & { status?: S }, status: S): boolean {
  return !isDeepStrictEqual(normalized(obj.status), normalized(status));
}

/**
 * Writes `status` with server-side apply on the `/status` subresource — once per reconcile, and not at
 * all when it equals what the object already has, so a converged object costs no writes. Nor when this
 * process already wrote exactly this status over the very version the cache still holds: the cache has
 * not caught up with our own write yet (two events for one object a few milliseconds apart, say).
 * Returns whether a write happened.
 */
export async function writeStatus<S>(
  client: KubeApi,
  obj: KubeObject & { status?: S },
  status: S,
): Promise<boolean> {
  if (!statusDiffers(obj, status)) return false;
  const digest = digestOf(status);
  let memo = written.get(client);
  if (!memo) written.set(client, (memo = new Map()));
  const id = obj.metadata.uid ?? `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  const last = memo.get(id);
  if (last && last.from === obj.metadata.resourceVersion && last.digest === digest) return false;
  await client.apply(
    {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: {
        name: obj.metadata.name,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        // NB: a precondition: status computed from a stale cached object is refused (409), not written
        // over a newer one; the controller requeues the key without counting an error.
        ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
      },
      status,
    } as KubeObject,
    { subresource: 'status' },
  );
  if (obj.metadata.resourceVersion) {
    memo.delete(id);
    if (memo.size >= MAX_WRITTEN) memo.delete(memo.keys().next().value as string);
    memo.set(id, { from: obj.metadata.resourceVersion, digest });
  }
  return true;
}

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(finalizer);
}

/**
 * Adds a finalizer; conditional on the resourceVersion read, so it never overwrites someone else's change.
 * Returns the object to go on with: `obj` itself, or (after the patch) `obj` with the new resourceVersion,
 * so a later status write's precondition is not refused because of this very patch.
 */
export async function addFinalizer<T extends KubeObject>(
  client: KubeApi,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  const ops = [
    { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
    obj.metadata.finalizers
      ? { op: 'add', path: '/metadata/finalizers/-', value: finalizer }
      : { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
  ];
  const patched = await client.jsonPatch<KubeObject>(refOf(obj), ops);
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      finalizers: patched.metadata.finalizers,
      resourceVersion: patched.metadata.resourceVersion,
    },
  };
}

/**
 * Removes only our finalizer, by index guarded with a `test` of its value: other controllers' finalizers
 * are never dropped, and a concurrent change makes the patch fail (and the reconcile retry) instead.
 */
export async function removeFinalizer(client: KubeApi, obj: KubeObject, finalizer: string): Promise<void> {
  const i = (obj.metadata.finalizers ?? []).indexOf(finalizer);
  if (i < 0) return;
  await client.jsonPatch(refOf(obj), [
    { op: 'test', path: `/metadata/finalizers/${i}`, value: finalizer },
    { op: 'remove', path: `/metadata/finalizers/${i}` },
  ]);
}

export function refOf(obj: KubeObject): { kind: string; name: string; namespace?: string } {
  return {
    kind: obj.kind,
    name: obj.metadata.name,
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
  };
}

/** A time as RFC 3339 with whole seconds, as Kubernetes writes timestamps. */
export function isoSeconds(t: Date | number): string {
  return new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** A Secret entry as UTF-8 text, or undefined when the Secret has no such entry. */
export function secretString(secret: Secret, key: string): string | undefined {
  const v = secret.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}
