/**
 * The agent's journey (issue 12): a platform engineer asks a ClusterAgent for pairing and reads the code
 * where Palisade shows it; the real `palisade-agent pair` redeems it (pinning Palisade's CA by the
 * fingerprint shown beside the code), then `palisade-agent run` reports over gRPC, over NATS, and both;
 * it renews its credentials while reporting; deleting the ClusterAgent makes it exit with the refused
 * status. The operator and the agent are separate processes; the control plane and nats-server are real.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../hack/controlplane/binaries.ts';
import { helm } from '../hack/helm.ts';
import { testEnv } from '../hack/testenv/env.ts';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import type { ClusterAgent } from '../crds/v1alpha1/index.ts';
import { SecretStore } from '../agent/store.ts';
import { spkiFingerprint } from '../controllers/agentchannel/identity.ts';
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
import { eventually, freePort, metricValue, probe, startOperator } from './support/operator.ts';
import { startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';

const MAIN = fileURLToPath(new URL('../agent/main.ts', import.meta.url));
const CHART = path.join(REPO_ROOT, 'charts/palisade-agent');
const CREDENTIALS = 'edge-palisade-agent-credentials';
const AGENT_SPEC = { clusterName: 'edge-cluster', heartbeatDeadline: '10s', pairing: {} };
const EXIT_REFUSED = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CERT_LIFETIME_MS = 45_000;
const text = (s: Secret | undefined, k: string) => Buffer.from(s?.data?.[k] ?? '', 'base64').toString();

interface PodSpec {
  spec: {
    template: { spec: { initContainers: { args: string[] }[]; containers: { args: string[] }[] } };
  };
}

/** The chart rendered with `values`: the objects to apply, and the pod's two argument lists. */
async function renderChart(namespace: string, values: string[]) {
  const stdout = await helm([
    'template',
    'edge',
    CHART,
    '-n',
    namespace,
    ...values.flatMap((v) => ['--set', v]),
  ]);
  const docs = parseAllDocuments(stdout).map((d) => d.toJS() as KubeObject | null);
  const deployment = docs.find((d) => d?.kind === 'Deployment') as unknown as PodSpec;
  const pod = deployment.spec.template.spec;
  // The image runs `node dist/agent/main.js …`; here the same arguments go to agent/main.ts.
  const args = (a: string[]) => a.filter((x) => x !== 'dist/agent/main.js');
  return {
    manifest: docs
      .filter((d): d is KubeObject => !!d && d.kind !== 'Deployment')
      .map((d) => JSON.stringify(d))
      .join('\n'),
    pairArgs: args(pod.initContainers[0]?.args ?? []),
    runArgs: args(pod.containers[0]?.args ?? []),
  };
}

const RELAYED_SENT = 'palisade_clusterchannel_relayed_reports_total{outcome="sent"}';

