/**
 * The Kubernetes API as the operator uses it: the verbs of {@link KubeClient}, as an interface, so code
 * that only reads and writes objects can be given the in-memory server of controllers/runtime/testing
 * instead. Everything here is the apiserver's contract (controllers/runtime/testing/contract/ runs the
 * same cases against both); nothing here knows about HTTP or credentials.
 */
import type { KubeObject, ObjectList } from './types.ts';

/** One object's coordinates; `namespace` is absent for cluster-scoped kinds. */
export interface ObjectRef {
  kind: string;
  name: string;
  namespace?: string;
}

export interface DeleteOptions {
  /** A precondition: 409 Conflict when the object now has another UID (deleted and re-created meanwhile). */
  uid?: string;
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
}

export interface KubeApi {
  /** The server-side apply field manager every write of this client is made as. */
  readonly fieldManager: string;
  /** The object, or undefined on 404. */
  get<T extends KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  list<T extends KubeObject>(
    kind: string,
    opts?: { namespace?: string; labelSelector?: string },
  ): Promise<ObjectList<T>>;
  /** Create-only: fails with 409 AlreadyExists rather than touching an existing object. */
  create<T extends KubeObject>(obj: T): Promise<T>;
  /**
   * Server-side apply (forced) of the fields in `obj`, owned by the field manager; on `/status` only
   * status changes. `metadata.resourceVersion`, when set, is a precondition (409 Conflict).
   */
  apply<T extends KubeObject>(obj: KubeObject, opts?: { subresource?: 'status' }): Promise<T>;
  /** Replaces the object; `metadata.resourceVersion` makes it fail with 409 Conflict if it changed meanwhile. */
  update<T extends KubeObject>(obj: T): Promise<T>;
  /** A JSON patch (RFC 6902); a failed `test` operation fails the whole patch with 422 Invalid. */
  jsonPatch<T extends KubeObject>(ref: ObjectRef, ops: readonly object[]): Promise<T>;
  /**
   * Deletes (or, while finalizers remain, marks for deletion); an object already gone is not an error.
   * Resolves to false when it was already gone (404), so a caller can tell that someone else deleted it.
   */
  delete(ref: ObjectRef, opts?: DeleteOptions): Promise<boolean>;
}
