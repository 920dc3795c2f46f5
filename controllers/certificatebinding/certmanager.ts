/**
 * The `certManager` source: Palisade server-side applies a cert-manager.io/v1 Certificate named like
 * the binding and controlled by it, and mirrors the Certificate's readiness and the issued
 * certificate's facts. cert-manager is asked (secretTemplate) to put Palisade's labels on the Secret it
 * writes, so the operator's labelled Secret informer sees it: no cluster-wide Secret cache. A Secret of
 * that name without those labels is someone else's: the Certificate is not applied (SecretConflict), as
 * cert-manager would overwrite it. While cert-manager works, its CertificateRequest says why
 * (certificaterequests.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import type { CertificateBinding, IssuerRef } from '../../crds/v1alpha1/index.ts';
import { factsOf, parseCertificates, type CertificateFacts } from '../pki/index.ts';
import { describeError } from '../runtime/errors.ts';
import type { Secret } from '../runtime/kube/types.ts';
import {
  COMPONENT_LABEL,
  controllerRef,
  isControlledBy,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  normalized,
} from '../runtime/objects.ts';
import { CERT_MANAGER_RECHECK_MS, type CMCertificate } from './certmanagerapi.ts';
import {
  currentRequest,
  issuerName,
  requestConcern,
  type CMCertificateRequest,
} from './certificaterequests.ts';
import { BINDING_LABEL, BindingReason, CERT_MANAGER_COMPONENT } from './conditions.ts';
import type { BindingDeps } from './deps.ts';
import type { Observation } from './status.ts';
import { secretText } from './validate.ts';

export type { CMCertificate } from './certmanagerapi.ts';

const CONFLICT_RECHECK_MS = 60_000;
/** While cert-manager works on a Certificate, how often its CertificateRequest is read again. */
export const REQUEST_RECHECK_MS = 30_000;

/** The Certificate Palisade wants for `b`. Pure. */
export function desiredCertificate(b: CertificateBinding): CMCertificate {
  const src = b.spec.certManager as NonNullable<CertificateBinding['spec']['certManager']>;
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY, [BINDING_LABEL]: b.metadata.name };
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: {
      name: b.metadata.name,
      namespace: b.metadata.namespace,
      labels,
      ownerReferences: [controllerRef(b)],
    },
    spec: {
      secretName: b.spec.secretName as string,
      dnsNames: src.dnsNames,
      issuerRef: { name: src.issuerRef.name, kind: src.issuerRef.kind, group: src.issuerRef.group },
      ...(src.duration ? { duration: src.duration } : {}),
      ...(src.renewBefore ? { renewBefore: src.renewBefore } : {}),
      privateKey: {
        algorithm: src.privateKey?.algorithm ?? 'RSA',
        ...(src.privateKey?.size ? { size: src.privateKey.size } : {}),
        // A fresh key at every renewal: a leaked key stops being useful at the next renewal.
        rotationPolicy: 'Always',
      },
      secretTemplate: { labels: { ...labels, [COMPONENT_LABEL]: CERT_MANAGER_COMPONENT } },
    },
  };
}

/** Whether every field Palisade sets is already so in `existing` (other fields are cert-manager's or defaults). */
export function certificateUpToDate(
  existing: CMCertificate,
  desired: CMCertificate,
  b: CertificateBinding,
): boolean {
  const labels = existing.metadata.labels ?? {};
  return (
    isControlledBy(existing, b) &&
    Object.entries(desired.metadata.labels ?? {}).every(([k, v]) => labels[k] === v) &&
    containsAll(existing.spec, normalized(desired.spec))
  );
}

function containsAll(actual: unknown, want: unknown): boolean {
  if (want === null || typeof want !== 'object' || Array.isArray(want))
    return isDeepStrictEqual(actual, want);
  if (actual === null || typeof actual !== 'object') return false;
  const a = actual as Record<string, unknown>;
  return Object.entries(want).every(([k, v]) => containsAll(a[k], v));
}

function conditionOf(c: CMCertificate | undefined, type: string) {
  return c?.status?.conditions?.find((x) => x.type === type);
}

