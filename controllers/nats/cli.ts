#!/usr/bin/env node
/**
 * node controllers/nats/cli.ts write-config --namespace NS --dir DIR [--kubeconfig K] [--resolver-dir R] [--wait 120]
 *
 * Waits (up to --wait seconds) for the operator to bootstrap NATS, then writes nats.conf, tls.crt,
 * tls.key and ca.crt into DIR for a local nats-server (`nats-server -c DIR/nats.conf`).
 */
import { parseArgs } from 'node:util';
import { KubeClient, loadKubeConfig } from '../runtime/kube/client.ts';
import { writeLocalServerConfig } from './localconfig.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kubeconfig: { type: 'string' },
    namespace: { type: 'string', default: 'palisade-system' },
    dir: { type: 'string' },
    'resolver-dir': { type: 'string' },
    wait: { type: 'string', default: '120' },
  },
});
if (positionals[0] !== 'write-config' || !values.dir) {
  process.stderr.write(
    'usage: cli.ts write-config --dir DIR [--namespace NS] [--kubeconfig K] [--resolver-dir R] [--wait S]\n',
  );
  process.exit(2);
}
const client = new KubeClient(loadKubeConfig(values.kubeconfig), 'palisade-nats-cli');
const deadline = Date.now() + Number(values.wait) * 1000;
for (;;) {
  const files = await writeLocalServerConfig(
    client,
    values.namespace,
    values.dir,
    values['resolver-dir'],
  ).catch(() => undefined);
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
