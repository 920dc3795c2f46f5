import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import { ApiError } from '../../controllers/runtime/kube/errors.ts';
import { testEnv } from '../testenv/env.ts';
import { natsGreets } from './net.ts';

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function exists(args: string[]): Promise<boolean> {
  return (await testEnv().kubectl(['get', ...args], { allowFail: true })).code === 0;
}

function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e4)}`;
}

function configMap(name: string, namespace: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...extra } });
}

describe('the local control plane', () => {
  it('serves Kubernetes v1.34.4 to kubectl', async () => {
    const { stdout } = await testEnv().kubectl(['get', '--raw', '/version']);
    assert.equal((JSON.parse(stdout) as { gitVersion: string }).gitVersion, 'v1.34.4');
  });

  it('has the cert-manager CRDs established', async () => {
    const { stdout } = await testEnv().kubectl(['get', 'crd', 'certificates.cert-manager.io', '-o', 'json']);
    const crd = JSON.parse(stdout) as { status: { conditions: { type: string; status: string }[] } };
    assert.ok(crd.status.conditions.some((c) => c.type === 'Established' && c.status === 'True'));
  });

  it("accepts its admin kubeconfig from the operator's own client", async () => {
    const client = new KubeClient(loadKubeConfig(testEnv().kubeconfig), 'controlplane-test');
    const list = await client.list('Namespace');
    assert.ok(list.items.some((ns) => ns.metadata.name === 'kube-system'));
  });

  it('finishes deleting a namespace and everything in it', async () => {
    const ns = uniqueName('ns-delete');
    await testEnv().kubectl(['create', 'namespace', ns]);
    await testEnv().kubectl(['apply', '-f', '-'], { input: configMap('inside', ns) });
    await testEnv().kubectl(['delete', 'namespace', ns, '--wait=false']);
    await eventually(`namespace ${ns} to disappear`, async () => !(await exists(['namespace', ns])));
  });

  it('garbage-collects a ConfigMap whose owner is deleted', async () => {
    const ns = 'default';
    const owner = uniqueName('owner');
    const { stdout } = await testEnv().kubectl(['create', '-f', '-', '-o', 'json'], {
      input: configMap(owner, ns),
    });
    const uid = (JSON.parse(stdout) as { metadata: { uid: string } }).metadata.uid;
    const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner, uid }];
    await testEnv().kubectl(['create', '-f', '-'], {
      input: configMap(`${owner}-child`, ns, { ownerReferences }),
    });
    await testEnv().kubectl(['delete', 'configmap', owner, '-n', ns]);
    await eventually(
      'the owned ConfigMap to be collected',
      async () => !(await exists(['configmap', `${owner}-child`])),
    );
  });

  it('keeps its data across an apiserver stop and start', async () => {
    const name = uniqueName('survivor');
    await testEnv().kubectl(['create', 'configmap', name, '--from-literal=k=v']);
    await testEnv().stopApiserver();
    const down = await testEnv().kubectl(['get', 'configmap', name, '--request-timeout=2s'], {
      allowFail: true,
    });
    assert.notEqual(down.code, 0);
    await testEnv().startApiserver();
    const { stdout } = await testEnv().kubectl(['get', 'configmap', name, '-o', 'jsonpath={.data.k}']);
    assert.equal(stdout, 'v');
  });

  it('writes kubeconfigs for other identities that RBAC sees as such', async () => {
    const kubeconfig = await testEnv().kubeconfigFor('alice', ['team-a']);
    const { stdout } = await testEnv().kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig });
    const info = (JSON.parse(stdout) as { status: { userInfo: { username: string; groups: string[] } } })
      .status;
    assert.equal(info.userInfo.username, 'alice');
    assert.deepEqual([...info.userInfo.groups].sort(), ['system:authenticated', 'team-a']);
    const denied = await testEnv().kubectl(['auth', 'can-i', 'list', 'secrets'], {
      kubeconfig,
      allowFail: true,
    });
    assert.equal(denied.stdout.trim(), 'no');
    const client = new KubeClient(loadKubeConfig(kubeconfig), 'controlplane-test');
    await assert.rejects(client.list('Namespace'), (e) => e instanceof ApiError && e.code === 403);
  });

  it('restarts NATS on the same URL, with or without its store', async () => {
    const url = testEnv().natsUrl;
    assert.ok(url);
    const port = Number(new URL(url).port);
    await testEnv().restartNats();
    assert.equal(testEnv().natsUrl, url);
    assert.ok(await natsGreets(port));
    await testEnv().restartNats({ wipeStore: true });
    assert.ok(await natsGreets(port));
  });
});

// A process that is gone, or a zombie nobody has reaped yet.
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

interface FixtureOutput {
  pids: Record<string, number>;
  dir: string;
  etcdData: string;
}

function startFixture(): Promise<{ pid: number; out: FixtureOutput }> {
  const fixture = path.join(import.meta.dirname, 'testdata', 'orphan-fixture.ts');
  const proc = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buffered = '';
    proc.stdout.on('data', (c: Buffer) => {
      buffered += c.toString();
      const line = buffered.split('\n')[0];
      if (buffered.includes('\n') && line)
        resolve({ pid: proc.pid ?? 0, out: JSON.parse(line) as FixtureOutput });
    });
    proc.once('exit', (code) => reject(new Error(`fixture exited early (code ${code})`)));
  });
}

describe('a control plane whose starter is killed', () => {
  it('stops every process and removes its temporary state within seconds', async () => {
    const { pid, out } = await startFixture();
    const pids = Object.values(out.pids);
    assert.ok(
      pids.length >= 3,
      `expected etcd, kube-apiserver and nats-server, got ${JSON.stringify(out.pids)}`,
    );
    assert.ok(pids.every(running));
    process.kill(pid, 'SIGKILL');
    await eventually('the orphans to exit', async () => !pids.some(running), 10_000);
    await eventually(
      'the state dirs to be removed',
      async () => !existsSync(out.dir) && !existsSync(out.etcdData),
      5_000,
    );
  });
});
