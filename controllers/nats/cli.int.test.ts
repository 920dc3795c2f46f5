// `cli.ts watch-tls` against the real API server: the local stand-in for the chart's reloader (make demo).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureNamespace, kube, uniqueName } from '../../e2e/support/cluster.ts';
import { eventually } from '../../e2e/support/operator.ts';
import { scratchDir } from '../../hack/controlplane/proc.ts';
import { testEnv } from '../../hack/testenv/env.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { writeLocalTlsFiles } from './localconfig.ts';
import { NATS_SECRETS } from './secrets.ts';

const CLI = path.join(import.meta.dirname, 'cli.ts');

function tlsSecret(namespace: string, version: string): Secret {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: NATS_SECRETS.tls, namespace },
    data: {
      'tls.crt': b64(`FAKE certificate ${version}\n`),
      'tls.key': b64(`FAKE key ${version}\n`),
      'ca.crt': b64(`FAKE CA ${version}\n`),
    },
  };
}

/** A process standing for nats-server: writes its pid file, counts the SIGHUPs it gets. */
function fakeServer(pidFile: string): { child: ChildProcess; hangups: () => number } {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
       process.on('SIGHUP', () => console.log('HUP'));
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, hangups: () => out.match(/HUP/g)?.length ?? 0 };
}

describe('nats cli watch-tls (real API server)', function () {
  this.timeout(60_000);
  const children: ChildProcess[] = [];
  after(() => children.forEach((c) => c.kill('SIGKILL')));

  it('rewrites the TLS files when palisade-nats-tls changes and signals the process in the pid file once', async function () {
    const namespace = uniqueName('palisade-nats-cli');
    await ensureNamespace(namespace);
    await kube().create(tlsSecret(namespace, 'v1'));
    const dir = await scratchDir('palisade-nats-cli-');
    await writeLocalTlsFiles(dir, tlsSecret(namespace, 'v1'));
    const server = fakeServer(path.join(dir, 'nats.pid'));
    children.push(server.child);
    await eventually('the pid file', () =>
      readFile(path.join(dir, 'nats.pid'), 'utf8').catch(() => undefined),
    );

    const watch = spawn(
      process.execPath,
      [
        CLI,
        'watch-tls',
        `--kubeconfig=${testEnv().kubeconfig}`,
        `--namespace=${namespace}`,
        `--dir=${dir}`,
        `--pid-file=${path.join(dir, 'nats.pid')}`,
        '--interval=1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(watch);
    let out = '';
    watch.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    watch.stderr?.on('data', (d: Buffer) => (out += d.toString()));

    const current = (await kube().get<Secret>({
      kind: 'Secret',
      name: NATS_SECRETS.tls,
      namespace,
    })) as Secret;
    await kube().update({ ...tlsSecret(namespace, 'v2'), metadata: current.metadata });
    await eventually(
      'the new files, then nats-server signalled',
      async () =>
        (await readFile(path.join(dir, 'tls.crt'), 'utf8')) === 'FAKE certificate v2\n' &&
        server.hangups() > 0,
      30_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${out}`);
    });
    assert.equal(await readFile(path.join(dir, 'tls.key'), 'utf8'), 'FAKE key v2\n');
    assert.equal(await readFile(path.join(dir, 'ca.crt'), 'utf8'), 'FAKE CA v2\n');
    // Unchanged files are no reason to signal: rounds after the change leave the count where it is.
    await new Promise((r) => setTimeout(r, 2_500)); // two more rounds of the 1 s watch
    assert.equal(server.hangups(), 1, out);
    await kube().delete({ kind: 'Namespace', name: namespace });
  });
});
