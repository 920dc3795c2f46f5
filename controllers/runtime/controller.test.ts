import assert from 'node:assert/strict';
import { Controller } from './controller.ts';
import { FakeClock, systemClock } from './clock.ts';
import { ApiError } from './errors.ts';
import type { ObjectCache } from './informer.ts';
import type { KubeObject } from './kube/types.ts';
import { FakeCache } from './testing/cache.ts';
import { FakeApiServer } from './testing/fakeapi.ts';
import { createLogger } from './log.ts';
import { Metrics } from './metrics.ts';

/** A cache with no objects: the tests enqueue keys themselves. */
function emptyCache(): ObjectCache<KubeObject> {
  return {
    kind: 'Thing',
    on: () => undefined,
    addIndex: () => undefined,
    get: () => undefined,
    list: () => [],
    keys: () => [],
    byIndex: () => [],
    hasSynced: () => true,
    waitForSync: async () => undefined,
    start: async () => undefined,
    stop: async () => undefined,
  };
}

async function counter(metrics: Metrics, name: string): Promise<Record<string, number>> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.result ?? ''), v.value]));
}

/** A controller over an empty cache whose first reconcile throws `first` (if given), later ones succeed. */
function controllerFailingOnce(first?: Error) {
  const metrics = new Metrics();
  const seen = { calls: 0 };
  const controller = new Controller({
    name: 'things',
    primary: emptyCache(),
    clock: systemClock,
    log: createLogger({ level: 'error' }),
    metrics,
    baseDelayMs: 1,
    reconcile: async () => {
      seen.calls++;
      if (seen.calls === 1 && first) throw first;
    },
  });
  return { controller, metrics, seen };
}

/** Enqueues one key on a started controller and waits until it (and any retry) is done. */
async function runOnce(c: Controller): Promise<void> {
  c.start();
  c.enqueue('ns/a');
  await new Promise((r) => setTimeout(r, 50));
  await c.idle();
  await c.stop();
}

