/**
 * The binding's status as a pure function of what a source observed: the certificate's facts, the
 * CertificateReady concern, the Expiring warning and the Ready summary.
 */
import type {
  CertificateBinding,
  CertificateBindingStatus,
  CertificateSource,
} from '../../crds/v1alpha1/index.ts';
import { parseDuration } from '../../crds/v1alpha1/index.ts';
import type { CertificateFacts } from '../pki/index.ts';
import { readySummary, setConditions, type ConditionInput } from '../runtime/conditions.ts';
import { BindingCondition, BindingReason } from './conditions.ts';
import { iso } from './validate.ts';

/** What reconciling one source found out. */
export interface Observation {
  source: CertificateSource;
  /** The Secret holding the certificate in use. */
  secretName: string;
  concern: Omit<ConditionInput, 'type'>;
  facts?: CertificateFacts;
  renewalTime?: Date;
  /** Time-driven work of the source (renewal, re-check). */
  requeueAfterMs?: number;
  /** An error to rethrow (retry with backoff) once the status saying so is written. */
  retry?: unknown;
}

/** The start of the expiry warning window: notAfter − spec.expiryWarning. */
export function warningStart(b: CertificateBinding, facts: CertificateFacts): Date {
  return new Date(facts.notAfter.getTime() - parseDuration(b.spec.expiryWarning));
}

/** `Expiring`: True from notAfter − expiryWarning on (an expired certificate is expiring too). */
export function expiringCondition(
  b: CertificateBinding,
  facts: CertificateFacts | undefined,
  now: Date,
): ConditionInput {
  const type = BindingCondition.Expiring;
  if (!facts) {
    return { type, status: 'Unknown', reason: BindingReason.NoCertificate, message: 'no certificate yet' };
  }
  if (now >= warningStart(b, facts)) {
    // NB: no "in N days" here: a message that changes with the clock would rewrite status on every resync.
    const message =
      now > facts.notAfter
        ? `the certificate expired at ${iso(facts.notAfter)}`
        : `the certificate expires at ${iso(facts.notAfter)}, within spec.expiryWarning (${b.spec.expiryWarning})`;
    return { type, status: 'True', reason: BindingReason.ExpiringSoon, message };
  }
  return {
    type,
    status: 'False',
    reason: BindingReason.NotExpiring,
    message: `the certificate is valid until ${iso(facts.notAfter)}`,
  };
}

export function humanDuration(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  if (h >= 48) return `${Math.floor(h / 24)} days`;
  if (h >= 1) return `${h} hours`;
  return `${Math.max(1, Math.floor(ms / 60_000))} minutes`;
}

/** The whole status for an observation. `Expiring` is a warning, not a concern: Ready ignores it. */
export function bindingStatus(b: CertificateBinding, o: Observation, now: Date): CertificateBindingStatus {
  const concern: ConditionInput = { type: BindingCondition.CertificateReady, ...o.concern };
  const f = o.facts;
  return {
    source: o.source,
    secretName: o.secretName,
    ...(f
      ? {
          notBefore: iso(f.notBefore),
          notAfter: iso(f.notAfter),
          serialNumber: f.serialNumber,
          fingerprintSHA256: f.fingerprintSHA256,
          dnsNames: f.dnsNames,
          issuer: f.issuer,
        }
      : {}),
    ...(o.renewalTime ? { renewalTime: iso(o.renewalTime) } : {}),
    observedGeneration: b.metadata.generation,
    conditions: setConditions(
      b.status?.conditions,
      [concern, expiringCondition(b, f, now), readySummary([concern], BindingReason.Ready)],
      b.metadata.generation,
      now,
    ),
  };
}

/** When time alone will change the verdict: the warning window opens, or the certificate expires. */
export function nextTimeEdgeMs(
  b: CertificateBinding,
  facts: CertificateFacts | undefined,
  now: Date,
): number | undefined {
  if (!facts) return undefined;
  const edges = [
    warningStart(b, facts).getTime(),
    facts.notAfter.getTime() + 1000,
    facts.notBefore.getTime() + 1000,
  ]
    .map((t) => t - now.getTime())
    .filter((d) => d > 0);
  return edges.length ? Math.min(...edges) : undefined;
}
