/**
 * What cert-manager says while a certManager binding waits. A Certificate's own conditions do not tell why
 * nothing is issued yet: until a request fails for good, cert-manager v1.11 reports only "Issuing
 * certificate as Secret does not exist" on it. The reason is on the CertificateRequest it made — a missing
 * issuer (`Referenced "ClusterIssuer" not found: clusterissuer.cert-manager.io "x" not found`), an issuer
 * that is not Ready, a request no approver approved. Palisade reads that request (a live list by the
 * binding's label, only while the Certificate is not Ready: no cache of CertificateRequests, which keep
 * their certificate and CSR) and quotes it. Pure: the listing is certmanager.ts's.
 *
 * NB: reading the request needs one permission (list certificaterequests); checking that the issuer exists
 * would need two (get issuers, get clusterissuers) and still say nothing about an issuer that is not Ready
 * or a request that is not approved.
 */
import type { ICertificateRequest } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import type { IssuerRef } from '../../crds/v1alpha1/index.ts';
import type { KubeObject } from '../runtime/kube/types.ts';
import { BindingReason } from './conditions.ts';
import type { Observation } from './status.ts';

/** A cert-manager CertificateRequest as Palisade reads it (metadata as the runtime knows it). */
export type CMCertificateRequest = Omit<ICertificateRequest, 'metadata'> & KubeObject;

/** cert-manager's annotation: the Certificate revision a request is for. */
export const REVISION_ANNOTATION = 'cert-manager.io/certificate-revision';

/**
 * The request cert-manager made last for the Certificate with `certificateUID`: its highest revision, the
 * newest on a tie. Requests of an earlier Certificate of the same name (deleted, re-created) do not count.
 */
export function currentRequest(
  requests: readonly CMCertificateRequest[],
  certificateUID: string | undefined,
): CMCertificateRequest | undefined {
  const revision = (r: CMCertificateRequest) =>
    Number(r.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
  const created = (r: CMCertificateRequest) => r.metadata.creationTimestamp ?? '';
  return requests
    .filter((r) => !!certificateUID && r.metadata.ownerReferences?.some((o) => o.uid === certificateUID))
    .sort((a, b) => revision(b) - revision(a) || created(b).localeCompare(created(a)))[0];
}

/** `ClusterIssuer x` or `Issuer ns/x`: the issuer as a person looks it up. */
export function issuerName(issuer: IssuerRef, namespace: string): string {
  return issuer.kind === 'ClusterIssuer'
    ? `ClusterIssuer ${issuer.name}`
    : `Issuer ${namespace}/${issuer.name}`;
}

const ISSUER_NOT_FOUND = /^Referenced "[A-Za-z]*" not found/;
const ISSUER_NOT_READY = /^Referenced issuer does not have a Ready status condition/;

/**
 * The binding's concern from the request cert-manager is working on, or undefined when it says nothing
 * yet (no request, or one without conditions). A failed or denied request is not judged here: the
 * Certificate's Issuing=False/Failed carries it (IssuanceFailed).
 */
export function requestConcern(
  cr: CMCertificateRequest | undefined,
  issuer: IssuerRef,
  namespace: string,
): Observation['concern'] | undefined {
  if (!cr) return undefined;
  const conditions = cr.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const approval = conditions.find((c) => c.type === 'Approved' || c.type === 'Denied');
  const quoted = `cert-manager's CertificateRequest ${cr.metadata.name}: ${ready?.message ?? ''}`;
  const who = issuerName(issuer, namespace);
  if (ready?.status === 'False' && ready.reason === 'Pending') {
    const said = ready.message ?? '';
    if (ISSUER_NOT_FOUND.test(said)) {
      return {
        status: 'False',
        reason: BindingReason.IssuerNotFound,
        message: `${who} does not exist: create it, or point spec.certManager.issuerRef at an existing issuer (${quoted})`,
      };
    }
    if (ISSUER_NOT_READY.test(said)) {
      const describe = `kubectl describe ${issuer.kind.toLowerCase()} ${issuer.name}${issuer.kind === 'Issuer' ? ` -n ${namespace}` : ''}`;
      return {
        status: 'False',
        reason: BindingReason.IssuerNotReady,
        message: `${who} exists but is not Ready: see why with ${describe} (${quoted})`,
      };
    }
    return { status: 'False', reason: BindingReason.Pending, message: `waiting for ${quoted}` };
  }
  if (!ready && !approval) {
    return {
      status: 'False',
      reason: BindingReason.Pending,
      message: `waiting for cert-manager's CertificateRequest ${cr.metadata.name} to be approved (cert-manager approves requests to its own issuers itself, unless its approver is disabled; then an approver such as approver-policy must)`,
    };
  }
  return undefined;
}
