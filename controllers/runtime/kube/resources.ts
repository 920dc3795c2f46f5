/**
 * The resource kinds Palisade talks to, with their REST coordinates. Listing them explicitly avoids a
 * discovery round trip per call and makes the operator's API surface (and so its RBAC) easy to read.
 */
import {
  CertificateBindingResource,
  ClusterAgentResource,
  KeyAccessPolicyResource,
  TenantKeyResource,
  TenantResource,
} from '../../../crds/v1alpha1/index.ts';
import type { ResourceInfo } from '../../../crds/v1alpha1/common.ts';

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

/** Palisade's own kinds, from the API package (one source for plural names and scope). */
function palisade<K extends string>(r: ResourceInfo<K>) {
  return {
    apiVersion: `${r.group}/${r.version}`,
    kind: r.kind,
    plural: r.plural,
    namespaced: r.scope === 'Namespaced',
  };
}

export const resources = {
  Namespace: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  Secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  ConfigMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  Lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  Event: { apiVersion: 'events.k8s.io/v1', kind: 'Event', plural: 'events', namespaced: true },
  RoleBinding: {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    plural: 'rolebindings',
    namespaced: true,
  },
  Tenant: palisade(TenantResource),
  TenantKey: palisade(TenantKeyResource),
  ClusterAgent: palisade(ClusterAgentResource),
  CertificateBinding: palisade(CertificateBindingResource),
  KeyAccessPolicy: palisade(KeyAccessPolicyResource),
  TokenReview: {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    plural: 'tokenreviews',
    namespaced: false,
  },
  Certificate: {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    plural: 'certificates',
    namespaced: true,
  },
  CertificateRequest: {
    apiVersion: 'cert-manager.io/v1',
    kind: 'CertificateRequest',
    plural: 'certificaterequests',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

export function resourceFor(kind: string): ResourceType {
  const r = (resources as Record<string, ResourceType>)[kind];
  if (!r) throw new Error(`unknown resource kind ${kind}`);
  return r;
}

/** The collection path (`/api/v1/namespaces/ns/secrets`), or the object path when `name` is given. */
export function resourcePath(
  type: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name ? `/${encodeURIComponent(name)}` : '';
  const sub = name && subresource ? `/${subresource}` : '';
  return `${base}${ns}/${type.plural}${obj}${sub}`;
}
