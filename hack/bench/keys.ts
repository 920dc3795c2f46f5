/**
 * `make bench-keys`: rewrap of N TenantKeys under a new root key version, through the operator (a
 * separate process) on a private local control plane: seconds until nothing is wrapped by the old root,
 * seconds until the old root is retired, and the operator's API writes (by verb and kind). Then the key
 * envelope's wrap/unwrap ops/s beside node:crypto AES-256-GCM (controllers/crypto/bench.ts), same run.
 * The floor: a bare client making the same writes per key on the same apiserver, and the ratio.
 * Prints figures; asserts nothing about speed.
 *
 *   node hack/bench/keys.ts [--keys 10000] [--namespaces 100] [--concurrency 32] [--aead-seconds 1]
 *
 * Set-up writes the N TenantKeys and their version-1 Secrets directly (wrapped under root v1 exactly as
 * the operator would), then lets the operator adopt them, so the measured part is the rewrap alone.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  fingerprint,
  generateDataKey,
  keyId,
  tenantKeyBinding,
  wrap,
} from '../../controllers/crypto/index.ts';
import { ensureInstallationKeys } from '../../controllers/installation/keys.ts';
import { KubeClient, loadKubeConfig } from '../../controllers/runtime/kube/client.ts';
import type { KubeObject, Secret } from '../../controllers/runtime/kube/types.ts';
import { createLogger } from '../../controllers/runtime/log.ts';
import { versionSecret } from '../../controllers/tenantkey/secrets.ts';
import { tenantRecordSecret } from '../../controllers/keystore/tenants.ts';
import { rotateRootKey } from '../../controllers/installation/rotation.ts';
import { startOperator } from '../../e2e/support/operator.ts';
import { startControlPlane } from '../controlplane/index.ts';
import { pool } from './support.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '10000' },
    namespaces: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '32' },
    'aead-seconds': { type: 'string', default: '1' },
  },
});
const N = Number(values.keys);
const NAMESPACES = Math.min(N, Number(values.namespaces));
const CONCURRENCY = Number(values.concurrency);
const OPERATOR_NS = 'palisade-system';
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rand = (n: number) => new Uint8Array(randomBytes(n));
const silentAudit = { record: () => undefined };

let operatorOutput: () => string = () => '';

/** The operator's metrics; an operator that stopped answering ends the bench with what it last said. */
async function metrics(port: number): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    } catch (e) {
      // A busy operator may drop one scrape; ten in a row means it is gone.
      if (attempt >= 10)
        throw new Error(
          `the operator stopped answering; its last output:\n${operatorOutput().slice(-4000)}`,
          {
            cause: e,
          },
        );
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Write requests by "verb kind", from palisade_api_requests_total. */
function writes(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const re =
    /^palisade_api_requests_total\{verb="(create|update|apply|patch|delete)",kind="([\w/]+)",code="\d+"\} (\d+)/gm;
  for (const m of text.matchAll(re))
    out.set(`${m[1]} ${m[2]}`, (out.get(`${m[1]} ${m[2]}`) ?? 0) + Number(m[3]));
  return out;
}

function gauge(text: string, name: string, labels: string): number | undefined {
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function until(what: string, fn: () => Promise<boolean>, everyMs = 500): Promise<void> {
  const deadline = Date.now() + 60 * 60_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function setUp(client: KubeClient): Promise<void> {
  const installation = await ensureInstallationKeys({
    client,
    namespace: OPERATOR_NS,
    rand,
    log: createLogger({ level: 'error' }),
    audit: silentAudit,
  });
  const root = installation.rootKeys[0];
  if (!root) throw new Error('no root key');
  const uids = Array.from({ length: NAMESPACES }, () => randomBytes(6).toString('hex'));
  // An installation as the operator leaves it: each tenant's namespace and its record in the keystore.
  await pool(uids, CONCURRENCY, async (uid) => {
    const namespace = `tenant-bench-${uid}`;
    await client.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: { 'app.kubernetes.io/managed-by': 'palisade', 'palisade.dev/tenant-uid': uid },
      },
    });
    await client.create(
      tenantRecordSecret({
        namespace,
        keystoreNamespace: OPERATOR_NS,
        uid,
        tenant: `bench-${uid}`,
        created: new Date().toISOString(),
      }),
    );
  });
  await pool(
    Array.from({ length: N }, (_, i) => i),
    CONCURRENCY,
    async (i) => {
      const uid = uids[i % NAMESPACES] as string;
      const namespace = `tenant-bench-${uid}`;
      const name = `k${i}`;
      const tk = await client.create({
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'TenantKey',
        metadata: { name, namespace },
        spec: {},
      } as KubeObject);
      const key = generateDataKey(rand);
      const facts = {
        tenantUID: uid,
        tenantNamespace: namespace,
        keyName: name,
        keyUID: tk.metadata.uid ?? '',
        version: 1,
        rootVersion: root.version,
        keyId: keyId(key),
        fingerprint: fingerprint(key),
        created: new Date().toISOString(),
        trigger: '',
      };
      const binding = tenantKeyBinding({ tenantUID: uid, keyName: name, keyUID: facts.keyUID, version: 1 });
      await client.create(
        versionSecret(
          facts,
          wrap(key, root.key, { version: root.version, keyId: root.keyId }, binding, rand),
          false,
          OPERATOR_NS,
        ),
      );
    },
  );
}

