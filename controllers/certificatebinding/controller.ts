import type { CertificateBinding, Tenant } from '../../crds/v1alpha1/index.ts';
import { describeError } from '../runtime/errors.ts';
import { watchMapped, type Watch } from '../runtime/controller.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { Manager } from '../runtime/manager.ts';
import { NamespaceSubset } from '../runtime/namespaced.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import type { CMCertificate } from './certmanager.ts';
import { CertManagerDetection, certificatesServed } from './certmanagerapi.ts';
import { WATCH_LABEL } from './conditions.ts';
import { CA_BUNDLE_COMPONENT, isCASecret } from '../internalca/ca.ts';
import { TENANT_NAMESPACE_INDEX } from './internal.ts';
import { CertificateMetrics } from './metrics.ts';
import { namedNamespaces, tenantNamespaceOf } from './namepolicy.ts';
import type { BindingEnv } from './deps.ts';
import { followImports, IMPORTS_INDEX } from './imported.ts';
import { certificateBindingKind } from './reconcile.ts';
import { reconcilerFor } from '../runtime/reconciler.ts';

const SECRET_INDEX = 'secret';
const SOURCE_INDEX = 'source';
/** Internal bindings by their namespace and by every namespace whose service names they ask for. */
export const NAMESPACES_INDEX = 'namespaces';

/** `ns/name` of every Secret a binding reads: its target Secret, or its imported Secret and CA. */
export function bindingSecrets(b: CertificateBinding): string[] {
  const ns = b.metadata.namespace ?? '';
  const names = [b.spec.secretName, b.spec.imported?.secretRef.name, b.spec.imported?.caSecretRef?.name];
  return [...new Set(names.filter((n): n is string => !!n))].map((n) => `${ns}/${n}`);
}

/** The namespaces whose ownership decides an internal binding's names: its own and those it names. */
export function policyNamespaces(b: CertificateBinding): string[] {
  if (!b.spec.internal) return [];
  return [...new Set([b.metadata.namespace ?? '', ...namedNamespaces(b.spec.internal.dnsNames)])];
}

/**
 * Tenant changes that move the name policy (the namespace a Tenant owns, its allowedDNSNames) enqueue the
 * internal bindings in, or naming, the namespaces concerned; other Tenant updates (status) enqueue nothing.
 */
export function tenantPolicyWatch(
  tenants: ObjectCache<Tenant>,
  bindings: ObjectCache<CertificateBinding>,
): Watch {
  const policyOf = (t: Tenant | undefined) =>
    t && {
      namespace: tenantNamespaceOf(t),
      allowed: JSON.stringify(t.spec.certificates?.allowedDNSNames ?? []),
    };
  return {
    register(enqueue) {
      // NB: compared with the object the cache held before (the informer hands it over), not with a copy
      // kept per Tenant: nothing is held here however many Tenants there are.
      const fire = (before: Tenant | undefined, now: Tenant | undefined) => {
        const b = policyOf(before);
        const n = policyOf(now);
        if (b?.namespace === n?.namespace && b?.allowed === n?.allowed) return;
        for (const ns of new Set([b?.namespace, n?.namespace])) {
          if (ns) bindings.byIndex(NAMESPACES_INDEX, ns).forEach(enqueue);
        }
      };
      tenants.on('add', (t) => fire(undefined, t));
      tenants.on('update', (t, old) => fire(old, t));
      tenants.on('delete', (t, old) => fire(old ?? t, undefined));
    },
  };
}

export function sourceOf(b: CertificateBinding): string {
  return b.spec.certManager ? 'CertManager' : b.spec.imported ? 'Imported' : 'Internal';
}

