import type { CertificateBinding, CertificateBindingStatus } from '../../crds/v1alpha1/index.ts';
import { findCondition } from '../runtime/conditions.ts';
import type { Kind, Outcome } from '../runtime/reconciler.ts';
import { observeCertManager } from './certmanager.ts';
import { BindingCondition, BindingReason } from './conditions.ts';
import type { BindingDeps } from './deps.ts';
import { observeImported } from './imported.ts';
import { reconcileInternal } from './internal.ts';
import { bindingStatus, nextTimeEdgeMs, type Observation } from './status.ts';
import { dnsNameProblems, iso } from './validate.ts';

/** setTimeout's ceiling is ~24.8 days; longer waits are covered by re-checking daily. */
const MAX_REQUEUE_MS = 24 * 3_600_000;

/**
 * CertificateBinding: let the source do its work (apply a Certificate, validate an import, issue a
 * leaf), then write status once, with the certificate's facts, readiness and the expiry warning.
 */
export function certificateBindingKind(d: BindingDeps): Kind<CertificateBinding, CertificateBindingStatus> {
  return {
    reconcile: (b) => reconcileBinding(d, b),
    // NB: no finalizer: the Certificate or leaf Secret is owned by the binding; garbage collection removes it.
    forget: (namespace, name) => d.metrics.forget(namespace ?? '', name),
  };
}

async function reconcileBinding(
  d: BindingDeps,
  b: CertificateBinding,
): Promise<Outcome<CertificateBindingStatus>> {
  const o = await observe(d, b);
  const now = d.env.now();
  const status = bindingStatus(b, o, now);
  announce(d, b, o, status);
  const ready = findCondition(status.conditions, BindingCondition.Ready)?.status === 'True';
  const expiring = findCondition(status.conditions, BindingCondition.Expiring)?.status === 'True';
  d.metrics.observe(b.metadata.namespace ?? '', b.metadata.name, o.source, {
    ready,
    expiring,
    ...(o.facts ? { facts: o.facts } : {}),
  });
  const waits = [o.requeueAfterMs, nextTimeEdgeMs(b, o.facts, now)].filter(
    (w): w is number => w !== undefined,
  );
  return {
    status,
    ...(o.retry !== undefined ? { retry: o.retry } : {}),
    ...(waits.length ? { requeueAfterMs: Math.min(MAX_REQUEUE_MS, ...waits) } : {}),
  };
}

/** What the binding's source found, after the checks every source shares. */
async function observe(d: BindingDeps, b: CertificateBinding): Promise<Observation> {
  const ns = b.metadata.namespace ?? '';
  if (!d.managedNamespace(ns)) return unmanaged(b);
  const field = b.spec.certManager ? 'certManager' : b.spec.imported ? 'imported' : 'internal';
  const problems = dnsNameProblems(b.spec[field]?.dnsNames ?? []);
  if (problems.length) {
    const message = `${problems.join('; ')}: fix spec.${field}.dnsNames (nothing is requested or issued until then)`;
    return refused(b, BindingReason.InvalidDNSName, message);
  }
  try {
    if (b.spec.certManager) return await observeCertManager(d, b);
    if (b.spec.imported) return await observeImported(d, b);
    return await reconcileInternal(d, b);
  } catch (e) {
    // NB: the namespace was released while this ran (its Tenant deleted with deletionPolicy Retain), and
    // its Secret rights with it: a refusal then is that release, not a failure to retry and report.
    if (!d.managedNamespace(ns)) return unmanaged(b);
    throw e;
  }
}

function refused(b: CertificateBinding, reason: BindingReason, message: string): Observation {
  return {
    source: b.spec.certManager ? 'CertManager' : b.spec.imported ? 'Imported' : 'Internal',
    secretName: b.spec.secretName ?? b.spec.imported?.secretRef.name ?? '',
    concern: { status: 'False', reason, message },
  };
}

/**
 * Palisade holds Secret rights only where it manages the namespace (least privilege): elsewhere a binding
 * is refused with the two ways to change that. Re-checked when the namespace becomes a tenant's.
 */
function unmanaged(b: CertificateBinding): Observation {
  const ns = b.metadata.namespace ?? '';
  const message = `Palisade does not manage namespace ${ns}, so it may not read or write Secrets there: make it a Tenant's namespace (Tenant spec.namespace), or add it to the chart's certificateNamespaces`;
  return refused(b, BindingReason.NamespaceNotManaged, message);
}

/** Events and audit for what changed: a new certificate in use, a failure, the expiry warning. */
function announce(
  d: BindingDeps,
  b: CertificateBinding,
  o: Observation,
  next: CertificateBindingStatus,
): void {
  const prev = b.status;
  const was = (type: string) => findCondition(prev?.conditions, type);
  const is = (type: string) => findCondition(next.conditions, type);
  const f = o.facts;
  if (f && o.concern.status === 'True' && prev?.fingerprintSHA256 !== f.fingerprintSHA256) {
    d.events.record(
      b,
      'Normal',
      'CertificateUpdated',
      'Bind',
      `now using certificate serial ${f.serialNumber} (${o.source}), valid until ${iso(f.notAfter)}`,
    );
    d.audit.record({
      action: 'certificate.bind',
      outcome: 'Success',
      resource: {
        kind: 'CertificateBinding',
        name: b.metadata.name,
        namespace: b.metadata.namespace,
        uid: b.metadata.uid,
      },
      reason: `${o.source} certificate serial ${f.serialNumber}`,
    });
  }
  const concern = is(BindingCondition.CertificateReady);
  const before = was(BindingCondition.CertificateReady);
  const changed = before?.status !== 'False' || before.reason !== concern?.reason;
  if (concern?.status === 'False' && concern.reason !== BindingReason.Pending && changed) {
    d.events.record(b, 'Warning', concern.reason, 'Reconcile', concern.message);
  }
  const expiring = is(BindingCondition.Expiring);
  if (expiring?.status === 'True' && was(BindingCondition.Expiring)?.status !== 'True') {
    d.events.record(b, 'Warning', 'CertificateExpiring', 'Reconcile', expiring.message);
  }
}
