/** What the contract's cases share: the target they run against, object builders, and a poll. */
import { API_VERSION, type TenantKey, type TenantKeySpec } from '../../../../crds/v1alpha1/index.ts';
import type { ObjectCache } from '../../informer.ts';
import type { KubeApi, ObjectRef } from '../../kube/api.ts';
import type { ConfigMap, KubeObject, ObjectMeta, OwnerReference, Secret } from '../../kube/types.ts';

export interface ContractTarget {
  /** A client whose writes are made as `fieldManager`. */
  client(fieldManager: string): KubeApi;
  /** An informer (not yet started) over the target. */
  cache<T extends KubeObject>(opts: {
    kind: string;
    namespace?: string;
    labelSelector?: string;
  }): ObjectCache<T>;
  /** A namespace that exists, for one case alone. */
  namespace: string;
  /** How long garbage collection, namespace deletion and watches may take to be seen. */
  settleMs: number;
}

/** One case: a sentence for `it`, and the body. */
export type Cases = Record<string, (t: ContractTarget) => Promise<void>>;

export const MANAGER = 'palisade-contract';
export const CONFLICT = { code: 409, reason: 'Conflict' };
export const INVALID = { code: 422, reason: 'Invalid' };
export const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
export const SPEC: TenantKeySpec = {
  algorithm: 'XChaCha20-Poly1305',
  retainedVersions: 3,
  rotationTrigger: 'one',
};

/** Fields of an object besides its name and namespace. */
export type Extra<T extends KubeObject> = Omit<Partial<T>, 'metadata'> & { metadata?: Partial<ObjectMeta> };

export function configMap(namespace: string, name: string, extra: Extra<ConfigMap> = {}): ConfigMap {
  const { metadata, ...rest } = extra;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...metadata }, ...rest };
}

export function secret(namespace: string, name: string, extra: Extra<Secret> = {}): Secret {
  const { metadata, ...rest } = extra;
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, ...metadata }, ...rest };
}

export function tenantKey(
  namespace: string,
  name: string,
  spec: Partial<TenantKeySpec> = {},
  finalizers?: string[],
) {
  return {
    apiVersion: API_VERSION,
    kind: 'TenantKey',
    metadata: { name, namespace, ...(finalizers ? { finalizers } : {}) },
    spec: { ...SPEC, ...spec },
  } as TenantKey;
}

/** A `/status` apply as writeStatus makes it: name, namespace, the resourceVersion read, and status. */
export function statusApply(
  obj: TenantKey,
  status: TenantKey['status'],
  resourceVersion = obj.metadata.resourceVersion,
) {
  const { name, namespace } = obj.metadata;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name, namespace, resourceVersion },
    status,
  };
}

export function refOf(obj: KubeObject): ObjectRef {
  return { kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace };
}

export function ownerRef(owner: KubeObject): OwnerReference {
  const { apiVersion, kind } = owner;
  return {
    apiVersion,
    kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? '',
    blockOwnerDeletion: true,
  };
}

/** Retries `check` until it passes or `ms` have gone by (then its last failure is the test's). */
export async function eventually(check: () => Promise<void> | void, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
