import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { deleteTenants, kube, tenantManifest, uniqueName } from './support/cluster.ts';
import { eventually } from './support/operator.ts';
import { mountSecret, startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';
import { writeLocalTlsFiles } from '../controllers/nats/localconfig.ts';
import { secretText } from '../controllers/nats/secrets.ts';
import { testEnv } from '../hack/testenv/env.ts';
import { scratchDir } from '../hack/controlplane/proc.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface AgentView extends KubeObject {
  status?: {
    lastHeartbeat?: string;
    health?: string;
    statistics?: Record<string, string>;
    conditions?: { type: string; status: string; reason: string }[];
  };
}

const connected = (a: AgentView | undefined) => a?.status?.conditions?.find((c) => c.type === 'Connected');

describe('Reference agent: heartbeats over TLS make a ClusterAgent Connected', function () {
  this.timeout(180_000);
  let env: MessagingEnv;
  let agent: ChildProcess | undefined;
  const tenant = uniqueName('hb');
  const ns = `tenant-${tenant}`;
  let dir = '';
  let out = '';
  let firstIssued: Secret | undefined;
  const extraTenants: string[] = [];
  const getAgent = () => kube().get<AgentView>({ kind: 'ClusterAgent', name: 'edge', namespace: ns });

  before(async function () {
    // A short refresh so the coarse lastHeartbeat write is observable within the test; agents'
    // certificates of 5 s make an internal CA rotation overlap 10 s.
    env = await startMessaging(uniqueName('palisade-agent'), 'agent-suite', {
      PALISADE_AGENT_STATUS_REFRESH_MS: '5000',
      PALISADE_AGENT_CERT_LIFETIME_MS: '5000',
    });
    await kube().apply(tenantManifest(tenant));
    await eventually('the tenant namespace', () => kube().get({ kind: 'Namespace', name: ns }));
    await kube().apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'edge', namespace: ns },
      spec: { clusterName: 'edge-cluster', heartbeatDeadline: '10s' },
    } as KubeObject);
  });

  after(async function () {
    agent?.kill('SIGKILL');
    await deleteTenants([tenant, ...extraTenants]);
    await stopMessaging(env);
  });

  it('goes Connected=True while the reference agent runs, with its health and statistics', async function () {
    const secret = await eventually(
      'the credentials Secret',
      () => kube().get<Secret>({ kind: 'Secret', name: 'edge-nats-creds', namespace: ns }),
      60_000,
    );
    firstIssued = secret;
    dir = await mountSecret(secret, await scratchDir('palisade-agent-'));
    agent = spawn(
      process.execPath,
      [path.join(repo, 'agent/main.ts'), '--secret-dir', dir, '--server', env.server, '--interval', '1s'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    agent.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const t0 = Date.now();
    const a = await eventually(
      'Connected=True',
      async () => {
        const v = await kube().get<AgentView>({ kind: 'ClusterAgent', name: 'edge', namespace: ns });
        return connected(v)?.status === 'True' ? v : undefined;
      },
      30_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\nagent output:\n${out}`);
    });
    console.log(`      Connected=True ${Date.now() - t0} ms after the agent started`);
    assert.equal(a.status?.health, 'Healthy');
    assert.ok(a.status?.lastHeartbeat);
    const withStats = await eventually(
      'statistics in status',
      async () => {
        const v = await kube().get<AgentView>({ kind: 'ClusterAgent', name: 'edge', namespace: ns });
        return v?.status?.statistics?.heartbeats ? v : undefined;
      },
      30_000,
    );
    assert.match(withStats.status?.statistics?.uptimeSeconds ?? '', /^\d+$/);
  });

  it('keeps reporting through an internal CA rotation and a nats-server restart on the new CA', async function () {
    const secret = (name: string, namespace = env.operatorNs) =>
      kube().get<Secret>({ kind: 'Secret', name, namespace });
    const natsCA = async () => (await secret('palisade-nats-tls'))?.metadata.labels?.['palisade.dev/ca-id'];
    const v1 = await natsCA();
    assert.ok(v1, 'the NATS server certificate names its CA');
    const v1Pem = secretText((await secret('palisade-internal-ca-v1')) as Secret, 'tls.crt').trim();
    const annotated = await testEnv().kubectl(
      ['annotate', 'secret', '-n', env.operatorNs, 'palisade-internal-ca-v1', 'palisade.dev/rotate=true'],
      { allowFail: true },
    );
    assert.equal(annotated.code, 0, annotated.stderr);
    const v2Pem = secretText(
      await eventually('CA v2', () => secret('palisade-internal-ca-v2'), 30_000),
      'tls.crt',
    ).trim();

    // Through the overlap the delivered bundle holds both CAs; then nats-server's certificate moves to
    // v2 and v1 is retired, and the bundle beside the credentials holds v2 alone.
    const creds = () => secret('edge-nats-creds', ns);
    const both = await eventually(
      'the delivered ca.crt with both CAs',
      async () => {
        const c = secretText((await creds()) as Secret, 'ca.crt');
        return c.includes(v2Pem) && c.includes(v1Pem) ? c : undefined;
      },
      30_000,
    );
    assert.ok(both);
    await eventually(
      'the NATS server certificate of CA v2',
      async () => ((await natsCA()) !== v1 ? true : undefined),
      60_000,
    );
    await eventually(
      'CA v1 retired',
      async () =>
        (await secret('palisade-internal-ca-v1'))?.metadata.annotations?.['palisade.dev/retired'] === 'true',
      60_000,
    );
    const delivered = await eventually(
      'the delivered ca.crt with CA v2 alone',
      async () => {
        const s = await creds();
        const c = s ? secretText(s, 'ca.crt') : '';
        return c.includes(v2Pem) && !c.includes(v1Pem) ? s : undefined;
      },
      30_000,
    );
    assert.ok(firstIssued);
    assert.equal(
      secretText(delivered, 'agent.creds'),
      secretText(firstIssued, 'agent.creds'),
      'the same credentials',
    );

    // What the kubelet does to a mounted Secret, then nats-server restarted on its v2 certificate (as
    // a rescheduled pod is): every client must reconnect trusting v2, the operator's own included.
    await mountSecret(delivered, dir);
    await writeLocalTlsFiles(env.serverDir, (await secret('palisade-nats-tls')) as Secret);
    const restartedAt = Date.now();
    await testEnv().restartNats({ configFile: env.serverConfig });
    const beat = await eventually(
      'a heartbeat written after the restart',
      async () => {
        const a = await getAgent();
        return Date.parse(a?.status?.lastHeartbeat ?? '') > restartedAt + 1_000 ? a : undefined;
      },
      30_000,
    ).catch(async (e: unknown) => {
      const tail = (text: string) => text.split('\n').slice(-40).join('\n');
      const status = JSON.stringify((await getAgent())?.status);
      throw new Error(
        `${String(e)} (restarted at ${new Date(restartedAt).toISOString()})\nstatus: ${status}\n` +
          `agent output:\n${tail(out)}\noperator output:\n${tail(env.op.output())}`,
      );
    });
    assert.equal(connected(beat)?.status, 'True');
    // A Tenant made now gets its NATS account through the operator's reconnected resolver connection.
    const later = uniqueName('hb');
    extraTenants.push(later);
    await kube().apply(tenantManifest(later));
    await eventually(
      'the new Tenant MessagingReady',
      async () =>
        (
          await kube().get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>({
            kind: 'Tenant',
            name: later,
          })
        )?.status?.conditions?.find((c) => c.type === 'MessagingReady')?.status === 'True',
      60_000,
    );
  });

  it('goes Connected=False within the heartbeat deadline after the agent stops', async function () {
    agent?.kill('SIGTERM');
    const stopped = Date.now();
    const a = await eventually(
      'Connected=False',
      async () => {
        const v = await kube().get<AgentView>({ kind: 'ClusterAgent', name: 'edge', namespace: ns });
        return connected(v)?.status === 'False' ? v : undefined;
      },
      10_000 + 20_000,
    );
    console.log(`      Connected=False ${Date.now() - stopped} ms after the agent stopped (deadline 10s)`);
    assert.equal(connected(a)?.reason, 'HeartbeatMissed');
    assert.equal(a.status?.health, 'Unhealthy');
  });
});
