// Watches as HTTP/2 streams on shared connections (kube/watch.ts, kube/sessions.ts), against the real
// kube-apiserver of the test control plane.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { testEnv } from '../../../hack/testenv/env.ts';
import { systemClock } from '../clock.ts';
import { Informer } from '../informer.ts';
import { KubeClient, loadKubeConfig } from './client.ts';
import { ApiError } from './errors.ts';
import type { ConfigMap } from './types.ts';
import { LongWatch, watchStats } from './watch.ts';

const eventually = async (what: string, fn: () => boolean, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const configMap = (namespace: string, name: string, labels: Record<string, string>): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace, labels },
});

describe('runtime/kube/watch: watches as HTTP/2 streams on shared connections, on the real apiserver', function () {
  this.timeout(180_000);
  const namespace = `watch-${randomBytes(3).toString('hex')}`;
  let admin: KubeClient;

  before(async () => {
    admin = new KubeClient(loadKubeConfig(testEnv().kubeconfig), 'watch-test');
    await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  });
  after(() => admin.delete({ kind: 'Namespace', name: namespace }));

  it('carries 300 watches on at most 3 connections, each seeing only its own events and bookmarks; aborting ends a stream without calling done', async () => {
    const before = watchStats();
    const watch = new LongWatch(admin.kubeConfig);
    const seen: string[][] = Array.from({ length: 300 }, () => []);
    let bookmarks = 0;
    const dones: unknown[] = [];
    const path = `/api/v1/namespaces/${namespace}/configmaps`;
    const controllers = await Promise.all(
      seen.map((events, i) =>
        watch.watch(
          path,
          { labelSelector: `watch-test=w${i}` },
          (phase, obj) =>
            phase === 'BOOKMARK' ? bookmarks++ : events.push(`${phase} ${(obj as ConfigMap).metadata.name}`),
          (err) => dones.push(err),
        ),
      ),
    );
    try {
      const open = watchStats();
      assert.equal(open.streams - before.streams, 300);
      assert.ok(open.connections - before.connections <= 3, `${open.connections} connections`);
      await admin.create(configMap(namespace, 'for-7', { 'watch-test': 'w7' }));
      await admin.create(configMap(namespace, 'for-299', { 'watch-test': 'w299' }));
      await eventually('both events', () => seen[7]?.length === 1 && seen[299]?.length === 1);
      assert.deepEqual([seen[7], seen[299]], [['ADDED for-7'], ['ADDED for-299']]);
      assert.equal(seen.flat().length, 2, 'no other watch saw them');
      await eventually('bookmarks (asked for on every watch)', () => bookmarks > 0, 90_000);
    } finally {
      for (const c of controllers) c.abort();
    }
    assert.equal(watchStats().streams, before.streams);
    assert.deepEqual(dones, []);
  });

  it('reports a refused watch to done with its HTTP code and Status reason', async () => {
    const nobody = loadKubeConfig(await testEnv().kubeconfigFor('watch-test-nobody'));
    const refused = await new Promise<unknown>((resolve) => {
      void new LongWatch(nobody).watch(
        `/api/v1/namespaces/${namespace}/secrets`,
        {},
        () => undefined,
        resolve,
      );
    });
    assert.ok(refused instanceof ApiError, String(refused));
    assert.deepEqual([refused.code, refused.reason], [403, 'Forbidden']);
  });

  it('lets an informer recover when the apiserver restarts, on a new connection, and see what changed meanwhile', async () => {
    const informer = new Informer<ConfigMap>(admin, {
      kind: 'ConfigMap',
      namespace,
      labelSelector: 'watch-test=restart',
      clock: systemClock,
      minBackoffMs: 200,
      maxBackoffMs: 2000,
    });
    await informer.start();
    try {
      await informer.waitForSync();
      await testEnv().stopApiserver();
      await testEnv().startApiserver();
      await admin.create(configMap(namespace, 'after-restart', { 'watch-test': 'restart' }));
      await eventually(
        'the informer to see the ConfigMap',
        () => !!informer.get('after-restart', namespace),
        60_000,
      );
      await admin.create(configMap(namespace, 'by-watch', { 'watch-test': 'restart' }));
      await eventually('the watch to deliver the next one', () => !!informer.get('by-watch', namespace));
      assert.ok(watchStats().streams >= 1);
    } finally {
      await informer.stop();
    }
  });
});
