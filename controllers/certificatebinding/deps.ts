import type { CertificateBinding, Tenant } from '../../crds/v1alpha1/index.ts';
import type { Env } from '../runtime/env.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import type { CMCertificate } from './certmanagerapi.ts';
import type { CertificateMetrics } from './metrics.ts';

/** The CertificateBinding kind's clock and randomness (runtime/env.ts). */
export type BindingEnv = Env;

export interface BindingDeps {
  client: KubeApi;
  events: EventRecorder;
  audit: AuditLog;
  env: BindingEnv;
  metrics: CertificateMetrics;
  bindings: ObjectCache<CertificateBinding>;
  /** The cluster-scoped Tenants: which namespace is whose, and what each may have certified. */
  tenants: ObjectCache<Tenant>;
  /** The operator's labelled Secret informer (managed-by=palisade): leaves, CA, cert-manager Secrets. */
  secrets: ObjectCache<Secret>;
  /**
   * Secrets users labelled `palisade.dev/watch=true` (imported certificates and their CAs), cached only in
   * namespaces holding an importing binding, and not yet whole just after the first one appears: a miss
   * here is no answer (imported.ts then reads by name).
   */
  watched: ObjectCache<Secret>;
  /** The published CA bundle ConfigMap (operator namespace). */
  bundles: ObjectCache<ConfigMap>;
  /** Undefined while the cluster does not serve cert-manager.io/v1 Certificates; set once it does. */
  certificates: ObjectCache<CMCertificate> | undefined;
  /** Asks whether cert-manager was installed meanwhile (rate-limited; see certmanagerapi.ts). */
  recheckCertManager(): void;
  operatorNamespace: string;
  /** True for a namespace Palisade may read and write Secrets in (its own, the chart's, live tenants'). */
  managedNamespace(namespace: string): boolean;
}
