/**
 * Palisade's internal CA: RSA-2048, one immutable Secret per version (`palisade-internal-ca-v<N>`) in
 * the operator's namespace, written create-only (two replicas racing for the same version cannot both
 * win), and the CA bundle every client should trust, published as the ConfigMap `palisade-ca-bundle`.
 *
 * Rotation adds version N+1 (on request, by annotating the active CA Secret `palisade.dev/rotate`, or
 * automatically once 80% of the CA's life is gone). Leaves are reissued by the new CA; Palisade's own
 * servers move to it after an overlap that lets paired agents learn it first (`servingCA`); the old CA
 * stays in the bundle until the overlap has passed and no leaf Secret holds a certificate it signed, and
 * is then marked `palisade.dev/retired` and dropped from the bundle.
 */
import { X509Certificate } from 'node:crypto';
import { createCA, keyIdOf, type IssuedPair, type RandomSource } from '../pki/index.ts';
import { createOrAdopt } from '../runtime/reconciler.ts';
import { labelled, type Informer, type ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { AuditLog, Logger } from '../runtime/log.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import { secretString as secretText } from '../runtime/objects.ts';

export const CA_COMPONENT = 'internal-ca';
export const CA_BUNDLE_COMPONENT = 'ca-bundle';
export const CA_BUNDLE_CONFIGMAP = 'palisade-ca-bundle';
export const CA_VERSION_LABEL = 'palisade.dev/version';
export const ROTATE_ANNOTATION = 'palisade.dev/rotate';
export const RETIRED_ANNOTATION = 'palisade.dev/retired';
export const CA_LIFETIME_MS = 10 * 365 * 24 * 3_600_000;
/**
 * How long after a CA rotation Palisade's servers keep presenting the older CA, and the older CA stays at
 * least: twice the agent certificate lifetime (agentchannel `DEFAULT_CERTIFICATE_LIFETIME_MS`, 24 h), so
 * every live agent has renewed, and learnt the new CA, before the servers move.
 */
export const DEFAULT_CA_OVERLAP_MS = 2 * 24 * 3_600_000;
/** Automatic rotation once this fraction of the CA's validity has passed. */
export const CA_ROTATE_AT = 0.8;

export interface CAVersion {
  version: number;
  name: string;
  secret: Secret;
  pair: IssuedPair;
  cert: X509Certificate;
  /** Short public-key ID: the value of leaves' `palisade.dev/ca-id` label. */
  keyId: string;
  retired: boolean;
  rotateRequested: boolean;
}

export const caSecretName = (version: number) => `palisade-${CA_COMPONENT}-v${version}`;

export function isCASecret(s: Secret, namespace: string): boolean {
  return s.metadata.namespace === namespace && s.metadata.labels?.[COMPONENT_LABEL] === CA_COMPONENT;
}

/**
 * The internal CA's version Secrets in `namespace`, by label: the operator's namespace also holds the
 * keystore, three Secrets per tenant, which a list would walk (and decode: runtime/store.ts) every time.
 */
export const caSecretsIn = (secrets: ObjectCache<Secret>, namespace: string): Secret[] =>
  labelled(secrets, namespace, COMPONENT_LABEL, CA_COMPONENT);

/** The readable CA versions among `secrets`, oldest first (an unreadable one is skipped, never overwritten). */
export function caVersions(secrets: readonly Secret[], namespace: string): CAVersion[] {
  const out: CAVersion[] = [];
  for (const s of secrets) {
    if (!isCASecret(s, namespace)) continue;
    const version = Number(s.metadata.labels?.[CA_VERSION_LABEL]);
    const certPem = secretText(s, 'tls.crt');
    const keyPem = secretText(s, 'tls.key');
    if (!Number.isInteger(version) || version < 1 || !certPem || !keyPem) continue;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      continue;
    }
    const a = s.metadata.annotations ?? {};
    out.push({
      version,
      name: s.metadata.name,
      secret: s,
      pair: { certPem, keyPem },
      cert,
      keyId: keyIdOf(cert),
      retired: a[RETIRED_ANNOTATION] === 'true',
      rotateRequested: a[ROTATE_ANNOTATION] !== undefined && a[ROTATE_ANNOTATION] !== 'false',
    });
  }
  return out.sort((a, b) => a.version - b.version);
}

/** The CA that issues: the highest version. */
export function activeCA(versions: readonly CAVersion[]): CAVersion | undefined {
  return versions[versions.length - 1];
}

/**
 * The CA that issues leaves: the highest version already in the published bundle. NB: publish before
 * use — a client that trusts the ConfigMap never meets a leaf from a CA it has not been given yet.
 */
