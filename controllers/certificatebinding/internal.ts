/**
 * The `internal` source: RSA-2048 leaves from Palisade's internal CA in the binding's `secretName`
 * (kubernetes.io/tls, with the CA bundle as ca.crt), owned by the binding and renewed before expiry. A leaf
 * never outlives the CA that signs it: one asked to ends with the CA, and status says so ({@link lifetimeCut}).
 *
 * NB: a leaf is written create-only the first time; later it is replaced with a conditional update
 * (resourceVersion precondition), so two racing writers cannot both win and a crash leaves the old or
 * the new certificate, never half of each.
 */
import type { X509Certificate } from 'node:crypto';
import type { CertificateBinding, Tenant } from '../../crds/v1alpha1/index.ts';
import { factsOf, issueLeaf, parseCertificates, type CertificateFacts } from '../pki/index.ts';
import { describeError } from '../runtime/errors.ts';
import { findCondition } from '../runtime/conditions.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import {
  COMPONENT_LABEL,
  controllerRef,
  isControlledBy,
  MANAGED_BY,
  MANAGED_BY_LABEL,
} from '../runtime/objects.ts';
import { BINDING_LABEL, BindingCondition, BindingReason, CA_ID_LABEL, LEAF_COMPONENT } from './conditions.ts';
import { CA_BUNDLE_CONFIGMAP, caSecretsIn, caVersions, issuingCA, type CAVersion } from '../internalca/ca.ts';
import { claimOf, refusalMessage, refusedNames, type NamePolicy } from './namepolicy.ts';
import type { BindingDeps } from './deps.ts';
import { readLeaf, type StoredLeaf } from '../internalca/leaf.ts';
import { parseDuration } from '../../crds/v1alpha1/index.ts';
import { humanDuration, type Observation } from './status.ts';
import { iso } from './validate.ts';

export { readLeaf };

/** Leaves are backdated this much, for clocks slightly behind the operator's. */
export const BACKDATE_MS = 60_000;
const CA_WAIT_MS = 5_000;
const CONFLICT_RECHECK_MS = 60_000;
/** Index of the Tenant informer: the namespace each Tenant owns (namepolicy.ts `tenantNamespaceOf`). */
export const TENANT_NAMESPACE_INDEX = 'certificatebinding.tenant-namespace';

/** The name policy for a binding in `namespace`, from the cluster-scoped Tenants. */
export function namePolicyFor(
  tenants: ObjectCache<Tenant>,
  namespace: string,
  operatorNamespace: string,
): NamePolicy {
  const claimants = (ns: string) =>
    tenants
      .byIndex(TENANT_NAMESPACE_INDEX, ns)
      .map((k) => tenants.get(k))
      .filter((t): t is Tenant => !!t);
  return {
    namespace,
    operatorNamespace,
    owner: claimOf(namespace, claimants(namespace)),
    tenantOf: (ns) => {
      const names = claimants(ns).map((t) => t.metadata.name);
      return names.length ? names.sort().join(', ') : undefined;
    },
  };
}

export type LeafPlan = { action: 'keep' } | { action: 'bundle' } | { action: 'issue'; why: string };

export function renewalTimeOf(b: CertificateBinding, facts: CertificateFacts): Date {
  const spec = b.spec.internal as NonNullable<CertificateBinding['spec']['internal']>;
  return new Date(facts.notAfter.getTime() - parseDuration(spec.renewBefore));
}

/**
 * Why the leaf is shorter than asked, when the issuing CA's own expiry cut it: a CA cannot sign past its
 * validity, so a leaf asked to outlive it ends with it. Undefined when the leaf has the lifetime
 * spec.internal.duration asks (or is shorter for another reason, such as a duration lengthened since).
 */
export function lifetimeCut(
  b: CertificateBinding,
  facts: CertificateFacts,
  caNotAfter: Date,
): string | undefined {
  const spec = b.spec.internal as NonNullable<CertificateBinding['spec']['internal']>;
  const short =
    parseDuration(spec.duration) - (facts.notAfter.getTime() - facts.notBefore.getTime() - BACKDATE_MS);
  if (short < 60_000 || Math.abs(facts.notAfter.getTime() - caNotAfter.getTime()) >= 1000) return undefined;
  return `it ends with the internal CA at ${iso(facts.notAfter)}, ${humanDuration(short)} short of spec.internal.duration (${spec.duration}): a CA cannot sign past its own validity; the CA's successor (rotation at 80% of its life, or on request) reissues it`;
}

