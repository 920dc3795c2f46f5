import assert from 'node:assert/strict';
import { testEnv } from '../hack/testenv/env.ts';
import {
  ensureNamespace,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { eventually, metricValue, probe, startOperator, type OperatorProcess } from './support/operator.ts';

describe('Leader election', function () {
  const ns = uniqueName('palisade-leader');
  let ops: OperatorProcess[] = [];

  before(() => ensureNamespace(ns));
  after(async () => {
    await Promise.all(ops.map((op) => op.stop()));
  });

  it('lets exactly one of two replicas reconcile, and the other takes over within 20 s of a crash', async function () {
    ops = await Promise.all(
      ['one', 'two'].map((id) =>
        startOperator({ kubeconfig: testEnv().kubeconfig, namespace: ns, identity: id }),
      ),
    );
    const leaders = await eventually('a leader', async () => {
      const flags = await Promise.all(ops.map((op) => metricValue(op.probePort, 'palisade_leader')));
      return flags.filter((f) => f === 1).length === 1 ? flags : undefined;
    });
    const leader = ops[leaders.indexOf(1)] as OperatorProcess;
    const standby = ops[leaders.indexOf(1) === 0 ? 1 : 0] as OperatorProcess;

    const name = uniqueName('le');
    await kube().apply(tenantManifest(name));
    await eventually('Ready', async () => readyStatus(await getTenant(name))?.status === 'True');
    assert.equal(await metricValue(standby.probePort, 'palisade_leader'), 0);
    assert.ok(!standby.output().includes('controllers started'), 'the standby never started its controllers');
    assert.ok(leader.output().includes('controllers started'));

    await leader.kill();
    const killedAt = Date.now();
    await eventually(
      'the standby to lead',
      async () => (await metricValue(standby.probePort, 'palisade_leader')) === 1,
      20_000,
    );
    const second = uniqueName('le');
    await kube().apply(tenantManifest(second));
    await eventually(
      'Ready after failover',
      async () => readyStatus(await getTenant(second))?.status === 'True',
      20_000,
    );
    const tookMs = Date.now() - killedAt;
    assert.ok(tookMs < 20_000 + 5_000, `took over in ${tookMs} ms`);
    assert.equal(await probe(standby.probePort, '/readyz'), 200);
    await kube().delete({ kind: 'Tenant', name });
    await kube().delete({ kind: 'Tenant', name: second });
  });
});
