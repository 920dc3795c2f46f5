/** Helpers of the CertificateBinding journeys (e2e/certificate*.int.test.ts). */
import type { CertificateBinding, CertificateBindingSpec, Condition } from '../../crds/v1alpha1/index.ts';
import type { KubeObject, Secret } from '../../controllers/runtime/kube/types.ts';
import { kube } from './cluster.ts';
import { eventually } from './operator.ts';

export type BindingView = CertificateBinding;

export function bindingManifest(
  name: string,
  namespace: string,
  spec: Omit<CertificateBindingSpec, 'expiryWarning'> & { expiryWarning?: string },
): KubeObject & { spec: unknown } {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'CertificateBinding',
    metadata: { name, namespace },
    spec,
  };
}

export async function getBinding(name: string, namespace: string): Promise<BindingView | undefined> {
  return kube().get<BindingView>({ kind: 'CertificateBinding', name, namespace });
}

export function conditionOf(b: BindingView | undefined, type: string): Condition | undefined {
  return b?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the binding's Ready condition has `status` (and `reason`, when given). */
export async function waitForReady(
  name: string,
  namespace: string,
  want: { status: 'True' | 'False'; reason?: string } = { status: 'True' },
  timeoutMs = 60_000,
): Promise<BindingView> {
  let last: Condition | undefined;
  try {
    return await eventually(
      `CertificateBinding ${namespace}/${name} Ready=${want.status}${want.reason ? `/${want.reason}` : ''}`,
      async () => {
        const b = await getBinding(name, namespace);
        last = conditionOf(b, 'Ready');
        const ok =
          last?.status === want.status &&
          (!want.reason || last.reason === want.reason) &&
          b?.status?.observedGeneration === b?.metadata.generation;
        return ok ? b : undefined;
      },
      timeoutMs,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last Ready: ${JSON.stringify(last)}`, { cause: e });
  }
}

export function tlsSecret(
  name: string,
  namespace: string,
  data: Record<string, string>,
  labels: Record<string, string> = {},
): Secret {
  const enc: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) enc[k] = Buffer.from(v).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels },
    type: 'Opaque',
    data: enc,
  };
}

/**
 * A Secret declaring an installation certificate (as the NATS bootstrap declares `palisade-nats-tls`):
 * labelled and annotated with its names, empty; the internal CA keeper fills, renews and reissues it.
 */
export function installationCertSecret(name: string, namespace: string, dnsNames: string[]): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'palisade',
        'palisade.dev/component': 'test-server-tls',
        'palisade.dev/installation-certificate': 'true',
      },
      annotations: { 'palisade.dev/dns-names': dnsNames.join(',') },
    },
    type: 'Opaque',
  };
}

export function secretString(secret: Secret | undefined, key: string): string {
  return Buffer.from(secret?.data?.[key] ?? '', 'base64').toString('utf8');
}

/** The operator's Events about one object, as `reason: note` lines. */
export async function eventsAbout(
  namespace: string,
  name: string,
): Promise<{ type: string; reason: string; note: string }[]> {
  const list = await kube().list<
    KubeObject & { type: string; reason: string; note: string; regarding?: { name?: string } }
  >('Event', { namespace });
  return list.items
    .filter((e) => e.regarding?.name === name)
    .map((e) => ({ type: e.type, reason: e.reason, note: e.note }));
}

/** Prints the operator's last log lines when a test failed: the reconcile errors explain most failures. */
export function dumpOnFailure(ctx: Mocha.Context, output: () => string | undefined): void {
  if (ctx.currentTest?.state !== 'failed') return;
  const lines = (output() ?? '').split('\n').filter((l) => !l.includes('"audit":true'));
  console.error(`--- operator output (last 30 lines) ---\n${lines.slice(-30).join('\n')}`);
}
