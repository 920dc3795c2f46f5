import assert from 'node:assert/strict';
import type { ConfigMap, KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import type { ClusterAgent } from '../crds/v1alpha1/index.ts';
import {
  deleteTenants,
  ensureNamespace,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { dumpOnFailure } from './support/certificates.ts';
import {
  eventually,
  freePort,
  startOperator,
  waitForControllers,
  type OperatorProcess,
} from './support/operator.ts';
import { testEnv } from '../hack/testenv/env.ts';
import { agentKeys, Channel, pairWith } from './pairing.support.ts';

const secretText = (s: Secret | undefined, k: string) => Buffer.from(s?.data?.[k] ?? '', 'base64').toString();
const getAgent = (name: string, ns: string) =>
  kube().get<ClusterAgent>({ kind: 'ClusterAgent', name, namespace: ns });
const condition = (a: ClusterAgent | undefined, type: string) =>
  a?.status?.conditions?.find((c) => c.type === type);

describe('Pairing and the cluster channel with messaging off', function () {
  this.timeout(180_000);
  let op: OperatorProcess;
  let address = '';
  let caPem = '';
  const t = uniqueName('pn');
  const ns = `tenant-${t}`;
  let channel: Channel | undefined;

  before(async function () {
    const opNs = uniqueName('palisade-nonats');
    await ensureNamespace(opNs);
    address = `127.0.0.1:${await freePort()}`;
    const saved = process.env.PALISADE_NATS_URL;
    delete process.env.PALISADE_NATS_URL;
    try {
      op = await startOperator({
        kubeconfig: testEnv().kubeconfig,
        namespace: opNs,
        identity: 'pairing-nonats',
        args: [`--keyservice-address=${address}`],
      });
    } finally {
      if (saved !== undefined) process.env.PALISADE_NATS_URL = saved;
    }
    await waitForControllers(op, 60_000);
    await kube().apply(tenantManifest(t));
    await eventually(
      `Tenant ${t} Ready`,
      async () => readyStatus(await getTenant(t))?.status === 'True',
      90_000,
    );
    const cm = await eventually('the CA bundle', () =>
      kube().get<ConfigMap>({ kind: 'ConfigMap', name: 'palisade-ca-bundle', namespace: opNs }),
    );
    caPem = cm.data?.['ca.crt'] ?? '';
  });

  afterEach(function () {
    dumpOnFailure(this, () => op?.output());
  });

  after(async function () {
    channel?.close();
    await deleteTenants([t]);
    await op?.stop();
  });

  it('pairs without a NATS user and turns Connected=True from gRPC reports alone', async function () {
    await kube().apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'edge', namespace: ns },
      spec: { clusterName: 'edge-cluster', heartbeatDeadline: '10s', pairing: {} },
    } as KubeObject);
    const shown = await eventually(
      'the code Secret',
      () => kube().get<Secret>({ kind: 'Secret', name: 'edge-pairing-code', namespace: ns }),
      60_000,
    );
    const keys = await agentKeys();
    const res = await pairWith(address, caPem, {
      code: secretText(shown, 'code'),
      natsUserPublicKey: keys.nats.publicKey,
      certificateRequest: keys.csr,
    });
    assert.ok(res.ok, `pairs: ${res.ok ? '' : res.details}`);
    assert.equal(res.value.credentials.natsUserJwt, '', 'no NATS user when messaging is off');
    assert.equal(res.value.credentials.natsUrl, '');
    const ch = new Channel(address, caPem, res.value.credentials.clientCertificate, keys.keyPem);
    channel = ch;
    const a = await eventually('Connected=True', async () => {
      const r = await ch.report({ health: 'HEALTH_HEALTHY' });
      assert.ok(r.ok, r.ok ? '' : r.details);
      const v = await getAgent('edge', ns);
      return condition(v, 'Connected')?.status === 'True' ? v : undefined;
    });
    assert.equal(condition(a, 'CredentialsReady')?.reason, 'Paired');
  });

  it('tells a Secret-mode ClusterAgent that it needs messaging (MessagingDisabled), and writes it no Secret', async function () {
    await kube().apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'legacy', namespace: ns },
      spec: { clusterName: 'legacy-cluster' },
    } as KubeObject);
    await eventually(
      'CredentialsReady=False/MessagingDisabled',
      async () => condition(await getAgent('legacy', ns), 'CredentialsReady')?.reason === 'MessagingDisabled',
      60_000,
    );
    assert.equal(await kube().get({ kind: 'Secret', name: 'legacy-nats-creds', namespace: ns }), undefined);
  });
});
