import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { deleteTenants, kube, tenantManifest, uniqueName } from './support/cluster.ts';
import { eventually } from './support/operator.ts';
import { mountSecret, startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';
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

  before(async function () {
    // A short refresh so the coarse lastHeartbeat write is observable within the test.
    env = await startMessaging(uniqueName('palisade-agent'), 'agent-suite', {
      PALISADE_AGENT_STATUS_REFRESH_MS: '5000',
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
    await deleteTenants([tenant]);
    await stopMessaging(env);
  });

  it('goes Connected=True while the reference agent runs, with its health and statistics', async function () {
    const secret = await eventually(
      'the credentials Secret',
      () => kube().get<Secret>({ kind: 'Secret', name: 'edge-nats-creds', namespace: ns }),
      60_000,
    );
    const dir = await mountSecret(secret, await scratchDir('palisade-agent-'));
    agent = spawn(
      process.execPath,
      [path.join(repo, 'agent/main.ts'), '--secret-dir', dir, '--server', env.server, '--interval', '1s'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
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
