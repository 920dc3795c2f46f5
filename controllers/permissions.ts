/**
 * Every Kubernetes API permission the operator uses, with the reason. The chart's RBAC is generated from
 * this list (`node hack/gen-rbac.ts`), and an integration test runs the operator under exactly those
 * permissions and checks that it needs each one and nothing more.
 */
export interface Permission {
  apiGroup: string;
  resource: string;
  verbs: readonly string[];
  /**
   * `operator`: only in the operator's own namespace (a Role); `cluster`: everywhere (a ClusterRole);
   * `namespace`: in each namespace Palisade manages (a ClusterRole bound by a RoleBinding per tenant
   * namespace, which Palisade creates, and per namespace in the chart's certificateNamespaces).
   */
  scope: 'cluster' | 'operator' | 'namespace';
  /** Only these objects; {@link NAMESPACE_ROLE} stands for the `namespace` scope's ClusterRole. */
  resourceNames?: readonly string[];
  why: string;
}

/** Placeholder for the name of the ClusterRole holding the `namespace`-scope permissions. */
export const NAMESPACE_ROLE = '<namespace-role>';

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
    apiGroup: 'palisade.dev',
    resource: 'keyaccesspolicies',
    verbs: ['list', 'watch'],
    scope: 'cluster',
    why: 'the key service authorizes every call by the KeyAccessPolicies (read on every replica)',
  },
  {
    apiGroup: 'palisade.dev',
    resource: 'keyaccesspolicies/status',
    verbs: ['patch'],
    scope: 'cluster',
    why: 'write KeyAccessPolicy status (server-side apply)',
  },
  {
    apiGroup: 'authentication.k8s.io',
    resource: 'tokenreviews',
    verbs: ['create'],
    scope: 'cluster',
    why: "authenticate the key service's callers: a ServiceAccount token is checked by the API server (with the key service's audience); verdicts are cached for seconds",
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
    scope: 'operator',
    why: 'the installation keys and the keystore (wrapped tenant keys, account seeds, tenant and agent records, revocation lists): key material created create-only, records replaced only by resourceVersion-guarded updates, labelled when retained and old root versions marked retiring (JSON patch), the NATS server configuration applied, deleted after a verified rewrap or on an explicit destroy. The informer selects only Palisade-labelled Secrets',
  },
  {
    apiGroup: '',
    resource: 'secrets',
    verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'],
    scope: 'namespace',
    why: 'in tenant namespaces only (and certificateNamespaces): delivered agent credentials and internal leaf certificates (created, replaced by resourceVersion-guarded updates), pairing codes shown once (created, deleted when used up or expired), imported and cert-manager certificates read; Secrets of the layout before the keystore deleted once moved. The informers select only Palisade-labelled Secrets (and palisade.dev/watch=true imports)',
  },
  {
    apiGroup: 'rbac.authorization.k8s.io',
    resource: 'rolebindings',
    verbs: ['create', 'patch', 'delete'],
    scope: 'cluster',
    why: 'bind the namespace-scope ClusterRole to the operator in each tenant namespace it makes (server-side apply), unbind when a Tenant is deleted with Retain. The keystore guard admits only that one binding, in namespaces a Tenant holds',
  },
  {
    apiGroup: 'rbac.authorization.k8s.io',
    resource: 'clusterroles',
    verbs: ['bind'],
    resourceNames: [NAMESPACE_ROLE],
    scope: 'cluster',
    why: 'the RoleBindings above may reference this one ClusterRole (Secrets only) and no other',
  },
  {
    apiGroup: 'cert-manager.io',
    resource: 'certificates',
    verbs: ['list', 'watch', 'create', 'patch'],
    scope: 'cluster',
    why: 'create (server-side apply) and watch the cert-manager Certificates of certManager bindings',
  },
  {
    apiGroup: 'cert-manager.io',
    resource: 'certificaterequests',
    verbs: ['list'],
    scope: 'cluster',
    why: "quote cert-manager's reason (a missing or unready issuer, an unapproved request) in a waiting certManager binding: a live list by the binding's label, only while its Certificate is not Ready; never cached",
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
