import assert from 'node:assert/strict';
import { FakeClock } from './clock.ts';
import { ApiEventRecorder, RecentKeys } from './events.ts';
import type { KubeClient } from './kube/client.ts';
import type { KubeObject } from './kube/types.ts';
import { createLogger } from './log.ts';
import { entriesWalked } from './testdata/walks.ts';

const WINDOW_MS = 10 * 60_000;

function recorder(
  clock: FakeClock,
  opts: { dedupeKeys?: number; normalBudget?: { burst: number; perSecond: number } } = {},
) {
  const written: KubeObject[] = [];
  const dropped: string[] = [];
  const client = {
    create: async (o: KubeObject) => {
      written.push(o);
      return o;
    },
  } as unknown as KubeClient;
  const events = new ApiEventRecorder({
    client,
    clock,
    log: createLogger({ level: 'error' }),
    instance: 'test',
    dedupeMs: WINDOW_MS,
    normalBudget: { burst: 1_000_000, perSecond: 0 },
    onDropped: (type) => dropped.push(type),
    ...opts,
  });
  return { events, written, dropped };
}

const tenant = (uid: string): KubeObject => ({
  apiVersion: 'palisade.dev/v1alpha1',
  kind: 'Tenant',
  metadata: { name: `t-${uid}`, uid },
});

describe('Event de-duplication', function () {
  it('writes the same (object, reason, note) once per window, and again after it', function () {
    const clock = new FakeClock(1_000_000);
    const { events, written } = recorder(clock);
    const t = tenant('a');
    events.record(t, 'Warning', 'NamespaceConflict', 'Reconcile', 'taken');
    clock.advance(WINDOW_MS - 1);
    events.record(t, 'Warning', 'NamespaceConflict', 'Reconcile', 'taken');
    events.record(t, 'Warning', 'NamespaceConflict', 'Reconcile', 'taken by someone else');
    assert.equal(written.length, 2, 'a different note is a different Event');
    clock.advance(1);
    events.record(t, 'Warning', 'NamespaceConflict', 'Reconcile', 'taken');
    assert.equal(written.length, 3);
  });

  it('walks O(1) remembered keys per Event with 50,000 of them live, not all of them', async function () {
    const clock = new FakeClock(1_000_000);
    const { events, written } = recorder(clock, { dedupeKeys: 100_000 });
    for (let i = 0; i < 50_000; i++) events.record(tenant(`u${i}`), 'Normal', 'Created', 'Create', 'made');
    // Every key is live (inside the window): a prune that walks the map finds nothing to drop, every time.
    const per =
      (await entriesWalked(() => {
        for (let i = 0; i < 1000; i++) events.record(tenant(`v${i}`), 'Normal', 'Created', 'Create', 'made');
      })) / 1000;
    assert.ok(per <= 2, `${per} entries walked per Event`);
    assert.equal(written.length, 51_000);
  });

  it('forgets keys once their window passed, each one once, and walks only those', async function () {
    const recent = new RecentKeys(1000, 1_000_000);
    for (let i = 0; i < 20_000; i++) assert.equal(recent.seen(`k${i}`, Math.floor(i / 20)), false);
    assert.equal(recent.size, 20_000);
    // At t=1999 every key written before t=1000 has expired: one call drops them all, once.
    const walked = await entriesWalked(() => recent.seen('late', 1999));
    assert.equal(recent.size, 1);
    assert.ok(walked <= 20_000 + 2, `${walked} entries walked to drop 20,000`);
    const next = await entriesWalked(() => {
      for (let i = 0; i < 1000; i++) recent.seen(`m${i}`, 2000 + i);
    });
    assert.ok(next / 1000 <= 3, `${next / 1000} entries walked per key afterwards`);
  });

  it('remembers at most `dedupeKeys` keys, dropping the oldest first', async function () {
    const recent = new RecentKeys(WINDOW_MS, 1000);
    const walked = await entriesWalked(() => {
      for (let i = 0; i < 5000; i++) recent.seen(`k${i}`, i);
    });
    assert.equal(recent.size, 1000);
    assert.ok(walked / 5000 <= 3, `${walked / 5000} entries walked per key`);
    assert.equal(recent.seen('k4999', 5000), true, 'the newest is remembered');
    assert.equal(recent.seen('k0', 5000), false, 'the oldest was dropped');
  });

  it('writes Normal Events within the budget, drops and counts the rest, and writes every Warning', function () {
    const clock = new FakeClock(1_000_000);
    const { events, written, dropped } = recorder(clock, { normalBudget: { burst: 3, perSecond: 2 } });
    for (let i = 0; i < 5; i++) events.record(tenant(`n${i}`), 'Normal', 'Created', 'Create', 'made');
    for (let i = 0; i < 4; i++) events.record(tenant(`w${i}`), 'Warning', 'Conflict', 'Reconcile', 'taken');
    assert.deepEqual(
      written.map((e) => (e as KubeObject & { type: string }).type),
      ['Normal', 'Normal', 'Normal', 'Warning', 'Warning', 'Warning', 'Warning'],
    );
    assert.deepEqual(dropped, ['Normal', 'Normal']);
    // Half a second regains one token: one more Normal Event, then none.
    clock.advance(500);
    events.record(tenant('later-1'), 'Normal', 'Created', 'Create', 'made');
    events.record(tenant('later-2'), 'Normal', 'Created', 'Create', 'made');
    assert.equal(written.length, 8);
    assert.equal(dropped.length, 3);
  });
});
