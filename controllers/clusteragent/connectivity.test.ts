import assert from 'node:assert/strict';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import { connectivity } from './connectivity.ts';

const T = Date.parse('2026-01-01T12:00:00Z');
const agent = (status?: ClusterAgent['status']): ClusterAgent => ({
  apiVersion: 'palisade.dev/v1alpha1',
  kind: 'ClusterAgent',
  metadata: { name: 'edge', namespace: 'tenant-acme' },
  spec: { clusterName: 'c', heartbeatDeadline: '90s', suspended: false },
  ...(status ? { status } : {}),
});
const connectedStatus = (lastHeartbeat: string): ClusterAgent['status'] => ({
  lastHeartbeat,
  health: 'Healthy',
  conditions: [
    {
      type: 'Connected',
      status: 'True',
      reason: 'HeartbeatReceived',
      message: '',
      lastTransitionTime: lastHeartbeat,
    },
  ],
});

describe('clusteragent/connectivity: heartbeats in memory, status on transitions and at a coarse interval (pure)', () => {
  it('is never connected before any heartbeat', () => {
    const c = connectivity(agent(), undefined, T);
    assert.equal(c.connected, false);
    assert.equal(c.concern.reason, 'NeverConnected');
    assert.equal(c.health, 'Unknown');
  });

  it('is connected on the first heartbeat and writes lastHeartbeat at once', () => {
    const c = connectivity(agent(), { lastSeen: T - 1000, health: 'Healthy' }, T);
    assert.equal(c.connected, true);
    assert.equal(c.lastHeartbeat, '2026-01-01T11:59:59Z');
  });

  it('does not rewrite lastHeartbeat for every heartbeat of a connected, unchanged agent', () => {
    const c = connectivity(
      agent(connectedStatus('2026-01-01T11:59:30Z')),
      { lastSeen: T, health: 'Healthy' },
      T,
      { refreshMs: 60_000 },
    );
    assert.equal(c.lastHeartbeat, '2026-01-01T11:59:30Z');
    assert.equal(
      c.refreshAt,
      Date.parse('2026-01-01T12:00:30Z'),
      'due a refresh interval after the shown one',
    );
    assert.equal(c.expiresAt, T + 90_000, 'looked at again when the deadline would pass');
  });

  it('rewrites it once the written value is a refresh interval old, or when health changes', () => {
    const old = connectivity(
      agent(connectedStatus('2026-01-01T11:58:00Z')),
      { lastSeen: T, health: 'Healthy' },
      T,
      { refreshMs: 60_000 },
    );
    assert.equal(old.lastHeartbeat, '2026-01-01T12:00:00Z');
    const sick = connectivity(
      agent(connectedStatus('2026-01-01T11:59:30Z')),
      { lastSeen: T, health: 'Degraded' },
      T,
      { refreshMs: 60_000 },
    );
    assert.equal(sick.health, 'Degraded');
    assert.equal(sick.lastHeartbeat, '2026-01-01T12:00:00Z');
  });

  it('is Connected=False/HeartbeatMissed and Unhealthy after the deadline', () => {
    const c = connectivity(agent(connectedStatus('2026-01-01T11:58:00Z')), { lastSeen: T - 91_000 }, T);
    assert.equal(c.connected, false);
    assert.equal(c.concern.reason, 'HeartbeatMissed');
    assert.equal(c.health, 'Unhealthy');
    assert.equal(c.expiresAt, undefined);
  });
  it('writes nothing for a connected, unchanged agent however recent its heartbeat (no time in the message)', () => {
    const before = agent(connectedStatus('2026-01-01T11:59:30Z'));
    const a = connectivity(before, { lastSeen: T - 5000 }, T, { refreshMs: 60_000 });
    const b = connectivity(before, { lastSeen: T }, T, { refreshMs: 60_000 });
    assert.deepEqual(a.concern, b.concern);
    assert.equal(a.lastHeartbeat, b.lastHeartbeat);
    assert.equal(b.transition, false);
  });

  it('holds a due liveness refresh back while the budget says no, and writes it when the budget allows', () => {
    const status = agent(connectedStatus('2026-01-01T11:58:00Z'));
    const held = connectivity(status, { lastSeen: T, health: 'Healthy' }, T, {
      refreshMs: 60_000,
      mayRefresh: () => false,
    });
    assert.equal(held.lastHeartbeat, '2026-01-01T11:58:00Z');
    const allowed = connectivity(status, { lastSeen: T, health: 'Healthy' }, T, {
      refreshMs: 60_000,
      mayRefresh: () => true,
    });
    assert.equal(allowed.lastHeartbeat, '2026-01-01T12:00:00Z');
  });

  it('writes a transition without asking the budget', () => {
    let asked = 0;
    const sick = connectivity(
      agent(connectedStatus('2026-01-01T11:59:30Z')),
      { lastSeen: T, health: 'Degraded' },
      T,
      { mayRefresh: () => (asked++, false) },
    );
    assert.equal(sick.transition, true);
    assert.equal(sick.health, 'Degraded');
    assert.equal(sick.lastHeartbeat, '2026-01-01T12:00:00Z');
    assert.equal(asked, 0);
  });

  it('gives an agent shown connected a whole deadline from when Palisade began listening (a restart flips nothing)', () => {
    const shown = agent(connectedStatus('2026-01-01T11:55:00Z'));
    const justStarted = connectivity(shown, undefined, T, { listeningSince: T - 10_000 });
    assert.equal(justStarted.connected, true);
    assert.equal(justStarted.transition, false);
    assert.equal(justStarted.expiresAt, T + 80_000);
    const deaf = connectivity(shown, undefined, T, {});
    assert.equal(deaf.connected, true, 'not listening yet: silence says nothing');
    const silent = connectivity(shown, undefined, T, { listeningSince: T - 90_000 });
    assert.equal(silent.connected, false);
    assert.equal(silent.concern.reason, 'HeartbeatMissed');
    assert.equal(silent.transition, true);
  });

  it('keeps the written health over a restart until the agent reports another', () => {
    const degraded = { ...connectedStatus('2026-01-01T11:59:30Z'), health: 'Degraded' as const };
    const c = connectivity(agent(degraded), { lastSeen: T }, T, { listeningSince: T - 1000 });
    assert.equal(c.health, 'Degraded');
    assert.equal(c.transition, false);
  });
});
