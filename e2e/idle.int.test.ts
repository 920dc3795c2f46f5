/**
 * Idle is free: with messaging on and one of every kind converged, a resync of every controller (forced
 * by a short PALISADE_RESYNC_MS) makes no API write at all: no status, no apply, no Event.
 */
import assert from 'node:assert/strict';
import type { KubeObject } from '../controllers/runtime/kube/types.ts';
import { getTenant, kube, readyStatus, tenantManifest, uniqueName } from './support/cluster.ts';
import { bindingManifest, dumpOnFailure, waitForReady } from './support/certificates.ts';
import { eventually } from './support/operator.ts';
import { tenantKey } from './support/tenantkeys.ts';
import { startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';

const RESYNC_MS = 2000;

type Conditioned = KubeObject & {
  status?: { conditions?: { type: string; status: string; reason: string }[] };
};

/** One metric's samples by a label (summed over the others), from the operator's /metrics. */
async function samples(port: number, metric: string, by: string) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const key = new RegExp(`${by}="([^"]*)"`).exec(m[1] ?? '')?.[1] ?? '';
    out.set(key, (out.get(key) ?? 0) + Number(m[2]));
  }
  return out;
}

/**
 * API writes by `verb kind`. NB: leader election renews its Lease on its own clock; that is the one write
 * an idle replica makes, and no reconcile's, so it is left out.
 */
const writes = async (port: number) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(
    /^palisade_api_requests_total\{verb="(create|update|apply|patch|delete)",kind="([^"]+)",code="\d+"\} (\d+)$/gm,
  )) {
    if (m[2] === 'Lease') continue;
    const key = `${m[1]} ${m[2]}`;
    out[key] = (out[key] ?? 0) + Number(m[3]);
  }
  return out;
};

function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
    if ((b[k] ?? 0) !== (a[k] ?? 0)) out[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return out;
}

const reconciles = (port: number) => samples(port, 'palisade_reconcile_total', 'controller');

async function condition(kind: string, name: string, namespace: string, type: string) {
  const o = await kube().get<Conditioned>({ kind, name, namespace });
  return o?.status?.conditions?.find((c) => c.type === type);
}

describe('Idle is free (messaging on, every kind present)', function () {
  let env: MessagingEnv | undefined;
  const name = uniqueName('idle');

  // Which objects moved, when a write is counted: the operator's last lines.
  afterEach(function () {
    dumpOnFailure(this, () => env?.op.output());
  });

  // NB: the Tenant goes while its operator still runs (its finalizer), so no later suite's operator finds
  // a Tenant it never made in the shared control plane.
  after(async function () {
    this.timeout(120_000);
    await kube().delete({ kind: 'Tenant', name });
    for (let i = 0; i < 120 && (await getTenant(name)); i++) await new Promise((r) => setTimeout(r, 500));
    await stopMessaging(env);
  });

  it('makes no API write across a full resync of every controller when nothing changed', async function () {
    this.timeout(5 * 60_000);
    env = await startMessaging(uniqueName('palisade-idle'), 'idle', {
      PALISADE_RESYNC_MS: String(RESYNC_MS),
    });
    const port = env.op.probePort;
    await kube().apply(tenantManifest(name));
    const ns = `tenant-${name}`;
    await eventually(
      `Tenant ${name} Ready`,
      async () => readyStatus(await getTenant(name))?.status === 'True',
      90_000,
    );
    await kube().apply(tenantKey(ns, 'extra', { rotationTrigger: 'one' }) as KubeObject);
    await kube().apply({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'edge', namespace: ns },
      spec: { clusterName: 'edge-1' },
    } as KubeObject);
    await kube().apply(
      bindingManifest('svc', ns, {
        secretName: 'svc-tls',
        internal: { dnsNames: [`svc.${ns}.svc`], duration: '2160h', renewBefore: '720h' },
      }),
    );
    for (const [kind, obj, type, reason] of [
      ['TenantKey', 'primary', 'Ready', 'KeyReady'],
      ['TenantKey', 'extra', 'Ready', 'KeyReady'],
      ['ClusterAgent', 'edge', 'CredentialsReady', 'CredentialsIssued'],
    ] as const)
      await eventually(
        `${kind} ${obj} ${type}/${reason}`,
        async () => (await condition(kind, obj, ns, type))?.reason === reason,
        90_000,
      );
    await waitForReady('svc', ns, { status: 'True', reason: 'CertificateBound' });

    // Settle: the writes that follow convergence (a last status, an owner's re-check) end within a few
    // resyncs; from then on the counters must stand still.
    let before = await writes(port);
    let moved: Record<string, number> = {};
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 2 * RESYNC_MS));
      const now = await writes(port);
      moved = diff(before, now);
      before = now;
      if (Object.keys(moved).length === 0) break;
    }
    assert.deepEqual(moved, {}, 'API writes over two resync periods, ten times over');

    // Every controller resyncs at least once (its reconcile count moves with nothing changed), then the
    // resync it started has run out (empty queues a resync period later). NB: keystore-rewrap's keys are
    // the slots an older root version still wraps; with one root version a resync has none to re-check.
    const r0 = await reconciles(port);
    r0.delete('keystore-rewrap');
    assert.ok(r0.size >= 6, `controllers seen: ${[...r0.keys()].join(', ')}`);
    await eventually(
      'a resync of every controller',
      async () => {
        const r = await reconciles(port);
        return [...r0].every(([c, n]) => (r.get(c) ?? 0) > n);
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, RESYNC_MS));
    await eventually('empty work queues', async () =>
      [...(await samples(port, 'palisade_workqueue_depth', 'controller')).values()].every((d) => d === 0),
    );
    assert.deepEqual(diff(before, await writes(port)), {}, 'API writes during the resyncs, by verb and kind');
    // Nothing was stale: every object is as it was.
    assert.equal(readyStatus(await getTenant(name))?.status, 'True');
  });
});