/** Whether the stored leaf can stay, needs only a fresh CA bundle, or must be reissued (and why). Pure. */
export function leafPlan(
  b: CertificateBinding,
  stored: StoredLeaf | undefined,
  ca: { keyId: string; bundle: string },
  now: Date,
): LeafPlan {
  const spec = b.spec.internal as NonNullable<CertificateBinding['spec']['internal']>;
  if (!stored) return { action: 'issue', why: 'no certificate yet' };
  const f = stored.facts;
  if (!f || !stored.keyMatches)
    return { action: 'issue', why: 'the stored certificate or key is unreadable' };
  const want = [...new Set(spec.dnsNames.map((n) => n.toLowerCase()))].sort();
  if (JSON.stringify([...new Set(f.dnsNames)].sort()) !== JSON.stringify(want)) {
    return { action: 'issue', why: 'spec.internal.dnsNames changed' };
  }
  if (stored.caId !== ca.keyId) return { action: 'issue', why: 'the internal CA was rotated' };
  if (now >= renewalTimeOf(b, f)) return { action: 'issue', why: 'renewal is due' };
  const lifetime = f.notAfter.getTime() - f.notBefore.getTime();
  if (lifetime > parseDuration(spec.duration) + BACKDATE_MS + 60_000) {
    return { action: 'issue', why: 'spec.internal.duration was shortened' };
  }
  return stored.bundle === ca.bundle ? { action: 'keep' } : { action: 'bundle' };
}

export function leafSecret(
  b: CertificateBinding,
  ca: CAVersion,
  bundle: string,
  pem: { certPem: string; keyPem: string },
): Secret {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: b.spec.secretName as string,
      namespace: b.metadata.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [COMPONENT_LABEL]: LEAF_COMPONENT,
        [BINDING_LABEL]: b.metadata.name,
        [CA_ID_LABEL]: ca.keyId,
      },
      ownerReferences: [controllerRef(b)],
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(pem.certPem), 'tls.key': b64(pem.keyPem), 'ca.crt': b64(bundle) },
  };
}

/** Issues, renews or refreshes the leaf as needed; reports the certificate in use. */
export async function reconcileInternal(d: BindingDeps, b: CertificateBinding): Promise<Observation> {
  const secretName = b.spec.secretName as string;
  const ns = b.metadata.namespace as string;
  const base = { source: 'Internal' as const, secretName };
  const spec = b.spec.internal as NonNullable<CertificateBinding['spec']['internal']>;
  const refused = refusedNames(spec.dnsNames, namePolicyFor(d.tenants, ns, d.operatorNamespace));
  if (refused.length) return refuseNames(d, b, refusalMessage(refused));
  const versions = caVersions(caSecretsIn(d.secrets, d.operatorNamespace), d.operatorNamespace);
  const bundle = d.bundles.get(CA_BUNDLE_CONFIGMAP, d.operatorNamespace)?.data?.['ca.crt'];
  const ca = issuingCA(versions, bundle);
  if (!ca || !bundle) {
    const message = `the internal CA in namespace ${d.operatorNamespace} is not ready yet`;
    return {
      ...base,
      concern: { status: 'False', reason: BindingReason.CANotReady, message },
      requeueAfterMs: CA_WAIT_MS,
    };
  }
  const existing =
    d.secrets.get(secretName, ns) ??
    (await d.client.get<Secret>({ kind: 'Secret', name: secretName, namespace: ns }));
  if (existing && !isControlledBy(existing, b)) {
    const message = `Secret ${ns}/${secretName} exists and is not managed by this binding: delete it or choose another spec.secretName`;
    return {
      ...base,
      concern: { status: 'False', reason: BindingReason.SecretConflict, message },
      requeueAfterMs: CONFLICT_RECHECK_MS,
    };
  }
  const stored = existing ? readLeaf(existing) : undefined;
  const plan = leafPlan(b, stored, { keyId: ca.keyId, bundle }, d.env.now());
  // NB: leafPlan keeps or refreshes only a leaf it could read, so facts exist on every path.
  let facts = stored?.facts as CertificateFacts;
  if (plan.action === 'issue') facts = await issue(d, b, ca, bundle, existing, plan.why);
  else if (plan.action === 'bundle' && existing) await refreshBundle(d, existing, bundle);
  const renewal = renewalTimeOf(b, facts);
  const cut = lifetimeCut(b, facts, ca.cert.validToDate);
  return {
    ...base,
    concern: {
      status: 'True',
      reason: BindingReason.Issued,
      message: `issued by the internal CA (${ca.name}); renews at ${iso(renewal)}${cut ? `; ${cut}` : ''}`,
    },
    facts,
    renewalTime: renewal,
    requeueAfterMs: Math.max(1000, renewal.getTime() - d.env.now().getTime()),
  };
}

