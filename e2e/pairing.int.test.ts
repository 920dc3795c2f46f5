import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { status, Metadata } from '@grpc/grpc-js';
import type { ConfigMap, KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import type { ClusterAgent } from '../crds/v1alpha1/index.ts';
import { CODE_ALPHABET } from '../controllers/clusteragent/pairingcode.ts';
import { identityURI } from '../controllers/agentchannel/identity.ts';
import { formatCreds } from '../controllers/nats/protocol/index.ts';
import {
  deleteTenants,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { eventually, freePort } from './support/operator.ts';
import { dumpOnFailure } from './support/certificates.ts';
import { agentConnects, startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';
import { agentKeys, Channel, pairWith, selfMadeCertificate, type AgentKeys } from './pairing.support.ts';

const secretText = (s: Secret | undefined, k: string) => Buffer.from(s?.data?.[k] ?? '', 'base64').toString();

function agentManifest(name: string, namespace: string, pairing: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'ClusterAgent',
    metadata: { name, namespace },
    spec: { clusterName: `${name}-cluster`, heartbeatDeadline: '10s', pairing },
  } as KubeObject;
}

const getAgent = (name: string, ns: string) =>
  kube().get<ClusterAgent>({ kind: 'ClusterAgent', name, namespace: ns });
const condition = (a: ClusterAgent | undefined, type: string) =>
  a?.status?.conditions?.find((c) => c.type === type);

describe('Pairing and the gRPC cluster channel (issue 12)', function () {
  this.timeout(240_000);
  let env: MessagingEnv;
  let address = '';
  let caPem = '';
  const a = uniqueName('pa');
  const b = uniqueName('pb');
  const ans = `tenant-${a}`;
  const bns = `tenant-${b}`;
  const channels: Channel[] = [];
  const channel = (cert: string, key: string) => {
    const c = new Channel(address, caPem, cert, key);
    channels.push(c);
    return c;
  };

  /** The code shown in the agent's code Secret (read as the platform engineer would). */
  const codeOf = async (name: string, ns: string) => {
    const s = await eventually(
      `Secret ${ns}/${name}-pairing-code`,
      () => kube().get<Secret>({ kind: 'Secret', name: `${name}-pairing-code`, namespace: ns }),
      60_000,
    );
    return {
      code: secretText(s, 'code'),
      codeID: secretText(s, 'code-id'),
      pin: secretText(s, 'ca-pin'),
      server: secretText(s, 'server'),
    };
  };
  const pair = (code: string, keys: AgentKeys, tenant?: string) =>
    pairWith(address, caPem, {
      code,
      natsUserPublicKey: keys.nats.publicKey,
      certificateRequest: keys.csr,
      agentVersion: 'e2e',
      ...(tenant ? { tenant } : {}),
    });

  before(async function () {
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    const opNs = uniqueName('palisade-pair');
    env = await startMessaging(
      opNs,
      'pairing-suite',
      { PALISADE_AGENT_STATUS_REFRESH_MS: '3000' },
      undefined,
      undefined,
      [`--keyservice-address=${address}`, `--agent-channel-address=${address}`],
    );
    for (const t of [a, b]) await kube().apply(tenantManifest(t));
    for (const t of [a, b])
      await eventually(
        `Tenant ${t} Ready`,
        async () => readyStatus(await getTenant(t))?.status === 'True',
        90_000,
      );
    const cm = await kube().get<ConfigMap>({
      kind: 'ConfigMap',
      name: 'palisade-ca-bundle',
      namespace: opNs,
    });
    caPem = cm?.data?.['ca.crt'] ?? '';
    assert.ok(caPem, 'the internal CA bundle is published');
  });

  afterEach(function () {
    dumpOnFailure(this, () =>
      env?.op
        .output()
        .split('\n')
        .filter((l) => !l.includes('reconcile failed'))
        .join('\n'),
    );
  });

  after(async function () {
    for (const c of channels) c.close();
    await deleteTenants([a, b]);
    await stopMessaging(env);
  });

  let edgeKeys: AgentKeys;
  let edge: { cert: string; uid: string; jwt: string } = { cert: '', uid: '', jwt: '' };

  it('shows a code once, pairs once with it, and refuses the second use', async function () {
    await kube().apply(agentManifest('edge', ans));
    const { code, codeID, pin, server } = await codeOf('edge', ans);
    assert.equal(server, address, 'the code Secret says where to pair');
    assert.match(code, /^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    assert.match(pin, /^sha256:[0-9a-f]{64}$/);
    const pending = await eventually('status.pairing Pending', async () => {
      const v = await getAgent('edge', ans);
      return v?.status?.pairing?.state === 'Pending' ? v : undefined;
    });
    assert.equal(pending.status?.pairing?.codeID, codeID);
    assert.ok(
      !JSON.stringify(pending.status).includes(code.replace(/-/g, '')),
      'status never shows the code',
    );
    assert.equal(
      await kube().get({ kind: 'Secret', name: 'edge-nats-creds', namespace: ans }),
      undefined,
      'no seed-bearing credentials Secret in pairing mode',
    );

    edgeKeys = await agentKeys();
    const res = await pair(code.toLowerCase().replace(/-/g, ' '), edgeKeys, a);
    assert.ok(res.ok, `pairs: ${res.ok ? '' : res.details}`);
    assert.equal(res.value.clusterAgent, 'edge');
    assert.equal(res.value.namespace, ans);
    assert.equal(res.value.codeId, codeID);
    assert.match(res.value.credentials.natsUserJwt, /^ey/);
    assert.ok(res.value.credentials.renewAfter < res.value.credentials.notAfter);
    edge = {
      cert: res.value.credentials.clientCertificate,
      uid: pending.metadata.uid ?? '',
      jwt: res.value.credentials.natsUserJwt,
    };

    const again = await pair(code, await agentKeys(), a);
    assert.ok(!again.ok && again.code === status.PERMISSION_DENIED, 'the second use is refused');
    assert.match(again.ok ? '' : again.details, /not valid/);
    const paired = await eventually('status.pairing Paired, the code Secret gone', async () => {
      const v = await getAgent('edge', ans);
      const shown = await kube().get({ kind: 'Secret', name: 'edge-pairing-code', namespace: ans });
      return v?.status?.pairing?.state === 'Paired' && !shown ? v : undefined;
    });
    assert.equal(condition(paired, 'CredentialsReady')?.reason, 'Paired');
    assert.ok(paired.status?.pairing?.certificateSerial);
  });

  it("refuses an expired code and another tenant's agent's code with the same clear error", async function () {
    await kube().apply(agentManifest('late', ans, { ttl: '10s' }));
    const late = await codeOf('late', ans);
    await eventually(
      'the code Expired',
      async () => (await getAgent('late', ans))?.status?.pairing?.state === 'Expired',
      60_000,
    );
    const expired = await pair(late.code, await agentKeys());
    assert.ok(!expired.ok && expired.code === status.PERMISSION_DENIED, 'an expired code is refused');
    assert.equal(
      await kube().get({ kind: 'Secret', name: 'late-pairing-code', namespace: ans }),
      undefined,
      'the expired code is no longer shown',
    );

    await kube().apply(agentManifest('other', bns));
    const other = await codeOf('other', bns);
    const crossed = await pair(other.code, await agentKeys(), a);
    assert.ok(
      !crossed.ok && crossed.code === status.PERMISSION_DENIED,
      "B's code is refused to an agent joining A",
    );
    assert.equal(
      crossed.ok ? '' : crossed.details,
      expired.ok ? '' : expired.details,
      'one message for every bad code',
    );
    assert.equal(
      (await getAgent('other', bns))?.status?.pairing?.state,
      'Pending',
      "B's code is still unused",
    );
  });

  it('heartbeats over gRPC turn the ClusterAgent Connected=True, with health and statistics', async function () {
    const ch = channel(edge.cert, edgeKeys.keyPem);
    const t0 = Date.now();
    const r = await ch.report({ health: 'HEALTH_DEGRADED', statistics: { nodes: '3' } });
    assert.ok(r.ok, `report accepted: ${r.ok ? '' : r.details}`);
    const v = await eventually('Connected=True', async () => {
      await ch.report({ health: 'HEALTH_DEGRADED', statistics: { nodes: '3' } });
      const x = await getAgent('edge', ans);
      return condition(x, 'Connected')?.status === 'True' ? x : undefined;
    });
    assert.equal(v.status?.health, 'Degraded');
    assert.deepEqual(v.status?.statistics, { nodes: '3' });
    console.log(`      report to Connected=True: ${Date.now() - t0} ms`);
  });

  it("an agent of tenant A cannot act as tenant B: B's names in metadata, a self-made certificate with B's SAN", async function () {
    // B's agent pairs honestly, then stays silent.
    const bKeys = await agentKeys();
    const other = await getAgent('other', bns);
    const code = (await codeOf('other', bns)).code;
    const paired = await pair(code, bKeys, b);
    assert.ok(paired.ok, 'B pairs');
    const aCh = channel(edge.cert, edgeKeys.keyPem);
    const md = new Metadata();
    md.set('tenant', b);
    md.set('x-palisade-cluster-agent', `${bns}/other`);
    const r = await aCh.report({ health: 'HEALTH_UNHEALTHY' }, md);
    assert.ok(r.ok, "A's report is A's, whatever the metadata says");
    const tenantB = await getTenant(b);
    const installation = await kube().get<ConfigMap>({
      kind: 'ConfigMap',
      name: 'palisade-installation',
      namespace: env.operatorNs,
    });
    const installationID = (
      JSON.parse(installation?.data?.['installation.json'] ?? '{}') as { installationID: string }
    ).installationID;
    const bUri = identityURI({
      installationID,
      tenantUID: tenantB?.status?.uid ?? '',
      clusterAgentUID: other?.metadata.uid ?? '',
    });
    const forged = channel(await selfMadeCertificate(edgeKeys, bUri), edgeKeys.keyPem);
    const f = await forged.report({ health: 'HEALTH_HEALTHY' });
    assert.ok(
      !f.ok && f.code === status.UNAUTHENTICATED,
      `a self-made certificate is refused (${f.ok ? '' : f.code})`,
    );
    const fr = await forged.renew(await agentKeys());
    assert.ok(!fr.ok, 'a self-made certificate cannot renew');
    const bAgent = await getAgent('other', bns);
    assert.notEqual(condition(bAgent, 'Connected')?.status, 'True', "B's agent was never heard from");
    const aAgent = await eventually('A shows its own Unhealthy report', async () => {
      const x = await getAgent('edge', ans);
      return x?.status?.health === 'Unhealthy' ? x : undefined;
    });
    assert.equal(aAgent.metadata.name, 'edge');
  });

  it('renews without a dropped report; the certificate before the previous one is refused', async function () {
    const old = channel(edge.cert, edgeKeys.keyPem);
    let reports = 0;
    let refused = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const r = await old.report({});
        if (r.ok) reports++;
        else refused++;
      }
    })();
    const k2 = await agentKeys();
    const renewed = await old.renew(k2);
    assert.ok(renewed.ok, `renews: ${renewed.ok ? '' : renewed.details}`);
    const second = channel(renewed.value.credentials.clientCertificate, k2.keyPem);
    const r2 = await second.report({});
    assert.ok(r2.ok, 'the new certificate reports at once');
    stop = true;
    await loop;
    assert.equal(refused, 0, `no report dropped during renewal (${reports} accepted)`);
    assert.ok((await old.report({})).ok, 'the previous certificate still reports until the next renewal');
    const k3 = await agentKeys();
    const again = await second.renew(k3);
    assert.ok(again.ok, 'renews again');
    const gone = await old.report({});
    assert.ok(!gone.ok && gone.code === status.PERMISSION_DENIED, 'two renewals back is refused');
    edge = {
      ...edge,
      cert: again.value.credentials.clientCertificate,
      jwt: again.value.credentials.natsUserJwt,
    };
    edgeKeys = k3;
  });

  it('asks the agent to renew (refresh-credentials on its Commands stream) when spec.credentialRotationTrigger changes', async function () {
    const ch = channel(edge.cert, edgeKeys.keyPem);
    const stream = ch.commands();
    await eventually('report-now', async () => stream.received.some((c) => c.verb === 'report-now'), 10_000);
    const a = (await getAgent('edge', ans)) as ClusterAgent;
    await kube().apply({
      ...a,
      metadata: { name: 'edge', namespace: ans },
      spec: { ...a.spec, credentialRotationTrigger: 'r1' },
    } as KubeObject);
    await eventually(
      'refresh-credentials',
      async () => stream.received.some((c) => c.verb === 'refresh-credentials'),
      10_000,
    );
    const k = await agentKeys();
    const renewed = await ch.renew(k);
    assert.ok(renewed.ok, 'the agent renews');
    stream.cancel();
    edge = {
      ...edge,
      cert: renewed.value.credentials.clientCertificate,
      jwt: renewed.value.credentials.natsUserJwt,
    };
    edgeKeys = k;
    const again = channel(edge.cert, edgeKeys.keyPem).commands();
    await eventually('report-now', async () => again.received.some((c) => c.verb === 'report-now'), 10_000);
    assert.ok(!again.received.some((c) => c.verb === 'refresh-credentials'), 'no refresh asked once renewed');
    again.cancel();
  });

  it('deleting the ClusterAgent cuts both channels within 5 s: its Commands stream ends, reports and its NATS user are refused', async function () {
    const creds = formatCreds(edge.jwt, edgeKeys.nats.seed);
    assert.equal(await agentConnects(env, creds), true, 'the paired NATS user connects');
    const ch = channel(edge.cert, edgeKeys.keyPem);
    const stream = ch.commands();
    await eventually(
      'the stream delivers report-now',
      async () => stream.received.some((c) => c.verb === 'report-now'),
      10_000,
    );
    const t0 = Date.now();
    await kube().delete({ kind: 'ClusterAgent', name: 'edge', namespace: ans });
    const ended = await Promise.race([
      stream.ended,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000)),
    ]);
    const ms = Date.now() - t0;
    assert.ok(ended, 'the stream ended within 5 s');
    assert.equal(ended.code, status.PERMISSION_DENIED);
    const r = await ch.report({});
    assert.ok(!r.ok && r.code === status.PERMISSION_DENIED, 'reports are refused');
    await eventually(
      'the NATS user refused',
      async () => (await agentConnects(env, creds)) !== true,
      5_000 - (Date.now() - t0),
      100,
    );
    console.log(`      delete to stream end: ${ms} ms; to NATS refusal: ${Date.now() - t0} ms`);
  });

  it('1,000 wrong guesses are rate-limited and pair nothing', async function () {
    await kube().apply(agentManifest('target', ans));
    await codeOf('target', ans);
    const keys = await agentKeys();
    const counts = new Map<number | 'ok', number>();
    const retryAfter = new Set<string>();
    const guess = () =>
      Array.from({ length: 12 }, () => CODE_ALPHABET[(randomBytes(1)[0] ?? 0) % CODE_ALPHABET.length]).join(
        '',
      );
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => pair(guess(), keys)));
      for (const r of batch) {
        const k = r.ok ? 'ok' : r.code;
        if (!r.ok && r.retryAfter) retryAfter.add(r.retryAfter);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    }
    console.log(`      outcomes: ${JSON.stringify(Object.fromEntries(counts))}`);
    assert.equal(counts.get('ok') ?? 0, 0, 'no guess pairs');
    assert.ok((counts.get(status.RESOURCE_EXHAUSTED) ?? 0) >= 980, 'all but the first few are rate-limited');
    assert.ok(retryAfter.size && [...retryAfter].every((v) => Number(v) > 0), 'refusals say when to retry');
    assert.equal(
      (await getAgent('target', ans))?.status?.pairing?.state,
      'Pending',
      'the real code is untouched',
    );
  });
});
