#!/usr/bin/env node
/**
 * node controllers/nats/cli.ts write-config --namespace NS --dir DIR [--kubeconfig K] [--resolver-dir R] [--wait 120]
 * node controllers/nats/cli.ts watch-tls --namespace NS --dir DIR --pid-file F [--kubeconfig K] [--interval 30]
 *
 * write-config waits (up to --wait seconds) for the operator to bootstrap NATS, then writes nats.conf,
 * tls.crt, tls.key and ca.crt into DIR for a local nats-server (`nats-server -c DIR/nats.conf`).
 * watch-tls keeps DIR's TLS files current from Secret palisade-nats-tls (every --interval seconds) and
 * sends SIGHUP to the process in --pid-file (nats.conf names DIR/nats.pid) after each change: what the
 * chart's reloader does in a cluster. It runs until stopped.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { KubeClient, loadKubeConfig } from '../runtime/kube/client.ts';
import { watchLocalServerTls, writeLocalServerConfig } from './localconfig.ts';

const USAGE = `usage: cli.ts write-config --dir DIR [--namespace NS] [--kubeconfig K] [--resolver-dir R] [--wait S]
       cli.ts watch-tls --dir DIR --pid-file F [--namespace NS] [--kubeconfig K] [--interval S]
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', default: 'palisade-system' },
    dir: { type: 'string' },
    'resolver-dir': { type: 'string' },
    wait: { type: 'string', default: '120' },
    'pid-file': { type: 'string' },
    interval: { type: 'string', default: '30' },
  },
});
const command = positionals[0];
const interval = Number(values.interval);
if (
  !values.dir ||
  !(command === 'write-config' || (command === 'watch-tls' && values['pid-file'] && interval > 0))
) {
  process.stderr.write(USAGE);
  process.exit(2);
}
const dir = values.dir;
const client = new KubeClient(loadKubeConfig(values.kubeconfig), 'palisade-nats-cli');

if (command === 'watch-tls') {
  const pidFile = values['pid-file'] as string;
  watchLocalServerTls({
    client,
    namespace: values.namespace,
    dir,
    intervalMs: interval * 1000,
    onChanged: () =>
      void readFile(pidFile, 'utf8').then(
        (pid) => {
          process.kill(Number(pid.trim()), 'SIGHUP');
          process.stdout.write(`new certificate files in ${dir}; nats-server ${pid.trim()} reloads\n`);
        },
        (e: unknown) => process.stderr.write(`cannot signal nats-server: ${String(e)}\n`),
      ),
    onError: (e) => process.stderr.write(`reading Secret palisade-nats-tls failed: ${String(e)}\n`),
  });
  // NB: the watch's timer does not keep the process alive; this does, until a signal stops it.
  setInterval(() => undefined, 1 << 30);
} else {
  const deadline = Date.now() + Number(values.wait) * 1000;
  for (;;) {
    const files = await writeLocalServerConfig(client, values.namespace, dir, values['resolver-dir']).catch(
      () => undefined,
    );
    if (files) {
      process.stdout.write(`${files.configFile}\n`);
      break;
    }
    if (Date.now() > deadline) {
      process.stderr.write('timed out waiting for the operator to create Secret palisade-nats-server\n');
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