/**
 * The floor the rewrap is measured against, in the same run on the same apiserver: for every key entry,
 * exactly the work a rewrap needs — create the new wrap (same size), read its root version's Secret, delete
 * the old one, write the TenantKey's status — from a bare client with the operator's concurrency and no crypto, caches or queues.
 */
async function bareRewrapFloor(client: KubeClient): Promise<number> {
  const entries = await client.list<Secret>('Secret', {
    namespace: OPERATOR_NS,
    labelSelector: 'palisade.dev/keystore-kind=tenant-key',
  });
  const t = performance.now();
  await pool(entries.items, CONCURRENCY, async (s) => {
    const made = await client.create<Secret>({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      immutable: true,
      metadata: {
        name: `${s.metadata.name}-floor`,
        namespace: OPERATOR_NS,
        labels: { 'palisade.dev/bench': 'floor' },
      },
      data: s.data ?? {},
    });
    // The read that proves the root version outlives the new wrap (Keystore.createWrapped).
    await client.get({ kind: 'Secret', name: 'palisade-root-key-v2', namespace: OPERATOR_NS });
    await client.delete(
      { kind: 'Secret', name: s.metadata.name, namespace: OPERATOR_NS },
      { uid: s.metadata.uid ?? '' },
    );
    const l = s.metadata.labels ?? {};
    await client.apply(
      {
        apiVersion: 'palisade.dev/v1alpha1',
        kind: 'TenantKey',
        metadata: {
          name: l['palisade.dev/tenantkey'] ?? '',
          namespace: l['palisade.dev/tenant-namespace'] ?? '',
        },
        status: { lastRotationTrigger: made.metadata.name },
      } as KubeObject,
      { subresource: 'status' },
    );
  });
  return (performance.now() - t) / 1000;
}

async function main() {
  const cp = await startControlPlane({ nats: false, crdDirs: [path.join(repo, 'crds')] });
  try {
    const client = new KubeClient(loadKubeConfig(cp.kubeconfig), 'palisade-bench');
    await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NS } });
    const t0 = performance.now();
    await setUp(client);
    console.log(
      `set-up: ${N} TenantKeys + version Secrets in ${NAMESPACES} namespaces in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    process.env.PALISADE_ROOT_RETIRE_GRACE_MS = '1000';
    const op = await startOperator({
      kubeconfig: cp.kubeconfig,
      namespace: OPERATOR_NS,
      identity: 'bench-keys',
      args: ['--log-level=warn'],
    });
    operatorOutput = () => op.output();
    const t1 = performance.now();
    await until('adopted', async () => {
      const text = await metrics(op.probePort).catch(() => '');
      return (
        /palisade_workqueue_depth\{controller="tenantkey"\} 0/.test(text) &&
        (writes(text).get('apply TenantKey/status') ?? 0) >= N
      );
    });
    console.log(
      `operator adopted them (finalizer + status) in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
    );
    const before = writes(await metrics(op.probePort));
    const t2 = performance.now();
    await rotateRootKey({ client, namespace: OPERATOR_NS, rand, audit: silentAudit });
    await until(
      'rewrapped',
      async () =>
        gauge(await metrics(op.probePort), 'palisade_rootkey_rewrap_pending', 'root_version="1"') === 0,
    );
    const rewrapped = (performance.now() - t2) / 1000;
    await until(
      'retired',
      async () =>
        !(await client.get({ kind: 'Secret', name: 'palisade-root-key-v1', namespace: OPERATOR_NS })),
    );
    const retired = (performance.now() - t2) / 1000;
    const after = writes(await metrics(op.probePort));
    await op.stop();
    const delta = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
    const total = delta.reduce((n, [, v]) => n + v, 0);
    console.log(
      `rewrap of ${N} TenantKeys under root v2: ${rewrapped.toFixed(1)} s (${(N / rewrapped).toFixed(0)} keys/s)`,
    );
    console.log(`old root retired after:               ${retired.toFixed(1)} s (retirement grace 1 s)`);
    console.log(
      `operator API writes:                  ${total} (${(total / N).toFixed(2)} per key): ${delta.map(([k, v]) => `${k} ${v}`).join(', ')}`,
    );
    const floor = await bareRewrapFloor(client);
    console.log(
      `floor, a bare client doing the same work per key (create a wrap, get its root, delete the old, apply status): ${floor.toFixed(1)} s`,
    );
    console.log(`rewrap / floor:                       ${(rewrapped / floor).toFixed(2)}× (goal ≤ 1.5×)`);
  } finally {
    await cp.stop();
  }
  console.log('\nkey envelope (XChaCha20-Poly1305, @noble/ciphers) vs node:crypto AES-256-GCM:');
  const r = spawnSync(
    process.execPath,
    [path.join(repo, 'controllers/crypto/bench.ts'), values['aead-seconds'] ?? '1'],
    { encoding: 'utf8' },
  );
  process.stdout.write(r.stdout + r.stderr);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
