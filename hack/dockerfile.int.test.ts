/**
 * There is no container engine here, so the Dockerfile is checked by its rules and by running its build
 * steps outside an image: the files its build stage copies, its RUN commands, then the final stage's
 * contents started the way the chart's Deployment starts the image, against the real control plane.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { operatorContainer, renderChart } from './chart.ts';
import { REPO_ROOT } from './controlplane/binaries.ts';
import { testEnv } from './testenv/env.ts';
import {
  ensureNamespace,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from '../e2e/support/cluster.ts';
import { eventually } from '../e2e/support/operator.ts';

const run = promisify(execFile);

interface Stage {
  from: string;
  name?: string;
  steps: { op: string; args: string }[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stages.push({ from: m?.[1] ?? '', ...(m?.[2] ? { name: m[2] } : {}), steps: [] });
    } else {
      stages.at(-1)?.steps.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

describe('Dockerfile', function () {
  let stages: Stage[];
  let work: string;

  before(async function () {
    stages = parseDockerfile(await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-image-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('builds on pinned bases and runs as a non-root user on distroless Node 24', function () {
    assert.equal(stages.length, 2);
    for (const s of stages) assert.doesNotMatch(s.from, /:latest$|^[^:]+$/, `${s.from} is pinned`);
    const final = stages[1] as Stage;
    assert.match(final.from, /^gcr\.io\/distroless\/nodejs24-/);
    const user = final.steps.filter((s) => s.op === 'USER').at(-1);
    assert.ok(user && !/^(root|0)(:|$)/.test(user.args), 'the final stage sets a non-root USER');
    assert.ok(final.steps.some((s) => s.op === 'CMD'));
    assert.ok(
      (stages[0] as Stage).steps.some((s) => s.op === 'RUN' && /npm ci\b/.test(s.args)),
      'dependencies come from the lockfile (npm ci)',
    );
  });

  it('produces an operator that reconciles a Tenant when its build steps run outside an image', async function () {
    this.timeout(10 * 60_000);
    const build = path.join(work, 'src');
    const app = path.join(work, 'app');
    for (const step of (stages[0] as Stage).steps) {
      if (step.op === 'COPY') {
        const parts = step.args.split(/\s+/);
        for (const src of parts.slice(0, -1))
          await cp(path.join(REPO_ROOT, src), path.join(build, src), { recursive: true });
      } else if (step.op === 'RUN') {
        await run('bash', ['-euo', 'pipefail', '-c', step.args], { cwd: build, maxBuffer: 64 << 20 });
      }
    }
    for (const step of (stages[1] as Stage).steps.filter((s) => s.op === 'COPY')) {
      const m = /--from=\S+\s+(\S+)\s+(\S+)/.exec(step.args);
      assert.ok(m, `final-stage COPY comes from the build stage: ${step.args}`);
      await cp(path.join(build, (m[1] as string).replace(/^\/src\/?/, '')), path.join(app, m[2] as string), {
        recursive: true,
      });
    }
    const cmd = JSON.parse((stages[1] as Stage).steps.find((s) => s.op === 'CMD')?.args ?? '[]') as string[];
    const ns = uniqueName('palisade-image');
    await ensureNamespace(ns);
    // The chart's container as Kubernetes starts it: the image's entrypoint (node) with the container's
    // args, which replace the image's CMD; then what differs outside a cluster (later flags win).
    // NB: messaging off: there is no NATS here.
    const container = operatorContainer(await renderChart(ns, ['--set', 'nats.enabled=false']));
    assert.ok(container, "the chart's Deployment has a container");
    assert.equal(container.command, undefined, "the chart keeps the image's entrypoint");
    const script = container.args?.indexOf(cmd[0] ?? '') ?? -1;
    assert.ok(script >= 0, "the chart's args name the image's script");
    for (const a of container.args?.slice(0, script) ?? [])
      assert.match(a, /^--/, 'only node options before it');
    const env = Object.fromEntries(
      (container.env ?? []).flatMap((e) => (e.value ? [[e.name, e.value]] : [])),
    );
    const child = spawn(
      process.execPath,
      [
        ...(container.args ?? cmd),
        `--kubeconfig=${testEnv().kubeconfig}`,
        `--namespace=${ns}`,
        '--leader-elect=false',
        '--probe-address=127.0.0.1:0',
        '--keyservice-address=127.0.0.1:0',
      ],
      {
        cwd: app,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...env, NODE_ENV: 'production' },
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    try {
      const name = uniqueName('image');
      await kube().apply(tenantManifest(name));
      await eventually(
        'the Tenant to be Ready',
        async () => {
          if (child.exitCode !== null)
            assert.fail(`the operator exited ${await exited}: ${stderr.slice(-2000)}`);
          return readyStatus(await getTenant(name))?.status === 'True';
        },
        60_000,
      );
      await kube().delete({ kind: 'Tenant', name });
    } finally {
      child.kill('SIGTERM');
    }
  });
});
