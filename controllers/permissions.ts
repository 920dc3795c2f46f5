/**
 * Every Kubernetes API permission the operator uses, with the reason. The chart's RBAC is generated from
 * this list (`node hack/gen-rbac.ts`), and an integration test runs the operator under exactly those
 * permissions and checks that it needs each one and nothing more.
 */
export interface Permission {
  apiGroup: string;
  resource: string;
  verbs: readonly string[];
  /** `operator`: only in the operator's own namespace (a Role); `cluster`: everywhere (a ClusterRole). */
  scope: 'cluster' | 'operator';
  why: string;
}

export const permissions: readonly Permission[] = [
  {
    apiGroup: 'palisade.dev',
    resource: 'tenants',
    verbs: ['list', 'watch', 'patch'],
    scope: 'cluster',
    why: 'reconcile Tenants; add and remove the deletion finalizer (JSON patch)',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'tenants/status',
    verbs: ['patch'],
    scope: 'cluster',
    why: 'write Tenant status (server-side apply)',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'tenantkeys',
    verbs: ['list', 'watch', 'create', 'patch'],
    scope: 'cluster',
    why: 'reconcile TenantKeys; apply the primary key of each Tenant; the deletion finalizer',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'tenantkeys/status',
    verbs: ['patch'],
    scope: 'cluster',
    why: 'write TenantKey status (server-side apply)',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'clusteragents',
    verbs: ['list', 'watch', 'patch'],
    scope: 'cluster',
    why: 'reconcile ClusterAgents; the revocation finalizer',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'clusteragents/status',
    verbs: ['patch'],
    scope: 'cluster',
    why: 'write ClusterAgent status: credentials, heartbeats (server-side apply)',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'certificatebindings',
    verbs: ['list', 'watch'],
    scope: 'cluster',
    why: 'reconcile CertificateBindings',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'certificatebindings/status',
    verbs: ['patch'],
    scope: 'cluster',
    why: 'write CertificateBinding status (server-side apply)',
  },
  {
    apiGroup: '',
    resource: 'namespaces',
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    scope: 'cluster',
    why: 'create and label tenant namespaces (server-side apply); look up a namespace before claiming it; delete it under deletionPolicy Delete',
  },
  {
    apiGroup: '',
    resource: 'secrets',
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
    scope: 'cluster',
    why: 'wrapped key material, NATS credentials and leaf certificates in tenant namespaces: created create-only, replaced only by resourceVersion-guarded updates (credentials, leaves), labelled when retained, deleted after a verified rewrap or on request. The informers select only Palisade-labelled Secrets (and palisade.dev/watch=true imports)',
  },
  {
    apiGroup: 'cert-manager.io',
    resource: 'certificates',
    verbs: ['list', 'watch', 'create', 'patch'],
    scope: 'cluster',
    why: 'create (server-side apply) and watch the cert-manager Certificates of certManager bindings',
  },
  {
    apiGroup: '',
    resource: 'configmaps',
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
    scope: 'operator',
    why: 'publish the JWKS and the internal CA bundle (server-side apply); watch the CA bundle; the installation record palisade-installation: read live, created create-only, new root versions added by resourceVersion-guarded updates',
  },
  {
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['get', 'create', 'update'],
    scope: 'operator',
    why: 'leader election',
  },
  {
    apiGroup: 'events.k8s.io',
    resource: 'events',
    verbs: ['create'],
    scope: 'cluster',
    why: 'Events about the objects Palisade manages',
  },
];
