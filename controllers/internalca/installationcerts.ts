/**
 * Certificates the internal CA issues to Palisade's own servers outside any CertificateBinding (today
 * nats-server's, Secret `palisade-nats-tls`). Each lives in one Secret of the operator's namespace,
 * labelled `palisade.dev/installation-certificate=true`, with its SANs in annotations: the keeper renews
 * it from what the Secret says, without knowing who asked for it.
 *
 * It is renewed once two thirds of its life have passed, reissued when its names change or another CA
 * issues (after a rotation), and only `ca.crt` is rewritten when just the bundle changed. Like every
 * leaf it carries `palisade.dev/ca-id`, so a rotated-out CA stays in the bundle until it moved too.
 *
 * NB: writes are conditional: create-only, then updates on the resourceVersion read. A Secret an earlier
 * release created immutable keeps its data until it must change (labels and annotations may change on an
 * immutable Secret); then it is replaced: deleted on its uid, created anew.
 */
import type { X509Certificate } from 'node:crypto';
import { dnsNamesOf, issueLeaf, type RandomSource } from '../pki/index.ts';
import { describeError } from '../runtime/errors.ts';
import { labelled, type Informer, type ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import { CA_ID_LABEL, readLeaf } from './leaf.ts';
import {
  bundleOf,
  CA_BUNDLE_CONFIGMAP,
  caSecretsIn,
  caVersions,
  createdAt,
  DEFAULT_CA_OVERLAP_MS,
  issuingCA,
  servingCA,
  listCAVersions,
  type CAVersion,
} from './ca.ts';

export const INSTALLATION_CERT_LABEL = 'palisade.dev/installation-certificate';
export const DNS_NAMES_ANNOTATION = 'palisade.dev/dns-names';
export const IP_ADDRESSES_ANNOTATION = 'palisade.dev/ip-addresses';
export const INSTALLATION_CERT_LIFETIME_MS = 365 * 24 * 3_600_000;
/** Renewed once this fraction of its validity has passed (cert-manager's default). */
export const INSTALLATION_CERT_RENEW_AT = 2 / 3;
/** Backdated so a server whose clock is slightly behind still accepts its own certificate. */
const BACKDATE_MS = 3_600_000;
const MAX_REQUEUE_MS = 24 * 3_600_000;

/** What an installation certificate is for: its Secret and its SANs. */
export interface InstallationCertSpec {
  name: string;
  /** The Secret's `palisade.dev/component` label. */
  component: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

export type InstallationCertPlan =
  { action: 'keep' } | { action: 'metadata' } | { action: 'bundle' } | { action: 'issue'; why: string };

const list = (v: string | undefined) => (v ? v.split(',').filter(Boolean) : []);

/** The spec a Secret records, or undefined when it records no DNS names. */
export function specOf(s: Secret): InstallationCertSpec | undefined {
  const a = s.metadata.annotations ?? {};
  const dnsNames = list(a[DNS_NAMES_ANNOTATION]);
  if (!dnsNames.length) return undefined;
  return {
    name: s.metadata.name,
    component: s.metadata.labels?.[COMPONENT_LABEL] ?? 'installation-certificate',
    dnsNames,
    ipAddresses: list(a[IP_ADDRESSES_ANNOTATION]),
  };
}

export function renewalAt(cert: X509Certificate): Date {
  const from = cert.validFromDate.getTime();
  return new Date(from + (cert.validToDate.getTime() - from) * INSTALLATION_CERT_RENEW_AT);
}

function sameNames(cert: X509Certificate, spec: InstallationCertSpec): boolean {
  const sorted = (a: readonly string[]) => JSON.stringify([...new Set(a.map((n) => n.toLowerCase()))].sort());
  const ipCount = (cert.subjectAltName?.match(/IP Address:/g) ?? []).length;
  return (
    sorted(dnsNamesOf(cert)) === sorted(spec.dnsNames) &&
    ipCount === spec.ipAddresses.length &&
    spec.ipAddresses.every((ip) => cert.checkIP(ip) !== undefined)
  );
}

function desiredMetadata(namespace: string, spec: InstallationCertSpec, ca: CAVersion) {
  return {
    name: spec.name,
    namespace,
    labels: {
      [MANAGED_BY_LABEL]: MANAGED_BY,
      [COMPONENT_LABEL]: spec.component,
      [INSTALLATION_CERT_LABEL]: 'true',
      [CA_ID_LABEL]: ca.keyId,
    },
    annotations: {
      [DNS_NAMES_ANNOTATION]: spec.dnsNames.join(','),
      [IP_ADDRESSES_ANNOTATION]: spec.ipAddresses.join(','),
    },
  };
}

function metadataCurrent(s: Secret, spec: InstallationCertSpec, ca: CAVersion): boolean {
  const want = desiredMetadata(s.metadata.namespace ?? '', spec, ca);
  const has = (have: Record<string, string> | undefined, w: Record<string, string>) =>
    Object.entries(w).every(([k, v]) => have?.[k] === v);
  return has(s.metadata.labels, want.labels) && has(s.metadata.annotations, want.annotations);
}

/** What to do with the stored Secret so it holds a current certificate from `ca`. Pure. */
export function installationCertPlan(
  spec: InstallationCertSpec,
  secret: Secret | undefined,
  ca: CAVersion,
  bundle: string,
  now: Date,
): InstallationCertPlan {
  if (!secret) return { action: 'issue', why: 'no certificate yet' };
  const stored = readLeaf(secret);
  const cert = stored.cert;
  if (!cert || !stored.keyMatches) {
    return { action: 'issue', why: 'the stored certificate or key is unreadable' };
  }
  if (!sameNames(cert, spec)) return { action: 'issue', why: 'its names changed' };
  if (!cert.checkIssued(ca.cert) || !cert.verify(ca.cert.publicKey)) {
    return { action: 'issue', why: `the internal CA was rotated: ${ca.name} issues now` };
  }
  if (now >= renewalAt(cert)) return { action: 'issue', why: 'renewal is due' };
  if (stored.bundle !== bundle) {
    return secret.immutable ? { action: 'issue', why: 'the CA bundle changed' } : { action: 'bundle' };
  }
  return metadataCurrent(secret, spec, ca) ? { action: 'keep' } : { action: 'metadata' };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export function installationCertSecret(
  namespace: string,
  spec: InstallationCertSpec,
  ca: CAVersion,
  bundle: string,
  pem: { certPem: string; keyPem: string },
): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: desiredMetadata(namespace, spec, ca),
    type: 'Opaque',
    data: { 'tls.crt': b64(pem.certPem), 'tls.key': b64(pem.keyPem), 'ca.crt': b64(bundle) },
  };
}

export interface InstallationCertDeps {
  client: KubeClient;
  namespace: string;
  rand: RandomSource;
  now(): Date;
  log: Logger;
  audit: AuditLog;
  /** How long after a CA rotation the servers keep the older CA (`servingCA`; default {@link DEFAULT_CA_OVERLAP_MS}). */
  overlapMs?: number;
}

/** Brings one installation certificate in line with its plan; returns the Secret as it now is. */
export async function ensureInstallationCert(
  d: InstallationCertDeps,
  spec: InstallationCertSpec,
  existing: Secret | undefined,
  ca: CAVersion,
  bundle: string,
): Promise<Secret> {
  const plan = installationCertPlan(spec, existing, ca, bundle, d.now());
  if (plan.action === 'keep' && existing) return existing;
  if (plan.action !== 'issue' && existing) {
    const meta = desiredMetadata(d.namespace, spec, ca);
    return d.client.update<Secret>({
      ...existing,
      metadata: {
        ...existing.metadata,
        labels: { ...existing.metadata.labels, ...meta.labels },
        annotations: { ...existing.metadata.annotations, ...meta.annotations },
      },
      ...(plan.action === 'bundle' ? { data: { ...existing.data, 'ca.crt': b64(bundle) } } : {}),
    });
  }
  return issue(d, spec, existing, ca, bundle, plan.action === 'issue' ? plan.why : 'no certificate yet');
}

async function issue(
  d: InstallationCertDeps,
  spec: InstallationCertSpec,
  existing: Secret | undefined,
  ca: CAVersion,
  bundle: string,
  why: string,
): Promise<Secret> {
  const now = d.now().getTime();
  const pem = await issueLeaf({
    ca: ca.pair,
    dnsNames: spec.dnsNames,
    ipAddresses: spec.ipAddresses,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(now + INSTALLATION_CERT_LIFETIME_MS, ca.cert.validToDate.getTime())),
    rand: d.rand,
  });
  const desired = installationCertSecret(d.namespace, spec, ca, bundle, pem);
  const resource = { kind: 'Secret', name: spec.name, namespace: d.namespace };
  let written: Secret;
  try {
    if (!existing) written = await d.client.create(desired);
    else if (existing.immutable) {
      // NB: an immutable Secret's data cannot change. A crash between these two writes leaves no Secret;
      // the next reconcile (or start) issues a fresh one.
      await d.client.delete(resource, { ...(existing.metadata.uid ? { uid: existing.metadata.uid } : {}) });
      written = await d.client.create(desired);
    } else {
      written = await d.client.update({
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: existing.metadata.resourceVersion },
      });
    }
  } catch (e) {
    d.audit.record({
      action: 'certificate.issue',
      outcome: 'Failure',
      resource,
      keyId: ca.keyId,
      reason: describeError(e),
    });
    throw e;
  }
  d.log.info('issued installation certificate', { secret: spec.name, ca: ca.name, why });
  d.audit.record({ action: 'certificate.issue', outcome: 'Success', resource, keyId: ca.keyId, reason: why });
  return written;
}