/** Applies the Certificate when needed; reports its readiness and the certificate in its Secret. */
export async function observeCertManager(d: BindingDeps, b: CertificateBinding): Promise<Observation> {
  const src = b.spec.certManager as NonNullable<CertificateBinding['spec']['certManager']>;
  const ns = b.metadata.namespace as string;
  const secretName = b.spec.secretName as string;
  const base = { source: 'CertManager' as const, secretName };
  if (!d.certificates) {
    d.recheckCertManager();
    const message = `the cert-manager.io/v1 Certificate API is not served: install cert-manager; this binding proceeds once it is (checked every ${CERT_MANAGER_RECHECK_MS / 1000} s)`;
    return {
      ...base,
      concern: { status: 'False', reason: BindingReason.CertManagerNotInstalled, message },
      requeueAfterMs: CERT_MANAGER_RECHECK_MS,
    };
  }
  const existing = d.certificates.get(b.metadata.name, ns);
  if (existing && !isControlledBy(existing, b)) {
    const message = `Certificate ${ns}/${b.metadata.name} exists and is not owned by this binding: delete it or rename the binding`;
    return {
      ...base,
      concern: { status: 'False', reason: BindingReason.CertificateConflict, message },
      requeueAfterMs: CONFLICT_RECHECK_MS,
    };
  }
  // The informer has it once cert-manager applied the secretTemplate labels; anything else, one GET.
  const secret =
    d.secrets.get(secretName, ns) ??
    (await d.client.get<Secret>({ kind: 'Secret', name: secretName, namespace: ns }));
  if (secret && !isBindingSecret(secret, b)) {
    const message = `Secret ${ns}/${secretName} exists and is not this binding's (cert-manager would overwrite it): delete it or choose another spec.secretName`;
    return {
      ...base,
      concern: { status: 'False', reason: BindingReason.SecretConflict, message },
      requeueAfterMs: CONFLICT_RECHECK_MS,
    };
  }
  const desired = desiredCertificate(b);
  if (!existing || !certificateUpToDate(existing, desired, b)) {
    try {
      await d.client.apply(desired);
    } catch (e) {
      const message = `could not apply Certificate ${ns}/${b.metadata.name}: ${describeError(e)}`;
      return { ...base, concern: { status: 'False', reason: BindingReason.ApplyFailed, message }, retry: e };
    }
    if (!existing) {
      d.events.record(
        b,
        'Normal',
        'CertificateCreated',
        'Create',
        `created cert-manager Certificate ${b.metadata.name} (issuer ${src.issuerRef.kind}/${src.issuerRef.name})`,
      );
      d.audit.record({
        action: 'certificate.certmanager.apply',
        outcome: 'Success',
        resource: { kind: 'CertificateBinding', name: b.metadata.name, namespace: ns, uid: b.metadata.uid },
      });
    }
  }
  const facts = secret ? issuedFacts(secret) : undefined;
  const renewal = existing?.status?.renewalTime ? new Date(existing.status.renewalTime) : undefined;
  const waiting = existing && isWaiting(existing);
  let concern = readiness(existing, src.issuerRef, ns, facts);
  if (waiting) {
    try {
      concern = requestConcern(await currentRequestOf(d, b, existing), src.issuerRef, ns) ?? concern;
    } catch (e) {
      concern = {
        ...concern,
        message: `${concern.message}; its CertificateRequest could not be read: ${describeError(e)}`,
      };
    }
  }
  return {
    ...base,
    concern,
    ...(facts ? { facts } : {}),
    ...(renewal ? { renewalTime: renewal } : {}),
    // NB: nothing is watched on a CertificateRequest: look again while cert-manager is still working on it.
    ...(waiting ? { requeueAfterMs: REQUEST_RECHECK_MS } : {}),
  };
}

/**
 * Whether `secret` is the one cert-manager writes for this binding's Certificate: it carries the labels
 * Palisade asks cert-manager to put there (secretTemplate). Anything else by that name is someone else's.
 */
export function isBindingSecret(secret: Secret, b: CertificateBinding): boolean {
  const labels = secret.metadata.labels ?? {};
  return labels[MANAGED_BY_LABEL] === MANAGED_BY && labels[BINDING_LABEL] === b.metadata.name;
}

/** Not Ready, and not failed for good (IssuanceFailed says that): cert-manager is still at work. */
function isWaiting(c: CMCertificate): boolean {
  const issuing = conditionOf(c, 'Issuing');
  return (
    conditionOf(c, 'Ready')?.status !== 'True' &&
    !(issuing?.status === 'False' && issuing.reason === 'Failed')
  );
}

async function currentRequestOf(
  d: BindingDeps,
  b: CertificateBinding,
  c: CMCertificate,
): Promise<CMCertificateRequest | undefined> {
  const { items } = await d.client.list<CMCertificateRequest>('CertificateRequest', {
    namespace: b.metadata.namespace as string,
    labelSelector: `${BINDING_LABEL}=${b.metadata.name}`,
  });
  return currentRequest(items, c.metadata.uid);
}

function readiness(
  c: CMCertificate | undefined,
  issuer: IssuerRef,
  namespace: string,
  facts: CertificateFacts | undefined,
): Observation['concern'] {
  const ready = conditionOf(c, 'Ready');
  const issuing = conditionOf(c, 'Issuing');
  const said = (x: typeof ready) => (x ? `${x.reason ?? ''}: ${x.message ?? ''}` : 'no status yet');
  if (issuing?.status === 'False' && issuing.reason === 'Failed') {
    return {
      status: 'False',
      reason: BindingReason.IssuanceFailed,
      message: `cert-manager could not issue the certificate (${said(issuing)}); check ${issuerName(issuer, namespace)}`,
    };
  }
  if (ready?.status !== 'True') {
    return {
      status: 'False',
      reason: BindingReason.Pending,
      message: `waiting for cert-manager (${said(ready)})`,
    };
  }
  if (!facts)
    return {
      status: 'False',
      reason: BindingReason.Pending,
      message: 'cert-manager reports Ready; waiting to read the issued Secret',
    };
  return {
    status: 'True',
    reason: BindingReason.Issued,
    message: `issued by ${issuer.kind}/${issuer.name} through cert-manager`,
  };
}

function issuedFacts(secret: Secret): CertificateFacts | undefined {
  const crt = secretText(secret, 'tls.crt');
  if (!crt) return undefined;
  try {
    const [leaf] = parseCertificates(crt);
    return leaf ? factsOf(leaf) : undefined;
  } catch {
    return undefined;
  }
}
