import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KubeClient } from '../runtime/kube/client.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { watchLocalServerTls } from './localconfig.ts';

/** `palisade-nats-tls` as the API server would return it; the PEM text is obviously fake. */
const tlsSecret = (version: string): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'palisade-nats-tls', namespace: 'palisade-system' },
  data: Object.fromEntries(
    ['tls.crt', 'tls.key', 'ca.crt'].map((k) => [
      k,
      Buffer.from(`FAKE ${k} ${version}\n`).toString('base64'),
    ]),
  ),
});

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
};

describe('nats/localconfig: a local nats-server told of new certificate files', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-natstls-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('asks again each round until the server could be signalled, and signals nothing once stopped', async () => {
    let secret = tlsSecret('v1');
    const client = { get: async () => secret } as unknown as KubeClient;
    let ready = false;
    const calls: boolean[] = [];
    const watch = watchLocalServerTls({
      client,
      namespace: 'palisade-system',
      dir,
      intervalMs: 5,
      onChanged: () => {
        calls.push(ready);
        return ready;
      },
    });
    try {
      // The first files are new: the server is restarting and cannot be signalled yet.
      await until('asked twice while not ready', () => calls.length >= 2);
      assert.equal(await readFile(path.join(dir, 'ca.crt'), 'utf8'), 'FAKE ca.crt v1\n');
      ready = true;
      await until('signalled once ready', () => calls.includes(true));
      const settled = calls.length;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(calls.length, settled, 'no signal for rounds without a change');
      assert.deepEqual(calls.slice(-1), [true]);
    } finally {
      watch.stop();
    }
    const stoppedAt = calls.length;
    secret = tlsSecret('v2');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls.length, stoppedAt, 'stopped: nothing is signalled');
  });
});
