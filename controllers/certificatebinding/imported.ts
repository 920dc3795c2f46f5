/**
 * The `imported` source: a user's own certificate and key in a Secret, validated before anything uses
 * it (validate.ts), and re-checked as it changes.
 *
 * NB: the user's Secret does not carry Palisade's managed-by label, so the operator's Secret cache does
 * not see it. Palisade reads it by name at each reconcile and re-checks every few minutes; a Secret
 * labelled `palisade.dev/watch=true` is also seen by a second, narrowly labelled informer, so a change
 * to it is picked up at once. That informer runs only in the managed namespaces holding a binding that
 * imports ({@link followImports}): until its cache there is whole, reads fall back to a GET by name.
 */
import type { CertificateBinding } from '../../crds/v1alpha1/index.ts';
import type { ObjectCache } from '../runtime/informer.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { NamespaceSubset } from '../runtime/namespaced.ts';
import { BindingReason } from './conditions.ts';
import type { BindingDeps } from './deps.ts';
import type { Observation } from './status.ts';
import { checkImport } from './validate.ts';

export const IMPORTED_RECHECK_MS = 5 * 60_000;
export const IMPORTED_FAILING_RECHECK_MS = 60_000;

/** Bindings that import a Secret, by namespace. */
export const IMPORTS_INDEX = 'imports';

/**
 * Keeps `importers` to the namespaces holding at least one binding that imports a Secret, so the
 * `palisade.dev/watch=true` Secret watch costs a list+watch only there, not in every tenant namespace.
 * Bindings and labels are tenant input: they choose what is cached, within the managed namespaces only,
 * never what is accepted (a cached Secret is judged like one read by name).
 */
export function followImports(bindings: ObjectCache<CertificateBinding>, importers: NamespaceSubset): void {
  bindings.addIndex(IMPORTS_INDEX, (b) => (b.spec.imported ? [b.metadata.namespace ?? ''] : []));
  // NB: a cache indexes an object before its handlers run, so the lookup already counts this change.
  const follow = (b: CertificateBinding) => {
    const ns = b.metadata.namespace ?? '';
    importers.want(ns, bindings.byIndex(IMPORTS_INDEX, ns).length > 0);
  };
  bindings.on('add', follow);
  bindings.on('update', follow);
  bindings.on('delete', follow);
}

async function readSecret(d: BindingDeps, namespace: string, name: string): Promise<Secret | undefined> {
  return d.watched.get(name, namespace) ?? (await d.client.get<Secret>({ kind: 'Secret', name, namespace }));
}

export async function observeImported(d: BindingDeps, b: CertificateBinding): Promise<Observation> {
  const src = b.spec.imported as NonNullable<CertificateBinding['spec']['imported']>;
  const namespace = b.metadata.namespace as string;
  const secret = await readSecret(d, namespace, src.secretRef.name);
  const ca = src.caSecretRef
    ? { ref: src.caSecretRef, secret: await readSecret(d, namespace, src.caSecretRef.name) }
    : undefined;
  const v = checkImport({
    namespace,
    secretName: src.secretRef.name,
    secret,
    ...(ca ? { ca } : {}),
    dnsNames: src.dnsNames,
    now: d.env.now(),
  });
  const base = { source: 'Imported' as const, secretName: src.secretRef.name };
  if (!v.ok) {
    return {
      ...base,
      concern: { status: 'False', reason: v.reason, message: v.message },
      ...(v.facts ? { facts: v.facts } : {}),
      requeueAfterMs: IMPORTED_FAILING_RECHECK_MS,
    };
  }
  const message = `the certificate matches its key, covers ${src.dnsNames.join(', ')}${ca ? ` and chains to CA ${ca.ref.name}` : ''}`;
  return {
    ...base,
    concern: { status: 'True', reason: BindingReason.Valid, message },
    facts: v.facts,
    requeueAfterMs: IMPORTED_RECHECK_MS,
  };
}
