/**
 * cert-manager installed while the operator runs: a certManager binding waits with
 * CertManagerNotInstalled, then proceeds once cert-manager's CRDs and controller are installed, with no
 * operator restart. A private control plane: the shared one has cert-manager from the start.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CertificateBinding, Condition } from '../crds/v1alpha1/index.ts';
import { KubeClient, loadKubeConfig } from '../controllers/runtime/kube/client.ts';
import type { Secret } from '../controllers/runtime/kube/types.ts';
import { startControlPlane, type ControlPlane } from '../hack/controlplane/index.ts';
import { bindingManifest, dumpOnFailure } from './support/certificates.ts';
import { eventually, startOperator, waitForControllers, type OperatorProcess } from './support/operator.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ISSUER = `
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
`;

describe('CertificateBinding when cert-manager is installed after the operator started', function () {
  // NB: the operator's own namespace is one whose Secrets it may always read and write.
  const ns = 'palisade-system';
  const name = 'portal';
  let cp: ControlPlane | undefined;
  let client: KubeClient;
  let op: OperatorProcess | undefined;

  before(async function () {
    this.timeout(240_000);
    cp = await startControlPlane({
      crdDirs: [path.join(repo, 'crds')],
      certManager: 'later',
      controllerManager: false,
      nats: false,
    });
    client = new KubeClient(loadKubeConfig(cp.kubeconfig), 'palisade-e2e');
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    op = await startOperator({ kubeconfig: cp.kubeconfig, namespace: ns, identity: 'late-cert-manager' });
    await waitForControllers(op, 120_000);
  });

  afterEach(function () {
    dumpOnFailure(this, () => op?.output());
  });

  after(async function () {
    this.timeout(60_000);
    await op?.stop();
    await cp?.stop();
  });

  /** The binding once its Ready condition (for its current generation) matches. */
  async function readyWhen(want: Partial<Condition>, timeoutMs: number): Promise<CertificateBinding> {
    return eventually(
      `CertificateBinding ${ns}/${name} Ready=${want.status}/${want.reason ?? ''}`,
      async () => {
        const b = await client.get<CertificateBinding>({ kind: 'CertificateBinding', name, namespace: ns });
        const ready = b?.status?.conditions?.find((c) => c.type === 'Ready');
        const matches =
          ready?.status === want.status &&
          (!want.reason || ready?.reason === want.reason) &&
          b?.status?.observedGeneration === b?.metadata.generation;
        return matches ? b : undefined;
      },
      timeoutMs,
    );
  }

  it('waits with CertManagerNotInstalled, then becomes Ready once cert-manager is installed, without a restart', async function () {
    await client.apply(
      bindingManifest(name, ns, {
        secretName: 'portal-tls',
        certManager: {
          issuerRef: { name: 'selfsigned', kind: 'ClusterIssuer', group: 'cert-manager.io' },
          dnsNames: ['portal.example.test'],
        },
      }),
    );
    const waiting = await readyWhen({ status: 'False', reason: 'CertManagerNotInstalled' }, 30_000);
    const message = waiting.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
    assert.match(message, /install cert-manager; this binding proceeds once it is/);
    const pid = op?.child.pid;

    await cp?.installCertManager();
    await cp?.kubectl(['apply', '-f', '-'], { input: ISSUER });

    const bound = await readyWhen({ status: 'True' }, 90_000);
    assert.equal(bound.status?.source, 'CertManager');
    assert.deepEqual(bound.status?.dnsNames, ['portal.example.test']);
    const secret = await client.get<Secret>({ kind: 'Secret', name: 'portal-tls', namespace: ns });
    assert.ok(secret?.data?.['tls.crt'], 'cert-manager issued the Secret');
    assert.equal(op?.child.pid, pid);
    assert.ok(!op?.exited(), 'the same operator process, never restarted');
    assert.match(op?.output() ?? '', /cert-manager Certificates are served now/);
  });
});
