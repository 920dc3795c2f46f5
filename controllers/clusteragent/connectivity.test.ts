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

describe('clusteragent/connectivity: heartbeats in memory, status at a coarse interval (pure)', () => {
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
      60_000,
    );
    assert.equal(c.lastHeartbeat, '2026-01-01T11:59:30Z');
    assert.ok((c.recheckInMs ?? 0) <= 60_000);
  });

  it('rewrites it once the written value is a refresh interval old, or when health changes', () => {
    const old = connectivity(
      agent(connectedStatus('2026-01-01T11:58:00Z')),
      { lastSeen: T, health: 'Healthy' },
      T,
      60_000,
    );
    assert.equal(old.lastHeartbeat, '2026-01-01T12:00:00Z');
    const sick = connectivity(
      agent(connectedStatus('2026-01-01T11:59:30Z')),
      { lastSeen: T, health: 'Degraded' },
      T,
      60_000,
    );
    assert.equal(sick.health, 'Degraded');
    assert.equal(sick.lastHeartbeat, '2026-01-01T12:00:00Z');
  });

  it('is Connected=False/HeartbeatMissed and Unhealthy after the deadline', () => {
    const c = connectivity(agent(connectedStatus('2026-01-01T11:58:00Z')), { lastSeen: T - 91_000 }, T);
    assert.equal(c.connected, false);
    assert.equal(c.concern.reason, 'HeartbeatMissed');
    assert.equal(c.health, 'Unhealthy');
    assert.equal(c.recheckInMs, undefined);
  });
});
