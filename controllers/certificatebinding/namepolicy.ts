/**
 * Which DNS names the internal CA signs for a binding in a given namespace. Pure: the caller says who
 * owns which namespace, from the cluster-scoped Tenants (never from labels or annotations in a tenant
 * namespace, which a tenant editor may write).
 *
 * The rules, first match wins (docs/certificates.md, "Which names a binding may carry"):
 *
 * 1. A binding in Palisade's own namespace may carry any name: whoever can write there can read the CA.
 * 2. The Kubernetes API server's names (`kubernetes`, `kubernetes.default[.svc[.cluster.local]]`) and
 *    every service name in Palisade's namespace are refused.
 * 3. A service name of a namespace another Tenant owns is refused, whatever an allow list says.
 * 4. A service name of the binding's own namespace (`<svc>.<ns>`, `<svc>.<ns>.svc`,
 *    `<svc>.<ns>.svc.cluster.local`, also deeper, e.g. a StatefulSet pod `<pod>.<svc>.<ns>.svc`, and
 *    `*.` wildcards of these) is allowed.
 * 5. In a tenant namespace, a name the Tenant's `spec.certificates.allowedDNSNames` covers is allowed.
 * 6. Anything else is refused. NB: single-label names (`events`, `localhost`) among them: a short name
 *    means a different service in every namespace, so a certificate for it would be trusted by every
 *    other namespace's clients dialling their own `events`.
 */
import { TENANT_NAMESPACE_PREFIX, type Tenant } from '../../crds/v1alpha1/index.ts';

/** The cluster DNS domain service names end in (`<svc>.<ns>.svc.<domain>`). */
export const CLUSTER_DOMAIN = 'cluster.local';

/** The Tenant that owns a namespace, as the cluster-scoped Tenant objects say. */
export interface TenantClaim {
  tenant: string;
  allowedDNSNames: readonly string[];
}

export interface NamePolicy {
  /** The binding's namespace. */
  namespace: string;
  operatorNamespace: string;
  /**
   * The owner of `namespace`: a Tenant, `contested` when several Tenants claim it (their allow lists
   * are then ignored), or undefined for a namespace no Tenant owns.
   */
  owner: TenantClaim | 'contested' | undefined;
  /** The Tenant owning any namespace, for rule 3. */
  tenantOf(namespace: string): string | undefined;
  clusterDomain?: string;
}

export type NameVerdict = { allowed: true } | { allowed: false; why: string };

/** How a name reads inside the cluster. */
export type NameKind =
  | { kind: 'single' }
  | { kind: 'service'; namespace: string; first: string }
  | { kind: 'cluster' }
  | { kind: 'external' };

/**
 * `a.b` resolves (through the pod's DNS search path) to service `a` in namespace `b`; `….b.svc` and
 * `….b.svc.<domain>` name something in namespace `b`. Other names under the cluster domain are `cluster`.
 */
export function kindOf(name: string, clusterDomain = CLUSTER_DOMAIN): NameKind {
  const n = name.toLowerCase().replace(/\.$/, '');
  const labels = n.split('.');
  if (labels.length === 1) return { kind: 'single' };
  const inDomain = n === clusterDomain || n.endsWith(`.${clusterDomain}`);
  const local = inDomain ? n.slice(0, Math.max(0, n.length - clusterDomain.length - 1)) : n;
  const l = local ? local.split('.') : [];
  if (l.length >= 3 && l[l.length - 1] === 'svc') {
    return { kind: 'service', namespace: l[l.length - 2] as string, first: l[0] as string };
  }
  if (inDomain) return { kind: 'cluster' };
  if (labels.length === 2)
    return { kind: 'service', namespace: labels[1] as string, first: labels[0] as string };
  return { kind: 'external' };
}

/** The namespaces whose service names appear among `names` (to find the bindings a Tenant change affects). */
export function namedNamespaces(names: readonly string[], clusterDomain = CLUSTER_DOMAIN): string[] {
  const out = new Set<string>();
  for (const n of names) {
    const k = kindOf(n, clusterDomain);
    if (k.kind === 'service') out.add(k.namespace);
  }
  return [...out];
}

/**
 * Whether allow-list entry `pattern` covers `name`: equal, or `*.<domain>` for any name below `<domain>`
 * at any depth (a wildcard request `*.x.<domain>` included), but not `<domain>` itself.
 */