export function issuingCA(
  versions: readonly CAVersion[],
  published: string | undefined,
): CAVersion | undefined {
  return publishedVersions(versions, published).at(-1);
}

/** The versions the published bundle holds, oldest first (none before it is published). */
function publishedVersions(versions: readonly CAVersion[], published: string | undefined): CAVersion[] {
  return published ? versions.filter((v) => published.includes(v.pair.certPem.trim())) : [];
}

/** When a CA version came into being: its Secret's creation, set by the API server (else its notBefore). */
export function createdAt(v: CAVersion): number {
  return Date.parse(v.secret.metadata.creationTimestamp ?? '') || v.cert.validFromDate.getTime();
}

/**
 * The CA Palisade's own servers (the key service with the cluster channel, nats-server) present: the
 * newest published version created at least `overlapMs` ago, else the oldest published one. NB: paired
 * agents trust the bundle they were last given (at pairing and at every renewal), not the published
 * ConfigMap: a server moving to a new CA at once would be refused by every agent that has not renewed
 * since. The overlap (twice the agent certificate lifetime) lets every live agent renew first.
 */
export function servingCA(
  versions: readonly CAVersion[],
  published: string | undefined,
  now: Date,
  overlapMs: number,
): CAVersion | undefined {
  const inBundle = publishedVersions(versions, published);
  return inBundle.findLast((v) => createdAt(v) + overlapMs <= now.getTime()) ?? inBundle[0];
}

/** The PEM bundle clients trust: the active CA first, then every older CA not yet retired. */
export function bundleOf(versions: readonly CAVersion[]): string {
  const active = activeCA(versions);
  return [...versions]
    .reverse()
    .filter((v) => v === active || !v.retired)
    .map((v) => v.pair.certPem.trim() + '\n')
    .join('');
}

/** When the active CA should be replaced automatically. */
export function autoRotationAt(ca: CAVersion): Date {
  const from = ca.cert.validFromDate.getTime();
  return new Date(from + (ca.cert.validToDate.getTime() - from) * CA_ROTATE_AT);
}

export interface CAPlan {
  /** A version to create (rotation). */
  create?: { version: number; why: string };
  /** Older versions no leaf names any more. */
  retire: CAVersion[];
  /** Time-driven work left: until automatic rotation. */
  recheckAfterMs?: number;
}

/**
 * Whether `s` holds a certificate `ca` signed that has not expired. Only such a Secret keeps an older CA
 * in the bundle: the `palisade.dev/ca-id` label alone is writable by a tenant in its own namespace, and a
 * Secret carrying nothing but the label kept a rotated-out CA trusted for as long as it stayed.
 */
export function holdsLeafOf(s: Secret | undefined, ca: CAVersion, now: Date): boolean {
  const pem = s ? secretText(s, 'tls.crt') : undefined;
  if (!pem) return false;
  try {
    const leaf = new X509Certificate(pem);
    return (
      leaf.checkIssued(ca.cert) && leaf.verify(ca.cert.publicKey) && Date.parse(leaf.validTo) > now.getTime()
    );
  } catch {
    return false;
  }
}

/** What the CA keeper should do; `hasLeaves(ca)` says whether a leaf Secret still holds a certificate of `ca`. */
export function caPlan(
  versions: readonly CAVersion[],
  hasLeaves: (ca: CAVersion) => boolean,
  now: Date,
  overlapMs: number,
): CAPlan {
  const active = activeCA(versions);
  if (!active) return { create: { version: 1, why: 'no internal CA yet' }, retire: [] };
  // NB: an older CA also stays until its successor is `overlapMs` old: agent client certificates (no leaf
  // Secret holds them) it issued until then have expired by that time, and the servers have moved.
  const overlapEnds = (v: CAVersion) => {
    const next = versions.find((n) => n.version > v.version);
    return next ? createdAt(next) + overlapMs : Infinity;
  };
  const old = versions.filter((v) => v !== active && !v.retired);
  const retire = old.filter((v) => overlapEnds(v) <= now.getTime() && !hasLeaves(v));
  const waiting = old.map(overlapEnds).filter((t) => t > now.getTime());
  const due = autoRotationAt(active);
  if (active.rotateRequested) {
    return { create: { version: active.version + 1, why: `rotation requested on ${active.name}` }, retire };
  }
  if (now >= due)
    return { create: { version: active.version + 1, why: `${active.name} is near its expiry` }, retire };
  return { retire, recheckAfterMs: Math.min(due.getTime(), ...waiting) - now.getTime() };
}

export function caSecret(namespace: string, version: number, pair: IssuedPair): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: caSecretName(version),
      namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [COMPONENT_LABEL]: CA_COMPONENT,
        [CA_VERSION_LABEL]: String(version),
      },
    },
    type: 'kubernetes.io/tls',
    immutable: true,
    data: {
      'tls.crt': Buffer.from(pair.certPem).toString('base64'),
      'tls.key': Buffer.from(pair.keyPem).toString('base64'),
    },
  };
}

