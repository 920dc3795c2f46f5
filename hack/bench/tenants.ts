/**
 * `make bench`: N Tenants against the local control plane, through the operator (a separate process),
 * then the same minimal writes by a bare client in the same run, for a ratio. Prints figures; asserts
 * nothing about speed.
 *
 *   node hack/bench/tenants.ts [--tenants 1000] [--concurrency 32]
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { startControlPlane } from '../controlplane/index.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import type { KubeObject } from '../../controllers/runtime/kube/types.ts';
import { startOperator } from '../../e2e/support/operator.ts';
import { pool, scrapeWrites } from './support.ts';

const { values } = parseArgs({
  options: { tenants: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '32' } },
});
const N = Number(values.tenants);
const CONCURRENCY = Number(values.concurrency);

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const tenant = (name: string): KubeObject =>
  ({ apiVersion: 'palisade.dev/v1alpha1', kind: 'Tenant', metadata: { name }, spec: {} }) as KubeObject;

async function main() {
  const cp = await startControlPlane({
    nats: false,
    crdDirs: [new URL('../../crds', import.meta.url).pathname],
  });
  try {
    const client = new KubeClient(loadKubeConfig(cp.kubeconfig), 'palisade-bench');
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'palisade-system' } });
    const op = await startOperator({
      kubeconfig: cp.kubeconfig,
      namespace: 'palisade-system',
      identity: 'bench',
    });
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${op.probePort}/readyz`).catch(() => undefined);
      if (r?.status === 200) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    const writesBefore = await scrapeWrites(op.probePort);
    const names = Array.from({ length: N }, (_, i) => `bench-${i}`);
    const t0 = performance.now();
    await pool(names, CONCURRENCY, (n) => client.create(tenant(n)));
    const created = performance.now();
    for (;;) {
      const list = await client.list<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >('Tenant');
      const ready = list.items.filter((t) =>
        t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      ).length;
      if (ready >= N) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    const operatorSeconds = (performance.now() - t0) / 1000;
    const writes = (await scrapeWrites(op.probePort)) - writesBefore;
    const rss = peakRssMiB(op.child.pid ?? 0);
    await op.stop();

    // Baseline: a bare client doing the same minimal writes per tenant (create Tenant, add finalizer,
    // apply namespace, write status), with no operator, no informers and no queue.
    const t1 = performance.now();
    await pool(
      names.map((n) => `base-${n}`),
      CONCURRENCY,
      async (n) => {
        const t = await client.create(tenant(n));
        await client.jsonPatch({ kind: 'Tenant', name: n }, [
          { op: 'add', path: '/metadata/finalizers', value: ['palisade.dev/tenant-deletion'] },
        ]);
        await client.apply({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: `tenant-${n}`, labels: { 'palisade.dev/tenant': n } },
        });
        await client.apply(
          {
            apiVersion: t.apiVersion,
            kind: 'Tenant',
            metadata: { name: n },
            status: {
              uid: '000000000000',
              namespace: `tenant-${n}`,
              conditions: [
                {
                  type: 'Ready',
                  status: 'True',
                  reason: 'TenantReady',
                  message: '',
                  lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
                },
              ],
            },
          } as KubeObject,
          { subresource: 'status' },
        );
      },
    );
    const baselineSeconds = (performance.now() - t1) / 1000;

    console.log(`tenants:                         ${N} (client concurrency ${CONCURRENCY})`);
    console.log(`creating the Tenant objects:     ${((created - t0) / 1000).toFixed(1)} s`);
    console.log(
      `until all Ready (operator):      ${operatorSeconds.toFixed(1)} s (${(N / operatorSeconds).toFixed(0)} tenants/s)`,
    );
    console.log(`operator API writes per Tenant:  ${(writes / N).toFixed(2)} (Events included)`);
    console.log(`operator peak RSS:               ${rss.toFixed(0)} MiB`);
    console.log(
      `bare client, same writes:        ${baselineSeconds.toFixed(1)} s (create + finalizer + namespace + status per Tenant)`,
    );
    console.log(`ratio operator / bare client:    ${(operatorSeconds / baselineSeconds).toFixed(2)}`);
  } finally {
    await cp.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
