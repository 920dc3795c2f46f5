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
import { eventually, startOperator, waitForControllers, type OperatorProcess } from './support/operator.ts';

describe('Recovery', function () {
  const ns = uniqueName('palisade-recovery');
  let op: OperatorProcess | undefined;

  before(() => ensureNamespace(ns));
  after(async () => {
    await op?.stop();
  });

  it('recovers by itself when the apiserver restarts under it, and converges what changed meanwhile', async function () {
    op = await startOperator({ kubeconfig: testEnv().kubeconfig, namespace: ns, identity: 'recovery' });
    await waitForControllers(op);
    const before = uniqueName('pre');
    await kube().apply(tenantManifest(before));
    await eventually('Ready', async () => readyStatus(await getTenant(before))?.status === 'True');

    await testEnv().stopApiserver();
    await new Promise((r) => setTimeout(r, 3000));
    await testEnv().startApiserver();

    const after = uniqueName('post');
    await kube().apply(tenantManifest(after));
    const t = await eventually(
      'a Tenant created after the restart to be Ready',
      async () => {
        const x = await getTenant(after);
        return readyStatus(x)?.status === 'True' ? x : undefined;
      },
      60_000,
    );
    assert.match(t.status?.uid ?? '', /^[0-9a-f]{12}$/);
    assert.ok(!op.exited(), 'the operator kept running');
    assert.match(op.output(), /list\/watch failed; restarting/);
  });

  it('converges tenants created while the operator was down', async function () {
    await op?.kill();
    const names = [uniqueName('offline'), uniqueName('offline')];
    for (const n of names) await kube().apply(tenantManifest(n));
    op = await startOperator({ kubeconfig: testEnv().kubeconfig, namespace: ns, identity: 'recovery-2' });
    for (const n of names)
      await eventually(`${n} Ready`, async () => readyStatus(await getTenant(n))?.status === 'True');
  });
});