describe('the reconcile driver', function () {
  it('requeues a key whose write met a stale read (409 Conflict) without counting an error', async function () {
    const { controller, metrics, seen } = controllerFailingOnce(
      new ApiError(409, 'Conflict', 'the object has been modified'),
    );
    await runOnce(controller);
    assert.equal(seen.calls, 2, 'reconciled again after the conflict');
    const errors = await metrics.registry.getSingleMetric('palisade_reconcile_errors_total')?.get();
    assert.equal(errors?.values.reduce((n, v) => n + v.value, 0) ?? 0, 0, 'no error counted');
    assert.deepEqual(await counter(metrics, 'palisade_reconcile_total'), { conflict: 1, success: 1 });
  });

  it('goes again as soon as the cache catches up after a stale read, not after its backoff', async function () {
    const clock = new FakeClock();
    const server = new FakeApiServer({ namespaces: ['ns'] });
    const things = new FakeCache<KubeObject>(server, { kind: 'ClusterAgent' });
    await things.start();
    const agent = { apiVersion: 'palisade.dev/v1alpha1', kind: 'ClusterAgent' };
    server.create('test', {
      ...agent,
      metadata: { name: 'a', namespace: 'ns' },
      spec: { clusterName: 'edge', pairing: {} },
    } as KubeObject);
    let calls = 0;
    const c = new Controller({
      name: 'things',
      primary: things,
      clock,
      log: createLogger({ level: 'error' }),
      metrics: new Metrics(),
      baseDelayMs: 60_000,
      reconcile: async () => {
        if (++calls === 1) throw new ApiError(409, 'Conflict', 'the object has been modified');
      },
    });
    const writeStatus = (seen: boolean) =>
      server.apply(
        'test',
        { ...agent, metadata: { name: 'a', namespace: 'ns' }, status: { seen } } as KubeObject,
        'status',
      );
    c.start();
    await c.idle();
    assert.equal(calls, 1, 'the first pass met a stale read and waits');
    // What the cache lagged behind: a write that changed only status (no generation, no metadata).
    writeStatus(true);
    await c.idle();
    assert.equal(calls, 2, 'reconciled again on the update, the 60 s backoff not waited for');
    writeStatus(false);
    await c.idle();
    assert.equal(calls, 2, 'once it succeeded, a status-only update is no news again');
    await c.stop();
  });

  it('takes a status-only update of an object made after it started as no news, and a label change as news', async function () {
    const server = new FakeApiServer({ namespaces: ['ns'] });
    const things = new FakeCache<KubeObject>(server, { kind: 'ClusterAgent' });
    await things.start();
    let calls = 0;
    const c = new Controller({
      name: 'things',
      primary: things,
      clock: new FakeClock(),
      log: createLogger({ level: 'error' }),
      metrics: new Metrics(),
      reconcile: async () => {
        calls++;
      },
    });
    c.start();
    const agent = { apiVersion: 'palisade.dev/v1alpha1', kind: 'ClusterAgent' };
    const meta = { name: 'a', namespace: 'ns' };
    server.create('test', {
      ...agent,
      metadata: meta,
      spec: { clusterName: 'edge', pairing: {} },
    } as KubeObject);
    await c.idle();
    assert.equal(calls, 1, 'reconciled once it appeared');
    server.apply('test', { ...agent, metadata: meta, status: { seen: true } } as KubeObject, 'status');
    await c.idle();
    assert.equal(calls, 1, 'its own status write brought no reconcile');
    server.apply('test', { ...agent, metadata: { ...meta, labels: { tier: 'edge' } } } as KubeObject);
    await c.idle();
    assert.equal(calls, 2, 'a label change did');
    await c.stop();
  });

  it('caps the backoff of repeated stale reads at 5 s', async function () {
    const clock = new FakeClock();
    let calls = 0;
    const c = new Controller({
      name: 'things',
      primary: emptyCache(),
      clock,
      log: createLogger({ level: 'error' }),
      metrics: new Metrics(),
      baseDelayMs: 1_000,
      reconcile: async () => {
        calls++;
        throw new ApiError(409, 'Conflict', 'the object has been modified');
      },
    });
    c.start();
    c.enqueue('ns/a');
    await c.idle();
    for (const wait of [1_000, 2_000, 4_000, 5_000, 5_000]) {
      const before = calls;
      clock.advance(wait - 1);
      await c.idle();
      assert.equal(calls, before, `not before ${wait} ms`);
      clock.advance(1);
      await c.idle();
      assert.equal(calls, before + 1, `again after ${wait} ms`);
    }
    await c.stop();
  });

  it('counts any other failure as an error and retries it', async function () {
    const { controller, metrics, seen } = controllerFailingOnce(new ApiError(409, 'AlreadyExists', 'exists'));
    await runOnce(controller);
    assert.equal(seen.calls, 2);
    assert.deepEqual(await counter(metrics, 'palisade_reconcile_total'), { error: 1, success: 1 });
  });

  it('reports no queue depth before it starts (a standby fills its queues without a backlog)', async function () {
    const { controller: c, metrics } = controllerFailingOnce();
    c.enqueue('ns/a');
    c.enqueue('ns/b');
    const depth = async () =>
      (await metrics.registry.getSingleMetric('palisade_workqueue_depth')?.get())?.values.find(
        (v) => v.labels.controller === 'things',
      )?.value;
    assert.equal(await depth(), undefined, 'nothing reported while standing by');
    c.start();
    await c.idle();
    c.enqueue('ns/c');
    assert.equal(typeof (await depth()), 'number', 'reported once leading');
    await c.stop();
  });

  it('without a primary, reconciles only its own keys: from watches, and resyncKeys at start and on resync', async function () {
    const clock = new FakeClock();
    const server = new FakeApiServer({ namespaces: ['ns'] });
    const secrets = new FakeCache<KubeObject>(server, { kind: 'Secret' });
    await secrets.start();
    let ownKeys = ['slot-a'];
    const seen: string[] = [];
    const c = new Controller({
      name: 'slots',
      clock,
      log: createLogger({ level: 'error' }),
      metrics: new Metrics(),
      resyncMs: 60_000,
      resyncKeys: () => ownKeys,
      watches: [
        {
          register: (enqueue) =>
            secrets.on('add', (s) => {
              if (s.metadata.labels?.slot) enqueue(s.metadata.labels.slot);
            }),
        },
      ],
      reconcile: async (key) => void seen.push(key),
    });
    c.start();
    await c.idle();
    assert.deepEqual(seen, ['slot-a'], 'start enqueues resyncKeys, and no object key');
    server.create('test', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x', namespace: 'ns' } });
    server.create('test', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'y', namespace: 'ns', labels: { slot: 'slot-b' } },
    });
    await c.idle();
    assert.deepEqual(seen, ['slot-a', 'slot-b'], 'a Secret event costs a reconcile only through a watch');
    ownKeys = ['slot-c'];
    clock.advance(60_000);
    await c.idle();
    assert.deepEqual(
      seen,
      ['slot-a', 'slot-b', 'slot-c'],
      'a resync re-checks the resyncKeys of that moment',
    );
    await c.stop();
  });
});
