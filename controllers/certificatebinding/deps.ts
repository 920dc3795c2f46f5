import type { CertificateBinding, Tenant } from '../../crds/v1alpha1/index.ts';
import type { Env } from '../runtime/env.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Informer, ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { AuditLog } from '../runtime/log.ts';
import type { CMCertificate } from './certmanagerapi.ts';
import type { CertificateMetrics } from './metrics.ts';

/** The CertificateBinding kind's clock and randomness (runtime/env.ts). */
export type BindingEnv = Env;

export interface BindingDeps {
  client: KubeClient;
  events: EventRecorder;
  audit: AuditLog;
  env: BindingEnv;
  metrics: CertificateMetrics;
  bindings: Informer<CertificateBinding>;
  /** The cluster-scoped Tenants: which namespace is whose, and what each may have certified. */
  tenants: Informer<Tenant>;
  /** The operator's labelled Secret informer (managed-by=palisade): leaves, CA, cert-manager Secrets. */
  secrets: ObjectCache<Secret>;
  /** Secrets users labelled `palisade.dev/watch=true` (imported certificates and their CAs). */
  watched: ObjectCache<Secret>;
  /** The published CA bundle ConfigMap (operator namespace). */
  bundles: Informer<ConfigMap>;
  /** Undefined while the cluster does not serve cert-manager.io/v1 Certificates; set once it does. */
  certificates: Informer<CMCertificate> | undefined;
  /** Asks whether cert-manager was installed meanwhile (rate-limited; see certmanagerapi.ts). */
  recheckCertManager(): void;
  operatorNamespace: string;
  /** True for a namespace Palisade may read and write Secrets in (its own, the chart's, live tenants'). */
  managedNamespace(namespace: string): boolean;
}
