// Restore on the in-memory API server: the order it writes in, and a fresh restore that stops part-way
// (one API error among many creates) finished by running it again, keystore included.
import assert from 'node:assert/strict';
import { tenantRecordSecret } from '../keystore/tenants.ts';
import { fakeInstallation, OPERATOR_NAMESPACE } from '../keystore/testing/installation.ts';
import { ApiError } from '../runtime/errors.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { ConfigMap, KubeObject, Secret } from '../runtime/kube/types.ts';
import { FakeApiServer } from '../runtime/testing/fakeapi.ts';
import { backupInstallation, restoreInstallation } from './backup.ts';
import { RECORD_CONFIGMAP } from './record.ts';
import { Component } from './secrets.ts';

const PASSPHRASE = 'correct horse battery staple';
/** Cheap Argon2id for tests (the CLI's default is 64 MiB, 3 passes). */
const PARAMS = { memoryKiB: 64, iterations: 1, parallelism: 1 };

/** A backup of an installation with two tenants' records in its keystore. */
async function backup() {
  const w = await fakeInstallation();
  for (const [i, ns] of ['tenant-a', 'tenant-b'].entries())
    await w.keystore.createOnce(
      tenantRecordSecret({
        namespace: ns,
        keystoreNamespace: OPERATOR_NAMESPACE,
        uid: `00000000000${i}`,
        tenant: ns,
        created: w.env.now().toISOString(),
      }),
    );
  return backupInstallation({
    client: w.client,
    namespace: OPERATOR_NAMESPACE,
    passphrase: PASSPHRASE,
    rand: w.env.rand,
    now: w.env.now(),
    params: PARAMS,
  });
}

/** Palisade's client on a fresh cluster, whose Secret creates are logged, and fail from the `failAt`-th. */
function freshCluster() {
  const server = new FakeApiServer({ namespaces: [OPERATOR_NAMESPACE] });
  const client = server.client('palisade-cli');
  const created: string[] = [];
  let failAt = Infinity;
  const create = client.create.bind(client);
  client.create = (async (o: KubeObject) => {
    if (o.kind === 'Secret') {
      if (created.length + 1 >= failAt) throw new ApiError(429, 'TooManyRequests', 'slow down');
      created.push(o.metadata.name);
    }
    return create(o);
  }) as typeof client.create;
  return {
    client: client as KubeApi,
    created,
    failFrom: (n: number) => void (failAt = n),
    secrets: async () =>
      (await client.list<Secret>('Secret', { namespace: OPERATOR_NAMESPACE })).items.map(
        (s) => s.metadata.name,
      ),
    record: () =>
      client.get<ConfigMap>({ kind: 'ConfigMap', name: RECORD_CONFIGMAP, namespace: OPERATOR_NAMESPACE }),
  };
}

describe('installation restore', () => {
  it('writes the record first and the root key versions last', async () => {
    const b = await backup();
    const c = freshCluster();
    const r = await restoreInstallation({ client: c.client, blob: b.blob, passphrase: PASSPHRASE });
    assert.equal(r.mode, 'fresh');
    const roots = c.created.filter((n) => n.startsWith(`palisade-${Component.RootKey}`));
    assert.ok(roots.length > 0);
    assert.deepEqual(c.created.slice(-roots.length), roots, c.created.join(', '));
    assert.ok(
      c.created.some((n) => n.startsWith('palisade-tenant-')),
      'the keystore is restored',
    );
    assert.equal((await c.record())?.metadata.annotations?.['palisade.dev/restore-in-progress'], undefined);
  });

  it('finishes a fresh restore that stopped part-way when run again, keystore included', async () => {
    const b = await backup();
    const c = freshCluster();
    c.failFrom(2);
    await assert.rejects(
      restoreInstallation({ client: c.client, blob: b.blob, passphrase: PASSPHRASE }),
      /slow down/,
    );
    assert.ok(await c.record(), 'the record was written first');
    assert.ok(
      !(await c.secrets()).some((n) => n.startsWith(`palisade-${Component.RootKey}`)),
      'no root key yet',
    );

    c.failFrom(Infinity);
    const again = await restoreInstallation({ client: c.client, blob: b.blob, passphrase: PASSPHRASE });
    assert.equal(again.mode, 'resume');
    assert.deepEqual((await c.secrets()).sort(), [...b.names].sort());
    assert.equal((await c.record())?.metadata.annotations?.['palisade.dev/restore-in-progress'], undefined);

    // Finished: a third run is a repair of a complete installation, which leaves the keystore alone.
    const third = await restoreInstallation({ client: c.client, blob: b.blob, passphrase: PASSPHRASE });
    assert.equal(third.mode, 'repair');
    assert.deepEqual(third.created, []);
  });
});
