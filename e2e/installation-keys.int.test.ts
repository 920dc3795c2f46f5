import assert from 'node:assert/strict';
import { testEnv } from '../hack/testenv/env.ts';
import type { ConfigMap, Secret } from '../controllers/runtime/kube/types.ts';
import { ensureNamespace, kube, uniqueName } from './support/cluster.ts';
import { startOperator, waitForControllers } from './support/operator.ts';

async function installationSecrets(ns: string): Promise<Secret[]> {
  const list = await kube().list<Secret>('Secret', {
    namespace: ns,
    labelSelector: 'app.kubernetes.io/managed-by=palisade',
  });
  return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

const snapshot = (secrets: Secret[]) =>
  secrets.map((s) => ({ name: s.metadata.name, uid: s.metadata.uid, data: s.data }));

/** Every way a key's bytes could show up in text: raw, hex, base64, base64url, PEM body. */
function encodings(bytes: Buffer): string[] {
  return [
    bytes.toString('hex'),
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('latin1'),
  ]
    .filter((s) => s.length >= 16)
    .concat(bytes.length > 24 ? [bytes.subarray(0, 24).toString('base64')] : []);
}

describe('Installation keys', function () {
  const ns = uniqueName('palisade-keys');
  const outputs: string[] = [];

  before(() => ensureNamespace(ns));

  it('generates the root key, JWT signing key and hash salt once, and publishes the JWKS', async function () {
    const op = await startOperator({ kubeconfig: testEnv().kubeconfig, namespace: ns, identity: 'keys-1' });
    await waitForControllers(op);
    await op.stop();
    outputs.push(op.output());
    const secrets = await installationSecrets(ns);
    assert.deepEqual(
      secrets.map((s) => s.metadata.name),
      [
        'palisade-hash-salt',
        'palisade-internal-ca-v1',
        'palisade-jwt-signing-key-v1',
        'palisade-root-key-v1',
      ],
    );
    for (const s of secrets) assert.equal(s.immutable, true, `${s.metadata.name} is immutable`);
    const root = secrets.find((s) => s.metadata.name === 'palisade-root-key-v1');
    assert.equal(Buffer.from(root?.data?.key ?? '', 'base64').length, 32, 'root key is 256 bits');
    const jwks = await kube().get<ConfigMap>({ kind: 'ConfigMap', name: 'palisade-jwks', namespace: ns });
    const doc = JSON.parse(jwks?.data?.['jwks.json'] ?? '{}') as {
      keys: { kty: string; crv: string; kid: string; d?: string }[];
    };
    assert.equal(doc.keys.length, 1);
    assert.equal(doc.keys[0]?.crv, 'Ed25519');
    assert.equal(doc.keys[0]?.d, undefined, 'the JWKS holds no private part');
  });

  it('keeps the keys byte-identical across operator restarts and a crash', async function () {
    const before = snapshot(await installationSecrets(ns));
    for (const [i, how] of (['stop', 'kill'] as const).entries()) {
      const op = await startOperator({
        kubeconfig: testEnv().kubeconfig,
        namespace: ns,
        identity: `keys-restart-${i}`,
      });
      await waitForControllers(op);
      await (how === 'stop' ? op.stop() : op.kill());
      outputs.push(op.output());
    }
    assert.deepEqual(snapshot(await installationSecrets(ns)), before);
  });

  it('creates exactly one of each when two replicas start at once without leader election', async function () {
    const racing = uniqueName('palisade-race');
    await ensureNamespace(racing);
    const ops = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        startOperator({
          kubeconfig: testEnv().kubeconfig,
          namespace: racing,
          identity: `race-${id}`,
          leaderElect: false,
        }),
      ),
    );
    for (const op of ops) await waitForControllers(op);
    await Promise.all(ops.map((op) => op.stop()));
    outputs.push(...ops.map((op) => op.output()));
    const names = (await installationSecrets(racing)).map((s) => s.metadata.name);
    assert.deepEqual(names, [
      'palisade-hash-salt',
      'palisade-internal-ca-v1',
      'palisade-jwt-signing-key-v1',
      'palisade-root-key-v1',
    ]);
  });

  it('never writes key bytes to its logs or audit stream, in any encoding', async function () {
    const all = outputs.join('\n');
    assert.ok(all.includes('"audit":true'), 'the audit stream was captured');
    assert.ok(all.includes('generated installation key'), 'the logs were captured');
    for (const s of await installationSecrets(ns)) {
      for (const value of Object.values(s.data ?? {})) {
        const bytes = Buffer.from(value, 'base64');
        for (const enc of encodings(bytes))
          assert.ok(!all.includes(enc), `${s.metadata.name} leaked into the logs`);
      }
    }
  });
});
