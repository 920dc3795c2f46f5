/**
 * The resource kinds Palisade talks to, with their REST coordinates. Listing them explicitly avoids a
 * discovery round trip per call and makes the operator's API surface (and so its RBAC) easy to read.
 */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const resources = {
  Namespace: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  Secret: { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  ConfigMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  Lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  Event: { apiVersion: 'events.k8s.io/v1', kind: 'Event', plural: 'events', namespaced: true },
  Tenant: { apiVersion: 'palisade.dev/v1alpha1', kind: 'Tenant', plural: 'tenants', namespaced: false },
  TenantKey: {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'TenantKey',
    plural: 'tenantkeys',
    namespaced: true,
  },
  ClusterAgent: {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ClusterAgent',
    plural: 'clusteragents',
    namespaced: true,
  },
  CertificateBinding: {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'CertificateBinding',
    plural: 'certificatebindings',
    namespaced: true,
  },
  Certificate: {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    plural: 'certificates',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

export type KindName = keyof typeof resources;

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
