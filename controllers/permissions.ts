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
    verbs: ['get', 'list', 'watch', 'patch'],
    scope: 'cluster',
    why: 'reconcile Tenants; add and remove the deletion finalizer',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'tenants/status',
    verbs: ['patch'],
    scope: 'cluster',
    why: 'write Tenant status (server-side apply)',
  },
  {
    apiGroup: '',
    resource: 'namespaces',
    verbs: ['get', 'list', 'watch', 'patch', 'delete'],
    scope: 'cluster',
    why: 'create (server-side apply) and label tenant namespaces; delete them under deletionPolicy Delete',
  },
  {
    apiGroup: '',
    resource: 'secrets',
    verbs: ['get', 'list', 'watch', 'create', 'update'],
    scope: 'cluster',
    why:
      'key material in tenant namespaces, created create-only; the informers select only Palisade-labelled Secrets ' +
      'and Secrets labelled palisade.dev/watch=true; imported certificates are read by name; internal leaf ' +
      'certificates are renewed with a conditional update',
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
    apiGroup: 'cert-manager.io',
    resource: 'certificates',
    verbs: ['list', 'watch', 'patch'],
    scope: 'cluster',
    why: 'create (server-side apply) and watch the cert-manager Certificates of certManager bindings',
  },
  {
    apiGroup: '',
    resource: 'configmaps',
    verbs: ['list', 'watch', 'patch'],
    scope: 'operator',
    why: 'publish the JWKS and the internal CA bundle (server-side apply); watch the CA bundle',
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
