/**
 * Authorization: deny by default. A call is allowed only when some KeyAccessPolicy names the caller among
 * its subjects, the tenant among its tenants, the key among its keys (or lists no keys) and the operation
 * among its operations. Pure: the policies come from the informer's cache, indexed by subject so a call
 * looks at the caller's policies only.
 */
import type { KeyAccessPolicy, KeyOperation, KeySubject } from '../../crds/v1alpha1/index.ts';

/** Who called, as authenticated (auth.ts). Never taken from the request body or metadata claims. */
export type Identity =
  | { kind: 'ServiceAccount'; namespace: string; name: string }
  | { kind: 'Certificate'; dnsNames: readonly string[]; fingerprint: string };

/** The identity as the audit log and error messages show it. */
export function identityName(id: Identity): string {
  return id.kind === 'ServiceAccount'
    ? `system:serviceaccount:${id.namespace}:${id.name}`
    : `x509:${id.dnsNames.join(',') || id.fingerprint}`;
}

export const POLICY_SUBJECT_INDEX = 'keyservice-subject';

/** Index keys of a subject: what {@link subjectKeys} of a matching identity includes. */
function subjectKey(s: KeySubject): string | undefined {
  if (s.serviceAccount) return `sa/${s.serviceAccount.namespace}/${s.serviceAccount.name}`;
  if (s.certificate) return `dns/${s.certificate.dnsName.toLowerCase()}`;
  return undefined;
}

/** The index function for the policy informer: one entry per subject. */
export function policySubjects(p: KeyAccessPolicy): string[] {
  return [...new Set((p.spec?.subjects ?? []).map(subjectKey).filter((k): k is string => !!k))];
}

/** The index keys an identity is found under. */
export function subjectKeys(id: Identity): string[] {
  return id.kind === 'ServiceAccount'
    ? [`sa/${id.namespace}/${id.name}`]
    : id.dnsNames.map((n) => `dns/${n.toLowerCase()}`);
}

export interface AccessRequest {
  tenant: string;
  /** The TenantKey, for the operations on one; absent for those on the installation keys. */
  key?: string;
  operation: KeyOperation;
}

/** The name of the first policy (by name) that allows `req` to a caller with these policies, if any. */
export function allowedBy(policies: readonly KeyAccessPolicy[], req: AccessRequest): string | undefined {
  const allows = (p: KeyAccessPolicy) =>
    !p.metadata.deletionTimestamp &&
    p.spec.tenants.includes(req.tenant) &&
    (req.key === undefined || !p.spec.keys?.length || p.spec.keys.includes(req.key)) &&
    p.spec.operations.includes(req.operation);
  return [...policies].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).find(allows)?.metadata
    .name;
}
