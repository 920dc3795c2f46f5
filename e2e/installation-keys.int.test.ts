import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { testEnv } from '../hack/testenv/env.ts';
import { fingerprint, keyId } from '../controllers/crypto/index.ts';
import { ensureInstallationKeys, InstallationKeysMissing } from '../controllers/installation/keys.ts';
import {
  parseRecord,
  RECORD_CONFIGMAP,
  RECORD_KEY,
  type InstallationRecord,
} from '../controllers/installation/record.ts';
import type { ConfigMap, Secret } from '../controllers/runtime/kube/types.ts';
import { createLogger } from '../controllers/runtime/log.ts';
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

async function recordOf(ns: string): Promise<{ cm: ConfigMap; record: InstallationRecord }> {
  const cm = await kube().get<ConfigMap>({ kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace: ns });
  if (!cm) throw new Error(`no installation record in ${ns}`);
  return { cm, record: parseRecord(cm.data?.[RECORD_KEY]) };
}

const bytesOf = (s: Secret | undefined, key: string) => Buffer.from(s?.data?.[key] ?? '', 'base64');

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
    const { record, cm } = await recordOf(ns);
    assert.match(record.installationID, /^[0-9a-f]{32}$/);
    const rootKey = bytesOf(root, 'key');
    assert.deepEqual(record.rootKeys, [
      { version: 1, keyId: keyId(rootKey), fingerprint: fingerprint(rootKey) },
    ]);
    assert.deepEqual(
      record.jwtSigningKeys.map((k) => [k.version, k.keyId]),
      [[1, doc.keys[0]?.kid]],
    );
    const salt = secrets.find((s) => s.metadata.name === 'palisade-hash-salt');
    assert.equal(record.hashSalt?.fingerprint, fingerprint(bytesOf(salt, 'salt')));
    const text = JSON.stringify(cm);
    for (const s of secrets)
      for (const value of Object.values(s.data ?? {}))
        for (const enc of encodings(Buffer.from(value, 'base64')))
          assert.ok(!text.includes(enc), `the record holds no bytes of ${s.metadata.name}`);
  });

  it('keeps the keys byte-identical, and the record untouched, across operator restarts and a crash', async function () {
    const before = snapshot(await installationSecrets(ns));
    const recordBefore = (await recordOf(ns)).cm.metadata.resourceVersion;
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
    assert.equal((await recordOf(ns)).cm.metadata.resourceVersion, recordBefore);
  });

  it('records an installation from before records existed as it is, regenerating nothing', async function () {
    const before = snapshot(await installationSecrets(ns));
    const old = (await recordOf(ns)).record;
    await kube().delete({ kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace: ns });
    const op = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: ns,
      identity: 'keys-upgrade',
    });
    await waitForControllers(op);
    await op.stop();
    outputs.push(op.output());
    assert.deepEqual(snapshot(await installationSecrets(ns)), before, 'no key was made or changed');
    const { record } = await recordOf(ns);
    assert.deepEqual(
      { ...record, installationID: '', created: '' },
      { ...old, installationID: '', created: '' },
      'the same keys are recorded',
    );
  });

  it('never makes a recorded hash salt or JWT signing key again, and says which is missing', async function () {
    const lossy = uniqueName('palisade-lossy');
    await ensureNamespace(lossy);
    const d = {
      client: kube(),
      namespace: lossy,
      rand: (n: number) => new Uint8Array(randomBytes(n)),
      log: createLogger({ level: 'error' }),
      audit: { record: () => undefined },
    };
    await ensureInstallationKeys(d);
    for (const name of ['palisade-hash-salt', 'palisade-jwt-signing-key-v1'])
      await kube().delete({ kind: 'Secret', name, namespace: lossy });
    const err = await ensureInstallationKeys(d).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof InstallationKeysMissing, String(err));
    assert.deepEqual(
      err.problems.map((p) => `${p.component} ${p.kind}`),
      ['jwt-signing-key Missing', 'hash-salt Missing'],
    );
    assert.match(err.message, /palisade restore --in <backup>/);
    assert.deepEqual(
      (await installationSecrets(lossy)).map((s) => s.metadata.name),
      ['palisade-root-key-v1'],
      'nothing was made in their place',
    );
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
    const { record } = await recordOf(racing);
    assert.deepEqual(
      record.rootKeys.map((k) => k.version),
      [1],
      'one record, of the one root key',
    );
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
