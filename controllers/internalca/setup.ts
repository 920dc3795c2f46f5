import { watchMapped } from '../runtime/controller.ts';
import type { Env } from '../runtime/env.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import type { Informer } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import {
  CA_BUNDLE_COMPONENT,
  CA_BUNDLE_CONFIGMAP,
  DEFAULT_CA_OVERLAP_MS,
  ensureInternalCA,
  holdsLeafOf,
  isCASecret,
  reconcileCA,
} from './ca.ts';
import { INSTALLATION_CERT_LABEL, reconcileInstallationCerts } from './installationcerts.ts';
import { CA_ID_LABEL } from './leaf.ts';

const CA_ID_INDEX = CA_ID_LABEL;

/** The cache of the published CA bundle ConfigMap, shared by every reader. */
export function caBundleInformer(mgr: Manager): Informer<ConfigMap> {
  return mgr.informer<ConfigMap>('ConfigMap', `${COMPONENT_LABEL}=${CA_BUNDLE_COMPONENT}`, mgr.namespace);
}

/**
 * Reads the CA bundle published now (`palisade-ca-bundle`, from the cache), undefined until it is read.
 * What clients of Palisade's own servers must trust, after a rotation too.
 */
export function publishedBundleReader(mgr: Manager): () => string | undefined {
  const bundles = caBundleInformer(mgr);
  return () => bundles.get(CA_BUNDLE_CONFIGMAP, mgr.namespace)?.data?.['ca.crt'] || undefined;
}

/**
 * The internal CA (RSA-2048): a start-up task makes its first version; one controller keeps it (rotation,
 * the published bundle, retirement once no leaf it issued is left), another keeps Palisade's own servers'
 * certificates issued from it. Both are keyed on the bundle ConfigMap in the operator's namespace.
 */
export function setupInternalCA(mgr: Manager, env: Env, o: { overlapMs?: number } = {}): void {
  const ns = mgr.namespace;
  const secrets = mgr.namespacedInformer<Secret>(
    'Secret',
    `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
    mgr.secretHolders,
  );
  const bundles = caBundleInformer(mgr);
  secrets.addIndex(CA_ID_INDEX, (s) => {
    const id = s.metadata.labels?.[CA_ID_LABEL];
    return id ? [id] : [];
  });
  const caDeps = {
    client: mgr.client,
    namespace: ns,
    rand: env.rand,
    now: env.now,
    log: mgr.log,
    audit: mgr.audit,
    overlapMs: o.overlapMs ?? DEFAULT_CA_OVERLAP_MS,
  };
  mgr.addStartupTask('internal-ca', () => ensureInternalCA(caDeps));
  const bundleKey = `${ns}/${CA_BUNDLE_CONFIGMAP}`;
  mgr.addController({
    name: 'internal-ca',
    primary: bundles,
    watches: [
      watchMapped(secrets, (s) => (isCASecret(s, ns) || s.metadata.labels?.[CA_ID_LABEL] ? [bundleKey] : [])),
    ],
    concurrency: 1,
    reconcile: async (key) => {
      if (key !== bundleKey) return;
      return reconcileCA({
        ...caDeps,
        secrets,
        bundles,
        // NB: stops at the first leaf found (a rotation reissues leaves one event at a time).
        hasLeaves: (ca) =>
          secrets.byIndex(CA_ID_INDEX, ca.keyId).some((key) => {
            const [namespace, name] = key.split('/') as [string, string];
            return holdsLeafOf(secrets.get(name, namespace), ca, env.now());
          }),
      });
    },
  });
  const isInstallationCert = (s: Secret) =>
    s.metadata.namespace === ns && s.metadata.labels?.[INSTALLATION_CERT_LABEL] === 'true';
  mgr.addController({
    name: 'installation-certificates',
    primary: bundles,
    watches: [watchMapped(secrets, (s) => (isCASecret(s, ns) || isInstallationCert(s) ? [bundleKey] : []))],
    concurrency: 1,
    reconcile: async (key) =>
      key === bundleKey ? reconcileInstallationCerts({ ...caDeps, secrets, bundles }) : undefined,
  });
}