export function bundleConfigMap(namespace: string, bundle: string): ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: CA_BUNDLE_CONFIGMAP,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [COMPONENT_LABEL]: CA_BUNDLE_COMPONENT },
    },
    data: { 'ca.crt': bundle },
  };
}

export interface CADeps {
  client: KubeClient;
  namespace: string;
  rand: RandomSource;
  now(): Date;
  log: Logger;
  audit: AuditLog;
}

/** Creates CA `version` once; a replica that loses the race adopts the winner's Secret. */
export async function createCAVersion(d: CADeps, version: number, why: string): Promise<void> {
  const now = d.now();
  const pair = await createCA({
    subject: `CN=Palisade internal CA v${version}, OU=${d.namespace}, O=Palisade`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_LIFETIME_MS),
    rand: d.rand,
  });
  const secret = caSecret(d.namespace, version, pair);
  const resource = { kind: 'Secret', name: secret.metadata.name, namespace: d.namespace };
  const keyId = keyIdOf(new X509Certificate(pair.certPem));
  try {
    if (!(await createOrAdopt(d.client, secret)).created) return;
  } catch (e) {
    d.audit.record({
      action: 'internal-ca.create',
      outcome: 'Failure',
      resource,
      version,
      keyId,
      reason: why,
    });
    throw e;
  }
  d.log.info('created internal CA version', { secret: secret.metadata.name, keyId, why });
  d.audit.record({ action: 'internal-ca.create', outcome: 'Success', resource, version, keyId, reason: why });
}

/** Every CA version in the operator namespace, read live (not from a cache). */
export async function listCAVersions(d: Pick<CADeps, 'client' | 'namespace'>): Promise<CAVersion[]> {
  const list = await d.client.list<Secret>('Secret', {
    namespace: d.namespace,
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY},${COMPONENT_LABEL}=${CA_COMPONENT}`,
  });
  return caVersions(list.items, d.namespace);
}

/** Start-up task: the first CA version and the bundle exist before any controller runs. */
export async function ensureInternalCA(d: CADeps): Promise<void> {
  if ((await listCAVersions(d)).length === 0) await createCAVersion(d, 1, 'first start');
  const versions = await listCAVersions(d);
  if (versions.length === 0) throw new Error('the internal CA Secret vanished right after creation');
  await d.client.apply(bundleConfigMap(d.namespace, bundleOf(versions)));
}

/**
 * The CA keeper (one key: the bundle ConfigMap): rotates when asked or due, retires CAs no leaf uses,
 * and publishes the bundle. Reads the CA Secrets and leaves from the labelled Secret informer.
 */
export async function reconcileCA(
  d: CADeps & {
    secrets: ObjectCache<Secret>;
    bundles: Informer<ConfigMap>;
    hasLeaves: (ca: CAVersion) => boolean;
    /** How long an older CA stays after its successor's creation at least ({@link servingCA}). */
    overlapMs: number;
  },
): Promise<{ requeueAfterMs?: number }> {
  const versions = caVersions(caSecretsIn(d.secrets, d.namespace), d.namespace);
  const plan = caPlan(versions, d.hasLeaves, d.now(), d.overlapMs);
  if (plan.create) {
    await createCAVersion(d, plan.create.version, plan.create.why);
    return {}; // the new Secret's event brings the keeper back with it in the cache
  }
  for (const v of plan.retire) {
    // NB: an update, conditional on the resourceVersion read; the data of the immutable Secret is unchanged.
    const meta = v.secret.metadata;
    await d.client.update({
      ...v.secret,
      metadata: { ...meta, annotations: { ...meta.annotations, [RETIRED_ANNOTATION]: 'true' } },
    });
    v.retired = true;
    d.log.info('retired internal CA version: no leaf uses it any more', { secret: v.name, keyId: v.keyId });
    d.audit.record({
      action: 'internal-ca.retire',
      outcome: 'Success',
      resource: { kind: 'Secret', name: v.name, namespace: d.namespace },
      version: v.version,
      keyId: v.keyId,
    });
  }
  const desired = bundleConfigMap(d.namespace, bundleOf(versions));
  const current = d.bundles.get(CA_BUNDLE_CONFIGMAP, d.namespace);
  if (versions.length && current?.data?.['ca.crt'] !== desired.data?.['ca.crt'])
    await d.client.apply(desired);
  return plan.recheckAfterMs !== undefined
    ? { requeueAfterMs: Math.min(plan.recheckAfterMs, 24 * 3_600_000) }
    : {};
}
