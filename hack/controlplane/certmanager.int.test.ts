import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from './index.ts';

// A CA hierarchy the way Palisade uses cert-manager: self-signed root, CA Issuer, leaf Certificate.
const MANIFESTS = `
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: root, namespace: default}
spec:
  isCA: true
  commonName: test-root
  secretName: root-ca
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: selfsigned, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: root, namespace: default}
spec: {ca: {secretName: root-ca}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: leaf, namespace: default}
spec:
  commonName: leaf.test
  dnsNames: [leaf.test]
  secretName: leaf-tls
  issuerRef: {name: root, kind: Issuer}
`;

describe('the cert-manager v1.11.5 controller on the local control plane', () => {
  let cp: ControlPlane;

  before(async function () {
    this.timeout(120_000);
    cp = await startControlPlane({ certManager: true, controllerManager: false, nats: false });
  });

  after(async () => {
    await cp?.stop();
  });

  it('issues a leaf certificate from a CA issuer rooted in a self-signed issuer', async () => {
    await cp.kubectl(['apply', '-f', '-'], { input: MANIFESTS });
    const ready = [
      'get',
      'certificate',
      'leaf',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ];
    const deadline = Date.now() + 60_000;
    while ((await cp.kubectl(ready, { allowFail: true })).stdout !== 'True') {
      assert.ok(Date.now() < deadline, 'Certificate leaf never became Ready');
      await sleep(200);
    }
    const { stdout } = await cp.kubectl(['get', 'secret', 'leaf-tls', '-o', 'json']);
    const secret = JSON.parse(stdout) as { type: string; data: Record<string, string> };
    assert.equal(secret.type, 'kubernetes.io/tls');
    const root = await cp.kubectl(['get', 'secret', 'root-ca', '-o', 'jsonpath={.data.tls\\.crt}']);
    assert.equal(secret.data['ca.crt'], root.stdout);
  });
});
