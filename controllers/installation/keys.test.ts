// The installation keys against the in-memory API server (controllers/runtime/testing): what a start makes,
// what a second start leaves alone, and what it refuses to make again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import winston from 'winston';
import type { AuditLog, AuditRecord } from '../runtime/log.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../runtime/objects.ts';
import { FakeCache } from '../runtime/testing/cache.ts';
import { FakeApiServer } from '../runtime/testing/fakeapi.ts';
import { RootKeyring } from './keyring.ts';
import { ensureInstallationKeys, InstallationKeysMissing, type InstallationKeys } from './keys.ts';
import { observeInstallation, saveRecord } from './observe.ts';
import { parseRecord, RECORD_CONFIGMAP, RECORD_KEY } from './record.ts';
import { rotateRootKey } from './rotation.ts';
import { ROOT_KEY_VERSION_LABEL } from './rootversion.ts';
import { Component, installationSecret, JWKS_CONFIGMAP } from './secrets.ts';

const NS = 'palisade-system';
const log = winston.createLogger({ silent: true });
const rand = (n: number) => new Uint8Array(randomBytes(n));
const MANAGED = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

function installation() {
  const server = new FakeApiServer({ namespaces: [NS] });
  const client = server.client('palisade');
  const audited: AuditRecord[] = [];
  const audit: AuditLog = { record: (r) => void audited.push(r) };
  const deps = { client, namespace: NS, rand, log, audit, now: () => new Date('2030-01-01T00:00:00Z') };
  return { server, client, audited, deps, start: () => ensureInstallationKeys(deps) };
}

async function secretNames(client: KubeApi): Promise<string[]> {
  return (await client.list<Secret>('Secret', { namespace: NS })).items.map((s) => s.metadata.name);
}

async function record(client: KubeApi) {
  const cm = await client.get<ConfigMap>(recordRef);
  return cm && parseRecord(cm.data?.[RECORD_KEY]);
}

const secretRef = (name: string) => ({ kind: 'Secret', name, namespace: NS });
const recordRef = { kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace: NS };

/** The public facts of the keys a start returned, comparable across starts. */
const facts = (k: InstallationKeys) => ({
  root: k.rootKeys.map((r) => [r.version, r.keyId, Buffer.from(r.key).toString('hex')]),
  salt: Buffer.from(k.hashSalt).toString('hex'),
  kids: k.jwks.keys.map((j) => j.kid),
});