const keyOf = (o: { metadata: { name: string; namespace?: string } }) =>
  `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Whether the API server serves cert-manager.io/v1 Certificates (a 404 says the CRD is missing). */
export async function certManagerServed(client: KubeClient): Promise<boolean> {
  // Any other failure: assume it is there; the informer retries.
  return certificatesServed(client).catch(() => true);
}

/**
 * Wires the CertificateBinding controller and the internal CA keeper. Informers: bindings, the shared
 * labelled Secret informer, Secrets labelled `palisade.dev/watch=true` (only where a binding imports),
 * Palisade's cert-manager Certificates (labelled) and the CA bundle ConfigMap. Secrets are read only in
 * the namespaces Palisade manages (runtime/namespaced.ts); a binding anywhere else is `NamespaceNotManaged`.
 */
export async function setupCertificateBindings(mgr: Manager, env: BindingEnv): Promise<void> {
  const ns = mgr.namespace;
  const bindings = mgr.informer<CertificateBinding>('CertificateBinding');
  // A binding's namespace holds the Secret it issues to: Palisade's Secrets are read there.
  mgr.secretHolders.follow('CertificateBinding', bindings);
  const tenants = mgr.informer<Tenant>('Tenant');
  const secrets = mgr.namespacedInformer<Secret>(
    'Secret',
    `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
    mgr.secretHolders,
  );
  const importers = new NamespaceSubset('imported-certificates', mgr.namespaces);
  const watched = mgr.namespacedInformer<Secret>('Secret', `${WATCH_LABEL}=true`, importers);
  const bundles = mgr.informer<ConfigMap>('ConfigMap', `${COMPONENT_LABEL}=${CA_BUNDLE_COMPONENT}`, ns);
  const certificateLabels = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
  const certificates = (await certManagerServed(mgr.client))
    ? mgr.informer<CMCertificate>('Certificate', certificateLabels)
    : undefined;
  if (!certificates)
    mgr.log.warn('cert-manager Certificates are not served; certManager bindings wait for them');
  bindings.addIndex(SECRET_INDEX, bindingSecrets);
  bindings.addIndex(SOURCE_INDEX, (b) => [sourceOf(b)]);
  bindings.addIndex(NAMESPACES_INDEX, policyNamespaces);
  followImports(bindings, importers);
  tenants.addIndex(TENANT_NAMESPACE_INDEX, (t) => [tenantNamespaceOf(t)]);

  const internalBindings = () => bindings.byIndex(SOURCE_INDEX, 'Internal');
  const deps = {
    client: mgr.client,
    events: mgr.events,
    audit: mgr.audit,
    env,
    bindings,
    tenants,
    secrets,
    watched,
    bundles,
    certificates,
    recheckCertManager: () => certManager.recheck(),
    operatorNamespace: ns,
    managedNamespace: (n: string) => mgr.namespaces.has(n),
    metrics: new CertificateMetrics(mgr.metrics.registry),
  };
  const controller = mgr.addController({
    name: 'certificatebinding',
    primary: bindings,
    watches: [
      watchMapped(secrets, (s) =>
        isCASecret(s, ns) ? internalBindings() : bindings.byIndex(SECRET_INDEX, keyOf(s)),
      ),
      watchMapped(watched, (s) => bindings.byIndex(SECRET_INDEX, keyOf(s))),
      watchMapped(bundles, (cm) => (cm.metadata.namespace === ns ? internalBindings() : [])),
      ...(certificates ? [watchMapped(certificates, ownerBinding)] : []),
      tenantPolicyWatch(tenants, bindings),
      // A namespace that became managed (a Tenant's) re-checks the bindings already waiting there.
      {
        register: (enqueue) =>
          secrets.onNamespaceSynced((n) => bindings.list(n).forEach((b) => enqueue(keyOf(b)))),
      },
      // NB: a namespace's import watch starts with its first importing binding, whose first reconcile
      // may have read the Secret by name before the list: re-checked from the cache, nothing is missed.
      {
        register: (enqueue) =>
          watched.onNamespaceSynced((n) => bindings.byIndex(IMPORTS_INDEX, n).forEach(enqueue)),
      },
    ],
    reconcile: reconcilerFor({ cache: bindings, client: mgr.client }, certificateBindingKind(deps)),
  });
  // cert-manager installed while running: its informer starts, the waiting bindings go again.
  const certManager = new CertManagerDetection({
    clock: mgr.clock,
    served: () => certificatesServed(mgr.client),
    installed: async () => {
      const late = mgr.informer<CMCertificate>('Certificate', certificateLabels);
      watchMapped(late, ownerBinding).register((key) => controller.enqueue(key));
      await mgr.startInformer(late);
      deps.certificates = late;
      mgr.log.info('cert-manager Certificates are served now; certManager bindings proceed');
      bindings.byIndex(SOURCE_INDEX, 'CertManager').forEach((key) => controller.enqueue(key));
    },
    onError: (e) =>
      mgr.log.warn('could not check whether cert-manager is installed', { error: describeError(e) }),
  });
}

/** The binding that controls a Certificate, from its owner reference. */
function ownerBinding(c: CMCertificate): string[] {
  const ref = c.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'CertificateBinding');
  return ref ? [`${c.metadata.namespace ?? ''}/${ref.name}`] : [];
}