/**
 * At start-up, before the keeper runs: the certificate `spec` describes, read and written live. The
 * bundle is the one `ensureInternalCA` has just published, derived from the CA versions.
 */
export async function ensureInstallationCertNow(
  d: InstallationCertDeps,
  spec: InstallationCertSpec,
): Promise<Secret> {
  const versions = await listCAVersions(d);
  const bundle = bundleOf(versions);
  const ca = servingCA(versions, bundle, d.now(), d.overlapMs ?? DEFAULT_CA_OVERLAP_MS);
  if (!ca) throw new Error(`the internal CA does not exist yet; Secret ${spec.name} waits for it`);
  const existing = await d.client.get<Secret>({ kind: 'Secret', name: spec.name, namespace: d.namespace });
  return ensureInstallationCert(d, spec, existing, ca, bundle);
}

/**
 * The keeper: every labelled installation certificate in the operator's namespace, from the caches.
 * Returns when the next renewal is due.
 */
export async function reconcileInstallationCerts(
  d: InstallationCertDeps & { secrets: ObjectCache<Secret>; bundles: Informer<ConfigMap> },
): Promise<{ requeueAfterMs?: number }> {
  const bundle = d.bundles.get(CA_BUNDLE_CONFIGMAP, d.namespace)?.data?.['ca.crt'];
  const versions = caVersions(caSecretsIn(d.secrets, d.namespace), d.namespace);
  const overlapMs = d.overlapMs ?? DEFAULT_CA_OVERLAP_MS;
  const ca = servingCA(versions, bundle, d.now(), overlapMs);
  if (!ca || !bundle) return {}; // the bundle's publication brings the keeper back
  let next = MAX_REQUEUE_MS;
  // NB: the servers move to a newer published CA once its overlap has passed: nothing else wakes us then.
  const newer = issuingCA(versions, bundle);
  if (newer && newer !== ca) next = Math.min(next, createdAt(newer) + overlapMs - d.now().getTime());
  for (const s of labelled(d.secrets, d.namespace, INSTALLATION_CERT_LABEL, 'true')) {
    const spec = specOf(s);
    if (!spec) {
      d.log.warn('installation certificate without its names; not renewed', { secret: s.metadata.name });
      continue;
    }
    const current = await ensureInstallationCert(d, spec, s, ca, bundle);
    const cert = readLeaf(current).cert;
    if (cert) next = Math.min(next, renewalAt(cert).getTime() - d.now().getTime());
  }
  return { requeueAfterMs: Math.max(1000, next) };
}