async function missing(p: Promise<unknown>) {
  const e = await p.then(
    () => assert.fail('expected InstallationKeysMissing'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InstallationKeysMissing, String(e));
  return e.problems.map((p) => [p.component, p.version, p.kind]);
}

describe('installation keys (on the in-memory API server)', () => {
  it('makes the root key, JWT signing key, hash salt, record and JWKS once on a first start', async () => {
    const { client, audited, start } = installation();
    const keys = await start();
    assert.deepEqual(await secretNames(client), [
      'palisade-hash-salt',
      'palisade-jwt-signing-key-v1',
      'palisade-root-key-v1',
    ]);
    for (const s of (await client.list<Secret>('Secret', { namespace: NS })).items)
      assert.equal(s.immutable, true);
    const [root] = keys.rootKeys;
    assert.equal(root?.key.length, 32);
    assert.equal(keys.hashSalt.length, 32);
    const r = await record(client);
    assert.deepEqual(
      r?.rootKeys.map((k) => [k.version, k.keyId]),
      [[1, root?.keyId]],
    );
    assert.deepEqual(
      r?.jwtSigningKeys.map((k) => k.keyId),
      keys.jwks.keys.map((k) => k.kid),
    );
    assert.ok(r?.hashSalt?.fingerprint);
    const jwks = await client.get<ConfigMap>({ kind: 'ConfigMap', name: JWKS_CONFIGMAP, namespace: NS });
    assert.deepEqual(JSON.parse(jwks?.data?.['jwks.json'] ?? '{}'), keys.jwks);
    assert.deepEqual(audited.map((a) => a.action).sort(), [
      'hash-salt.generate',
      'installation.record',
      'jwt-signing-key.generate',
      'root-key.generate',
    ]);
  });

  it('changes nothing on a second start and returns the same keys', async () => {
    const { server, audited, start } = installation();
    const first = await start();
    const written = server.resourceVersion;
    const auditedBefore = audited.length;
    const second = await start();
    assert.equal(server.resourceVersion, written, 'no write at all');
    assert.equal(audited.length, auditedBefore);
    assert.deepEqual(facts(second), facts(first));
  });

  it('makes one set of keys when two replicas start at once', async () => {
    const { deps, client } = installation();
    const [a, b] = await Promise.all([ensureInstallationKeys(deps), ensureInstallationKeys(deps)]);
    assert.deepEqual(facts(a), facts(b));
    assert.equal((await secretNames(client)).length, 3);
    assert.equal((await record(client))?.rootKeys.length, 1);
  });

  it('refuses, and makes nothing, when a recorded root version is missing', async () => {
    const { server, client, start } = installation();
    await start();
    await client.delete(secretRef('palisade-root-key-v1'));
    const before = server.resourceVersion;
    assert.deepEqual(await missing(start()), [[Component.RootKey, 1, 'Missing']]);
    assert.equal(server.resourceVersion, before, 'nothing was written');
    assert.equal(await client.get(secretRef('palisade-root-key-v1')), undefined);
  });

  it('refuses a root key replaced by another key under the recorded name', async () => {
    const { client, start } = installation();
    await start();
    await client.delete(secretRef('palisade-root-key-v1'));
    const impostor = installationSecret({
      namespace: NS,
      component: Component.RootKey,
      version: 1,
      data: { key: rand(32) },
    });
    await client.create(impostor);
    assert.deepEqual(await missing(start()), [[Component.RootKey, 1, 'Mismatch']]);
  });

  it('refuses a recorded JWT signing key or salt that is gone, rather than minting a new one', async () => {
    const { client, start } = installation();
    await start();
    await client.delete(secretRef('palisade-jwt-signing-key-v1'));
    await client.delete(secretRef('palisade-hash-salt'));
    assert.deepEqual((await missing(start())).sort(), [
      [Component.HashSalt, undefined, 'Missing'],
      [Component.JwtSigningKey, 1, 'Missing'],
    ]);
    assert.deepEqual(await secretNames(client), ['palisade-root-key-v1']);
  });

  it('refuses a fresh-looking namespace whose keystore holds entries wrapped by an unknown root version', async () => {
    const { client, start } = installation();
    const wrapped = installationSecret({ namespace: NS, component: Component.RootKey, data: { x: 'y' } });
    wrapped.metadata = {
      name: 'entry',
      namespace: NS,
      labels: { ...wrapped.metadata.labels, [ROOT_KEY_VERSION_LABEL]: '3' },
    };
    await client.create(wrapped);
    assert.deepEqual(await missing(start()), [[Component.RootKey, 3, 'Missing']]);
    assert.deepEqual(await secretNames(client), ['entry']);
  });

  it('records the keys of an installation from before records, making only what is absent', async () => {
    const { client, start } = installation();
    const old = installationSecret({
      namespace: NS,
      component: Component.RootKey,
      version: 1,
      data: { key: rand(32) },
    });
    const created = await client.create(old);
    const keys = await start();
    const kept = await client.get<Secret>(secretRef('palisade-root-key-v1'));
    assert.equal(
      kept?.metadata.resourceVersion,
      created.metadata.resourceVersion,
      'the old root key is untouched',
    );
    assert.deepEqual(keys.rootKeys[0]?.key, new Uint8Array(Buffer.from(created.data?.key ?? '', 'base64')));
    assert.equal((await record(client))?.rootKeys[0]?.keyId, keys.rootKeys[0]?.keyId);
    assert.equal((await secretNames(client)).length, 3);
  });

  it('reports a damaged record and never overwrites it', async () => {
    const { client, start } = installation();
    await start();
    const cm = await client.get<ConfigMap>(recordRef);
    if (!cm) throw new Error('no record');
    const damaged = await client.update({ ...cm, data: { [RECORD_KEY]: '{not json' } });
    assert.deepEqual(await missing(start()), [['installation-record', undefined, 'Unreadable']]);
    const after = await client.get(recordRef);
    assert.equal(after?.metadata.resourceVersion, damaged.metadata.resourceVersion);
  });

  it('adds a rotated root version to the record, keeping the old one', async () => {
    const { client, deps, start } = installation();
    const first = await start();
    const rotated = await rotateRootKey(deps);
    assert.deepEqual([rotated.previous, rotated.version], [1, 2]);
    const keys = await start();
    assert.deepEqual(
      keys.rootKeys.map((k) => k.version),
      [1, 2],
    );
    assert.equal(keys.rootKeys[0]?.keyId, first.rootKeys[0]?.keyId);
    assert.deepEqual(
      (await record(client))?.rootKeys.map((k) => k.version),
      [1, 2],
    );
  });

  it('does not write the record over a newer one (resourceVersion precondition)', async () => {
    const { client, deps, start } = installation();
    await start();
    await rotateRootKey(deps);
    const seen = await observeInstallation(deps);
    const cm = await client.get<ConfigMap>(recordRef);
    if (!cm) throw new Error('no record');
    await client.update({
      ...cm,
      metadata: { ...cm.metadata, labels: { ...cm.metadata.labels, touched: 'yes' } },
    });
    assert.equal(await saveRecord(deps, seen), false);
    assert.deepEqual(
      (await record(client))?.rootKeys.map((k) => k.version),
      [1],
    );
  });
});

describe('the root keyring (over a cache of the in-memory API server)', () => {
  it('follows a root rotation through its Secret cache, and still finds the old version', async () => {
    const { server, deps, start } = installation();
    const first = await start();
    const secrets = new FakeCache<Secret>(server, { kind: 'Secret', namespace: NS, labelSelector: MANAGED });
    const ring = new RootKeyring(secrets, NS);
    await secrets.start();
    assert.equal(ring.active().version, 1);
    await rotateRootKey(deps);
    assert.equal(ring.active().version, 2);
    const old = first.rootKeys[0];
    assert.deepEqual(old && ring.lookup(old), old?.key);
    assert.equal(old && ring.lookup({ version: 1, keyId: 'another' }), undefined);
  });
});