export function allowedBy(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase();
  if (p === n) return true;
  return p.startsWith('*.') && n.endsWith(p.slice(1)) && n.length > p.length - 1;
}

const quoted = (n: string) => `"${n}"`;

/** The verdict on one name (rules in the module comment). */
export function judgeName(name: string, p: NamePolicy): NameVerdict {
  if (p.namespace === p.operatorNamespace) return { allowed: true };
  const domain = p.clusterDomain ?? CLUSTER_DOMAIN;
  const k = kindOf(name, domain);
  const refuse = (why: string): NameVerdict => ({ allowed: false, why: `${quoted(name)} ${why}` });
  const apiServer =
    (k.kind === 'single' && name.toLowerCase() === 'kubernetes') ||
    (k.kind === 'service' && k.namespace === 'default' && (k.first === 'kubernetes' || k.first === '*'));
  if (apiServer) return refuse("names the Kubernetes API server: only Palisade's namespace may hold it");
  if (k.kind === 'service' && k.namespace === p.operatorNamespace) {
    return refuse(
      `is a service name in Palisade's namespace ${p.operatorNamespace}: only bindings there may hold it`,
    );
  }
  const other = k.kind === 'service' && k.namespace !== p.namespace ? p.tenantOf(k.namespace) : undefined;
  if (k.kind === 'service' && other !== undefined) {
    return refuse(`is a service name of namespace ${k.namespace}, which belongs to Tenant ${other}`);
  }
  if (k.kind === 'service' && k.namespace === p.namespace) return { allowed: true };
  const owner = p.owner;
  if (typeof owner === 'object' && owner.allowedDNSNames.some((a) => allowedBy(a, name))) {
    return { allowed: true };
  }
  if (k.kind === 'single') {
    return refuse(
      `is a single-label name, which means a different service in every namespace: use ${name}.${p.namespace}.svc`,
    );
  }
  const what =
    k.kind === 'service'
      ? `is a service name of namespace ${k.namespace}, not of ${p.namespace}`
      : k.kind === 'cluster'
        ? `is under the cluster domain ${domain} but is not a service name of namespace ${p.namespace}`
        : `is not a service name of namespace ${p.namespace}`;
  if (owner === undefined) {
    return refuse(
      `${what}; namespace ${p.namespace} belongs to no Tenant, so bindings there get only its own service names`,
    );
  }
  if (owner === 'contested') {
    return refuse(`${what}; several Tenants claim namespace ${p.namespace}, so no allow list applies`);
  }
  return refuse(`${what}, and Tenant ${owner.tenant}'s spec.certificates.allowedDNSNames does not allow it`);
}

/** The refused names among `names`, each with why, in the order given. */
export function refusedNames(names: readonly string[], p: NamePolicy): { name: string; why: string }[] {
  const out: { name: string; why: string }[] = [];
  for (const name of names) {
    const v = judgeName(name, p);
    if (!v.allowed) out.push({ name, why: v.why });
  }
  return out;
}

/** A condition message for refused names: the first three in full, then how many more. */
export function refusalMessage(refused: readonly { name: string; why: string }[]): string {
  const shown = refused.slice(0, 3).map((r) => r.why);
  const more = refused.length > 3 ? `; and ${refused.length - 3} more name(s)` : '';
  return `the internal CA does not sign ${refused.length === 1 ? 'this name' : 'these names'} here: ${shown.join('; ')}${more}`;
}

/**
 * The namespace a Tenant owns, from the cluster-scoped Tenant alone: `status.namespace` (what Palisade
 * recorded), else `spec.namespace`, else `tenant-<name>`. NB: never from namespace labels.
 */
export function tenantNamespaceOf(t: Tenant): string {
  return t.status?.namespace ?? t.spec.namespace ?? `${TENANT_NAMESPACE_PREFIX}${t.metadata.name}`;
}

/**
 * The owner of `namespace` among the Tenants that claim it: the only one, or the only one whose status
 * confirms it; `contested` when that leaves none or several.
 */
export function claimOf(namespace: string, claimants: readonly Tenant[]): NamePolicy['owner'] {
  if (claimants.length === 0) return undefined;
  const pick =
    claimants.length === 1 ? claimants : claimants.filter((t) => t.status?.namespace === namespace);
  const [t] = pick;
  if (pick.length !== 1 || !t) return 'contested';
  return { tenant: t.metadata.name, allowedDNSNames: t.spec.certificates?.allowedDNSNames ?? [] };
}