async function issue(
  d: BindingDeps,
  b: CertificateBinding,
  ca: CAVersion,
  bundle: string,
  existing: Secret | undefined,
  why: string,
): Promise<CertificateFacts> {
  const spec = b.spec.internal as NonNullable<CertificateBinding['spec']['internal']>;
  const now = d.env.now().getTime();
  const notAfter = Math.min(now + parseDuration(spec.duration), ca.cert.validToDate.getTime());
  const pem = await issueLeaf({
    ca: ca.pair,
    dnsNames: spec.dnsNames,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(notAfter),
    rand: d.env.rand,
  });
  const secret = leafSecret(b, ca, bundle, pem);
  const resource = {
    kind: 'CertificateBinding',
    name: b.metadata.name,
    namespace: b.metadata.namespace,
    uid: b.metadata.uid,
  };
  try {
    if (existing)
      await d.client.update({
        ...secret,
        metadata: { ...secret.metadata, resourceVersion: existing.metadata.resourceVersion },
      });
    else await d.client.create(secret);
  } catch (e) {
    d.audit.record({
      action: 'certificate.issue',
      outcome: 'Failure',
      resource,
      keyId: ca.keyId,
      reason: describeError(e),
    });
    // A Conflict or AlreadyExists means someone wrote the Secret meanwhile: retry from the fresh one.
    throw e;
  }
  const [cert] = parseCertificates(pem.certPem);
  const facts = factsOf(cert as X509Certificate);
  d.audit.record({ action: 'certificate.issue', outcome: 'Success', resource, keyId: ca.keyId, reason: why });
  const cut = lifetimeCut(b, facts, ca.cert.validToDate);
  d.events.record(
    b,
    'Normal',
    BindingReason.Issued,
    'Issue',
    `issued certificate serial ${facts.serialNumber} for ${spec.dnsNames.join(', ')}, valid until ${iso(facts.notAfter)} (${why})${cut ? `; ${cut}` : ''}`,
  );
  return facts;
}

/**
 * Refused names: nothing is issued or renewed, and nothing written. A leaf issued before the names became
 * refused stays as it is (its facts in status) until it expires.
 */
async function refuseNames(d: BindingDeps, b: CertificateBinding, why: string): Promise<Observation> {
  const secretName = b.spec.secretName as string;
  const ns = b.metadata.namespace as string;
  const existing =
    d.secrets.get(secretName, ns) ??
    (await d.client.get<Secret>({ kind: 'Secret', name: secretName, namespace: ns }));
  const facts = existing && isControlledBy(existing, b) ? readLeaf(existing).facts : undefined;
  const message = facts
    ? `${why}. The certificate issued earlier (serial ${facts.serialNumber}) stays in Secret ${secretName} and is not renewed; it expires at ${iso(facts.notAfter)}`
    : `${why}. Nothing was issued`;
  const before = findCondition(b.status?.conditions, BindingCondition.CertificateReady);
  if (before?.message !== message) {
    d.audit.record({
      action: 'certificate.issue',
      outcome: 'Failure',
      resource: { kind: 'CertificateBinding', name: b.metadata.name, namespace: ns, uid: b.metadata.uid },
      reason: message,
    });
  }
  return {
    source: 'Internal',
    secretName,
    concern: { status: 'False', reason: BindingReason.NameNotAllowed, message },
    ...(facts ? { facts } : {}),
  };
}

async function refreshBundle(d: BindingDeps, existing: Secret, bundle: string): Promise<void> {
  await d.client.update({
    ...existing,
    data: { ...existing.data, 'ca.crt': Buffer.from(bundle).toString('base64') },
  });
}
