/**
 * What the in-memory API server knows about each kind: whether it is a custom resource (generation,
 * resourceVersion required on update, list items keep apiVersion and kind), whether it has a status
 * subresource, and the server's own defaults. Palisade's CRDs come from crds/v1alpha1, so their schema
 * defaults are filled in and unknown fields pruned as by the real server; CEL and OpenAPI *validation*
 * are not modelled (crds/crds.int.test.ts proves those against the real one).
 */
import type { JSONSchemaProps } from '../../../crds/schema/schema.ts';
import { ALL_CRDS } from '../../../crds/v1alpha1/index.ts';
import { resourceFor, type ResourceType } from '../kube/resources.ts';
import type { KubeObject } from '../kube/types.ts';

export interface KindTraits {
  type: ResourceType;
  /** A custom resource: generation is kept, update needs a resourceVersion, list items keep their kind. */
  custom: boolean;
  /** Main-resource writes leave status alone; `/status` writes change only status. */
  statusSubresource: boolean;
  /** The CRD's structural schema, for defaults and pruning. */
  schema?: JSONSchemaProps;
}

const CUSTOM = new Map<string, JSONSchemaProps | undefined>([
  ...ALL_CRDS.map((c) => [c.spec.names.kind, c.spec.versions[0]?.schema.openAPIV3Schema] as const),
  // cert-manager's: its schema is not in this repository.
  ['Certificate', undefined],
]);

export function traitsOf(kind: string): KindTraits {
  const type = resourceFor(kind);
  const custom = CUSTOM.has(kind);
  const schema = CUSTOM.get(kind);
  return { type, custom, statusSubresource: custom || kind === 'Namespace', ...(schema ? { schema } : {}) };
}

/** `configmaps` or `tenantkeys.palisade.dev`: how the server names a resource in messages. */
export function qualifiedResource(t: ResourceType): string {
  const slash = t.apiVersion.indexOf('/');
  return slash < 0 ? t.plural : `${t.plural}.${t.apiVersion.slice(0, slash)}`;
}

/** `Secret` or `TenantKey.palisade.dev`: how the server names a kind in validation messages. */
export function qualifiedKind(t: ResourceType): string {
  const slash = t.apiVersion.indexOf('/');
  return slash < 0 ? t.kind : `${t.kind}.${t.apiVersion.slice(0, slash)}`;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What the server does to every object it stores: schema defaults and pruning for custom resources,
 * `stringData` folded into `data` and `type: Opaque` for Secrets, the name label of a Namespace, and
 * empty metadata maps and lists dropped (they are `omitempty`). Changes `obj` in place.
 */
export function normalize(obj: KubeObject, t: KindTraits): void {
  const o = obj as unknown as Obj;
  if (t.schema) structural(o, t.schema, true);
  if (t.type.kind === 'Secret') {
    const stringData = o.stringData as Record<string, string> | undefined;
    if (stringData) {
      const data = { ...(o.data as Record<string, string> | undefined) };
      for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(v).toString('base64');
      o.data = data;
      delete o.stringData;
    }
    o.type ??= 'Opaque';
  }
  if (t.type.kind === 'Namespace')
    obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name };
  if (!t.custom) for (const k of ['data', 'binaryData']) if (isEmpty(o[k])) delete o[k];
  const meta = obj.metadata as unknown as Obj;
  for (const k of ['labels', 'annotations', 'finalizers', 'ownerReferences'])
    if (isEmpty(meta[k])) delete meta[k];
}

/** What the server fills in when it creates an object (beyond {@link normalize}). */
export function createDefaults(obj: KubeObject, t: KindTraits): void {
  if (t.type.kind !== 'Namespace') return;
  const o = obj as unknown as Obj;
  o.spec = { finalizers: ['kubernetes'] };
  o.status = { phase: 'Active' };
}

function isEmpty(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** Structural defaulting and pruning (apiextensions-apiserver): metadata, apiVersion and kind are kept. */
function structural(value: unknown, schema: JSONSchemaProps, root = false): void {
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) structural(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  const props = schema.properties;
  if (props) {
    for (const [k, s] of Object.entries(props)) {
      if (root && (k === 'metadata' || k === 'apiVersion' || k === 'kind')) continue;
      if (value[k] === undefined && s.default !== undefined) value[k] = structuredClone(s.default);
      if (value[k] !== undefined) structural(value[k], s);
    }
  }
  if (schema.additionalProperties)
    for (const v of Object.values(value)) structural(v, schema.additionalProperties);
  if (schema['x-kubernetes-preserve-unknown-fields'] || schema.additionalProperties || !props) return;
  for (const k of Object.keys(value)) {
    if (root && (k === 'metadata' || k === 'apiVersion' || k === 'kind')) continue;
    if (!(k in props)) delete value[k];
  }
}