/** The agent as a process: its output, and its exit code once it exits. */
interface AgentProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function agentProcess(args: string[], env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, [MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const cleanup = () => child.kill('SIGKILL');
  process.once('exit', cleanup);
  void exited.then(() => process.off('exit', cleanup));
  return { child, output: () => out, exited };
}

describe('palisade-agent: pair with a code, then report over gRPC and NATS (issue 12)', function () {
  this.timeout(300_000);
  let env: MessagingEnv;
  let address = '';
  const tenant = uniqueName('ap');
  // The tenant cluster's side: the agent's namespace, its ServiceAccount's kubeconfig, the pod's args.
  const agentNs = uniqueName('edge-cluster');
  let asAgent: string[] = [];
  let pod = { pairArgs: [] as string[], runArgs: [] as string[] };
  const store = () => new SecretStore(kube(), agentNs, CREDENTIALS);
  const ns = `tenant-${tenant}`;
  const agents: AgentProcess[] = [];
  const getAgent = () => kube().get<ClusterAgent>({ kind: 'ClusterAgent', name: 'edge', namespace: ns });
  const connected = async () =>
    (await getAgent())?.status?.conditions?.find((c) => c.type === 'Connected')?.status;
  const run = (channels: string) => {
    const args = pod.runArgs.map((x) => (x.startsWith('--channels=') ? `--channels=${channels}` : x));
    const a = agentProcess([...args, ...asAgent]);
    agents.push(a);
    return a;
  };
  const stopAgent = async (a: AgentProcess) => {
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0, `a stopped agent exits 0:\n${a.output()}`);
  };

  before(async function () {
    address = `127.0.0.1:${await freePort()}`;
    env = await startMessaging(
      uniqueName('palisade-ap'),
      'agent-pairing-suite',
      // Agents' certificates live 45 s (renewed at 30 s), so an internal CA rotation overlaps 90 s.
      { PALISADE_AGENT_CERT_LIFETIME_MS: String(CERT_LIFETIME_MS) },
      undefined,
      undefined,
      [`--keyservice-address=${address}`],
    );
    await kube().apply(tenantManifest(tenant));
    await eventually(
      'the Tenant Ready',
      async () => readyStatus(await getTenant(tenant))?.status === 'True',
      90_000,
    );
    await ensureNamespace(agentNs);
    // Outside a pod there is no ServiceAccount token or namespace file: the same identity, given.
    const kubeconfig = await testEnv().kubeconfigFor(`system:serviceaccount:${agentNs}:edge-palisade-agent`, [
      'system:serviceaccounts',
      `system:serviceaccounts:${agentNs}`,
    ]);
    asAgent = [`--kubeconfig=${kubeconfig}`, `--namespace=${agentNs}`];
  });

  afterEach(function () {
    dumpOnFailure(this, () =>
      [env?.op.output(), ...agents.map((a, i) => `--- agent process ${i}:\n${a.output()}`)].join('\n'),
    );
  });

  after(async function () {
    for (const a of agents) a.child.kill('SIGKILL');
    await deleteTenants([tenant]);
    await kube().delete({ kind: 'Namespace', name: agentNs });
    await stopMessaging(env);
  });

  it('pairs with the code read from the ClusterAgent’s code Secret, pinning the CA shown beside it', async function () {
    await kube().apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'edge', namespace: ns },
      spec: AGENT_SPEC,
    } as KubeObject);
    // Where the platform engineer reads it.
    const shown = await eventually(
      'the code Secret',
      () => kube().get<Secret>({ kind: 'Secret', name: 'edge-pairing-code', namespace: ns }),
      60_000,
    );
    const code = text(shown, 'code');
    const pin = text(shown, 'ca-pin');
    assert.match(pin, /^sha256:[0-9a-f]{64}$/, 'the CA pin is shown beside the code');
    // Copied into the tenant cluster, with its code ID; the chart installed there with the pin.
    await kube().create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'palisade-pairing-code', namespace: agentNs },
      data: { code: shown.data?.code ?? '', 'code-id': shown.data?.['code-id'] ?? '' },
    } as Secret);
    const chart = await renderChart(agentNs, [
      `palisade.server=${address}`,
      `palisade.caFingerprint=${pin}`,
      `palisade.tenant=${tenant}`,
      'pairing.existingSecret=palisade-pairing-code',
      'channels={grpc,nats}',
      'interval=1s',
      `natsServer=tls://${env.server}`,
    ]);
    const applied = await testEnv().kubectl(['apply', '--server-side', '-f', '-'], {
      input: chart.manifest,
      allowFail: true,
    });
    assert.equal(applied.code, 0, applied.stderr);
    pod = chart;

    const pair = agentProcess([...pod.pairArgs, ...asAgent]);
    agents.push(pair);
    assert.equal(await pair.exited, 0, pair.output());
    assert.match(pair.output(), new RegExp(`paired as ClusterAgent ${ns}/edge`));
    assert.ok(!pair.output().includes(code), 'the code is never printed');
    const stored = await store().load();
    assert.ok(stored?.natsJwt && stored.certPem, 'both credentials stored in the chart’s Secret');
    const again = agentProcess([...pod.pairArgs, ...asAgent]);
    agents.push(again);
    assert.equal(await again.exited, 0, again.output());
    assert.match(again.output(), /already paired/, 'a restarted pod does not pair again');
    const paired = await eventually('status.pairing Paired', async () => {
      const a = await getAgent();
      return a?.status?.pairing?.state === 'Paired' ? a : undefined;
    });
    assert.equal(
      paired.status?.pairing?.certificateSerial?.toLowerCase(),
      new X509Certificate(stored.certPem).serialNumber.toLowerCase(),
      'Palisade records the certificate the agent stored',
    );
  });

  for (const channels of ['grpc', 'nats']) {
    it(`turns the ClusterAgent Connected=True reporting over ${channels} alone`, async function () {
      await eventually(
        'not Connected (no agent running)',
        async () => (await connected()) !== 'True',
        30_000,
      );
      const a = run(channels);
      await eventually('Connected=True', async () => (await connected()) === 'True', 30_000);
      const v = await getAgent();
      assert.equal(v?.status?.health, 'Healthy');
      await stopAgent(a);
    });
  }

  it('reaches Connected and gets commands through a replica that does not lead (a key-API replica relays)', async function () {
    // NB: the key-API replica never leads, so the ClusterAgent controller hears its agents only by relay.
    const apiAddress = `127.0.0.1:${await freePort()}`;
    const keyApi = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: env.operatorNs,
      identity: 'agent-pairing-key-api',
      // NB: as the chart starts it: the operator's messaging settings too, for the NATS JWT of a renewal.
      args: [`--keyservice-address=${apiAddress}`, '--role=keyservice', `--nats-url=${env.server}`],
      env: { PALISADE_AGENT_CERT_LIFETIME_MS: String(CERT_LIFETIME_MS) },
    });
    try {
      await eventually(
        'not Connected (no agent running)',
        async () => (await connected()) !== 'True',
        30_000,
      );
      const before = await store().load();
      assert.ok(before);
      await store().save({ ...before, server: apiAddress });
      await eventually(
        'the key-API replica ready',
        async () => (await probe(keyApi.probePort, '/readyz')) === 200,
        60_000,
      );
      const a = run('grpc');
      await eventually('Connected=True', async () => (await connected()) === 'True', 30_000);
      assert.ok((await metricValue(keyApi.probePort, RELAYED_SENT)) > 0, 'the reports went by relay');
      assert.equal((await getAgent())?.status?.health, 'Healthy');
      // The leader's command reaches the agent's stream on the other replica.
      await kube().apply({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'ClusterAgent',
        metadata: { name: 'edge', namespace: ns },
        spec: { ...AGENT_SPEC, credentialRotationTrigger: 'rotate-relayed' },
      } as KubeObject);
      await eventually(
        'the relayed command',
        async () => /^command refresh-credentials/m.test(a.output()),
        30_000,
      );
      await eventually(
        'renewed credentials stored',
        async () => (await store().load())?.certPem !== before.certPem,
        30_000,
      );
      await stopAgent(a);
    } finally {
      await keyApi.stop();
      const now = await store().load();
      if (now) await store().save({ ...now, server: address });
    }
  });

  it('renews its credentials while reporting on both channels, without a dropped report', async function () {
    // The stored renew-after comes due a few reports into the run (as if 16 of the 24 hours had passed).
    const before = await store().load();
    assert.ok(before);
    await store().save({ ...before, renewAfter: Math.floor(Date.now() / 1000) + 4 });
    const a = run('grpc,nats');
    await eventually('Connected=True', async () => (await connected()) === 'True', 30_000);
    const renewed = await eventually(
      'renewed credentials stored',
      async () => {
        const c = await store().load();
        return c && c.certPem !== before.certPem ? c : undefined;
      },
      30_000,
    );
    assert.notEqual(renewed.keyPem, before.keyPem, 'a new TLS key');
    assert.notEqual(renewed.natsSeed, before.natsSeed, 'a new NATS key');
    const serial = new X509Certificate(renewed.certPem).serialNumber.toLowerCase();
    await eventually(
      'Palisade records the renewed certificate',
      async () => (await getAgent())?.status?.pairing?.certificateSerial?.toLowerCase() === serial,
      30_000,
    );
    // Reports go on after the switch, on both channels, and none failed on the way.
    await eventually('reports after the renewal', async () => /renewed credentials/.test(a.output()), 10_000);
    const natsConnects = () => a.output().match(/^connected to /gm)?.length ?? 0;
    await eventually('NATS reconnected with the new user', async () => natsConnects() >= 2, 20_000);
    assert.equal(await connected(), 'True');
    assert.doesNotMatch(a.output(), /failed|refused|stopped publishing/, 'no report dropped');
  });

  it('renews at once when the platform engineer rotates its credentials (spec.credentialRotationTrigger)', async function () {
    const a = agents.at(-1) as AgentProcess;
    const before = await store().load();
    assert.ok(before);
    await kube().apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'edge', namespace: ns },
      spec: { ...AGENT_SPEC, credentialRotationTrigger: 'rotate-1' },
    } as KubeObject);
    const renewed = await eventually(
      'renewed credentials stored',
      async () => {
        const c = await store().load();
        return c && c.certPem !== before.certPem ? c : undefined;
      },
      30_000,
    );
    assert.match(a.output(), /^command refresh-credentials/m);
    const serial = new X509Certificate(renewed.certPem).serialNumber.toLowerCase();
    await eventually(
      'Palisade records the renewed certificate',
      async () => (await getAgent())?.status?.pairing?.certificateSerial?.toLowerCase() === serial,
      30_000,
    );
    assert.doesNotMatch(a.output(), /failed|refused|stopped publishing/, 'no report dropped');
  });

  it('keeps reporting through an internal CA rotation: renews onto the new CA before the servers present it', async function () {
    // Reports over NATS alone (renewals go over gRPC): nats-server, reloaded when its certificate moves to
    // CA v2 (messaging.support.ts, as the chart's reloader does), must present what the agent trusts.
    await stopAgent(agents.at(-1) as AgentProcess);
    const a = run('nats');
    await eventually('Connected=True', async () => (await connected()) === 'True', 30_000);
    const ns0 = env.operatorNs;
    const secret = (name: string) => kube().get<Secret>({ kind: 'Secret', name, namespace: ns0 });
    const servedBy = async () =>
      (await secret('palisade-keyservice-tls'))?.metadata.labels?.['palisade.dev/ca-id'];
    const v1 = await servedBy();
    assert.ok(v1);
    const annotated = await testEnv().kubectl(
      ['annotate', 'secret', '-n', ns0, 'palisade-internal-ca-v1', 'palisade.dev/rotate=true'],
      { allowFail: true },
    );
    assert.equal(annotated.code, 0, annotated.stderr);
    const v2 = await eventually('CA v2', () => secret('palisade-internal-ca-v2'), 30_000);
    const v2Cert = new X509Certificate(text(v2, 'tls.crt'));
    const v2Created = Date.parse(v2.metadata.creationTimestamp ?? '');
    const rotatedAt = a.output().length;

    // The agent renews within its 30 s renew-after: a certificate of v2, and the bundle with both CAs.
    const renewed = await eventually(
      'credentials of CA v2 stored, with v2 trusted',
      async () => {
        const c = await store().load();
        return c && new X509Certificate(c.certPem).verify(v2Cert.publicKey) ? c : undefined;
      },
      60_000,
    );
    const v1Pem = text(await secret('palisade-internal-ca-v1'), 'tls.crt');
    assert.ok(renewed.caPem.includes(text(v2, 'tls.crt').trim()), 'the new CA is trusted');
    assert.ok(renewed.caPem.includes(v1Pem.trim()), 'the old CA still trusted: the servers present it');
    // A code asked for now pins the CA the channel presents: still v1.
    await kube().apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'edge-two', namespace: ns },
      spec: { ...AGENT_SPEC, clusterName: 'edge-two-cluster' },
    } as KubeObject);
    const shown = await eventually(
      'the second agent’s code Secret',
      () => kube().get<Secret>({ kind: 'Secret', name: 'edge-two-pairing-code', namespace: ns }),
      30_000,
    );
    assert.equal(text(shown, 'ca-pin'), spkiFingerprint(v1Pem), 'the pin of the CA the channel presents');

    // The servers move once the overlap (twice the agent certificate lifetime) has passed, not before.
    const moved = await eventually(
      'the key service certificate reissued by CA v2',
      async () => {
        const s = await secret('palisade-keyservice-tls');
        return s?.metadata.labels?.['palisade.dev/ca-id'] !== v1 ? s : undefined;
      },
      3 * CERT_LIFETIME_MS,
    );
    // NB: installation certificates are back-dated one hour.
    const issuedAt = new X509Certificate(text(moved, 'tls.crt')).validFromDate.getTime() + 3_600_000;
    assert.ok(
      issuedAt >= v2Created + 2 * CERT_LIFETIME_MS - 1_000,
      `moved ${((issuedAt - v2Created) / 1000).toFixed(0)} s after the rotation, not after the overlap`,
    );
    // The code shown before the move pins what the channel presents now, v2; the code is the same.
    const v2Pin = spkiFingerprint(text(v2, 'tls.crt'));
    const followed = await eventually(
      'the second agent’s code Secret pinning CA v2',
      async () => {
        const s = await kube().get<Secret>({ kind: 'Secret', name: 'edge-two-pairing-code', namespace: ns });
        return s && text(s, 'ca-pin') === v2Pin ? s : undefined;
      },
      30_000,
    );
    assert.equal(text(followed, 'code'), text(shown, 'code'));
    await kube().delete({ kind: 'ClusterAgent', name: 'edge-two', namespace: ns });
    // A renewal over the channel now serving a certificate of v2: the agent trusts it.
    const renewals = () =>
      a
        .output()
        .slice(rotatedAt)
        .match(/renewed credentials/g)?.length ?? 0;
    const before = renewals();
    await eventually('a renewal after the servers moved', async () => renewals() > before, 60_000);
    await eventually(
      'CA v1 retired',
      async () =>
        (await secret('palisade-internal-ca-v1'))?.metadata.annotations?.['palisade.dev/retired'] === 'true',
      60_000,
    );
    // A renewal now brings the bundle without v1: the agent trusts v2 alone, on gRPC and on NATS.
    const retired = renewals();
    await eventually('a renewal after v1 was retired', async () => renewals() > retired, 60_000);
    const trusted = await store().load();
    assert.ok(trusted && !trusted.caPem.includes(v1Pem.trim()), 'v1 no longer trusted');
    // Reporting over NATS alone, it stays Connected past a heartbeat deadline (10 s) after that renewal.
    for (const until = Date.now() + 12_000; Date.now() < until; await sleep(500))
      assert.equal(await connected(), 'True', `Connected after the renewal:\n${a.output().slice(rotatedAt)}`);
    assert.equal(await connected(), 'True');
    assert.doesNotMatch(
      a.output().slice(rotatedAt),
      /failed|refused/,
      'no report, connection or renewal failed',
    );
  });

  it('exits with the refused status within 5 s of the ClusterAgent being deleted', async function () {
    const a = agents.at(-1) as AgentProcess;
    assert.equal(await connected(), 'True');
    const t0 = Date.now();
    await kube().delete({ kind: 'ClusterAgent', name: 'edge', namespace: ns });
    const code = await Promise.race([
      a.exited,
      new Promise<'running'>((r) => setTimeout(() => r('running'), 5_000)),
    ]);
    console.log(`      ClusterAgent deleted to agent exit: ${Date.now() - t0} ms`);
    assert.equal(code, EXIT_REFUSED, a.output());
    assert.match(a.output(), /credentials revoked or refused/);
  });
});
