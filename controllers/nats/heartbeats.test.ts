import assert from 'node:assert/strict';
import { HeartbeatStore, parseHealth, parseStatistics } from './heartbeats.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const origin = (kind: 'heartbeat' | 'health' | 'stats') => ({ tenantUID: '0123456789ab', agent: 'a', kind });

describe('nats/heartbeats: reports in memory, notifications only when status may change', () => {
  it('parses health as JSON or a bare word, and ignores anything else', () => {
    assert.equal(parseHealth(enc('{"status":"Degraded"}')), 'Degraded');
    assert.equal(parseHealth(enc('Healthy')), 'Healthy');
    assert.equal(parseHealth(enc('{"status":"Great"}')), undefined);
  });

  it('keeps at most 32 statistics, stringified, with safe names', () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
    assert.equal(Object.keys(parseStatistics(enc(JSON.stringify(many))) ?? {}).length, 32);
    assert.deepEqual(parseStatistics(enc('{"pods":3,"bad key":1,"obj":{}}')), { pods: '3' });
    assert.equal(parseStatistics(enc('[1]')), undefined);
  });

  it('notifies on the first report and on health changes, not on every heartbeat once reported', () => {
    const s = new HeartbeatStore();
    let n = 0;
    s.onChange(() => n++);
    s.record(origin('heartbeat'), enc('{}'), 1);
    assert.equal(n, 1);
    s.markReported('0123456789ab', 'a', true);
    s.record(origin('heartbeat'), enc('{}'), 2);
    s.record(origin('health'), enc('Healthy'), 3);
    assert.equal(n, 2, 'the first health report is a change');
    s.record(origin('health'), enc('Healthy'), 4);
    s.record(origin('stats'), enc('{"x":1}'), 5);
    assert.equal(n, 2);
    assert.deepEqual(s.get('0123456789ab', 'a'), { lastSeen: 5, health: 'Healthy', statistics: { x: '1' } });
  });
  it('grants liveness refreshes from one budget, oldest first, once per agent, after the transitions', () => {
    const s = new HeartbeatStore();
    const notified: string[] = [];
    s.onChange((uid, agent) => notified.push(`${uid}/${agent}`));
    try {
      assert.equal(s.claimRefresh('u', 'a'), false);
      assert.equal(s.claimRefresh('u', 'b'), false);
      assert.equal(s.claimRefresh('u', 'a'), false, 'asking again does not queue twice');
      assert.equal(s.refreshesWaiting, 2);
      s.chargeTransition();
      s.grantNext();
      assert.deepEqual(notified, [], 'the slot went to the transition');
      s.grantNext();
      assert.deepEqual(notified, ['u/a']);
      assert.equal(s.claimRefresh('u', 'a'), true);
      assert.equal(s.claimRefresh('u', 'a'), false, 'a grant is used once');
      s.forget('u', 'b');
      s.grantNext();
      assert.deepEqual(notified, ['u/a', 'u/a'], 'a forgotten agent leaves the queue');
    } finally {
      s.close();
    }
  });

  it('knows when it began listening, and keeps the first time', () => {
    const s = new HeartbeatStore();
    assert.equal(s.listeningSince, undefined);
    s.listening(10);
    s.listening(20);
    assert.equal(s.listeningSince, 10);
  });
  it('wakes an agent shown connected once its deadline passes with no report, and not before', () => {
    const s = new HeartbeatStore(() => 0);
    const woken: string[] = [];
    s.onChange((uid, agent) => woken.push(`${uid}/${agent}`));
    try {
      s.markReported('u', 'a', true, { lengthMs: 10_000, expiresAt: 10_000 });
      s.markReported('u', 'b', true, { lengthMs: 10_000, expiresAt: 10_000 });
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 8_000);
      s.sweep(9_999);
      assert.deepEqual(woken, []);
      s.sweep(10_000);
      assert.deepEqual(woken, ['u/b'], 'a reported at 8 s: its deadline moved to 18 s');
      s.sweep(18_000);
      assert.deepEqual(woken, ['u/b', 'u/a']);
      s.sweep(60_000);
      assert.deepEqual(woken, ['u/b', 'u/a'], 'each deadline wakes once');
      assert.equal(s.deadlinesWatched, 0);
      s.markReported('u', 'c', true, { lengthMs: 10_000, expiresAt: 70_000 });
      s.markReported('u', 'c', false);
      s.sweep(80_000);
      assert.deepEqual(woken, ['u/b', 'u/a'], 'an agent shown disconnected has no deadline to watch');
    } finally {
      s.close();
    }
  });
  it('queues an agent for its liveness refresh on the first report after the refresh is due', () => {
    const s = new HeartbeatStore(() => 0);
    const woken: string[] = [];
    s.onChange((uid, agent) => woken.push(`${uid}/${agent}`));
    try {
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 0);
      woken.length = 0;
      s.markReported('u', 'a', true, { lengthMs: 30_000, expiresAt: 30_000, refreshAt: 60_000 });
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 59_000);
      assert.equal(s.refreshesWaiting, 0);
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 61_000);
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 62_000);
      assert.equal(s.refreshesWaiting, 1, 'queued once');
      s.grantNext();
      assert.deepEqual(woken, ['u/a']);
      assert.equal(s.claimRefresh('u', 'a'), true);
    } finally {
      s.close();
    }
  });
  it('wakes an agent again for a grant its reconcile did not use (a transition wrote status meanwhile)', () => {
    const s = new HeartbeatStore(() => 0);
    const woken: string[] = [];
    s.onChange((uid, agent) => woken.push(`${uid}/${agent}`));
    try {
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 0);
      s.markReported('u', 'a', true, { lengthMs: 30_000, expiresAt: 30_000, refreshAt: 5_000 });
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 6_000);
      woken.length = 0;
      s.grantNext();
      assert.deepEqual(woken, ['u/a'], 'granted');
      // The reconcile it woke wrote a transition, which carries a fresh lastHeartbeat of its own, so it
      // had no refresh to claim; the grant stays.
      s.markReported('u', 'a', true, { lengthMs: 30_000, expiresAt: 37_000, refreshAt: 12_000 });
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 13_000);
      assert.deepEqual(woken, ['u/a', 'u/a'], 'the next refresh due wakes it, with the grant it holds');
      assert.equal(s.refreshesWaiting, 0, 'no second place in the queue');
      assert.equal(s.claimRefresh('u', 'a'), true);
      s.report({ tenantUID: 'u', agent: 'a' }, {}, 14_000);
      assert.deepEqual(woken, ['u/a', 'u/a'], 'not again before the refresh it wrote is due');
    } finally {
      s.close();
    }
  });
});
