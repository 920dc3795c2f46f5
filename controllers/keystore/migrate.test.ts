// The upgrade move from the layout before the keystore, on the in-memory API server: what it reads in a
// tenant namespace is tenant-writable, so a forged label, foreign bytes or a Secret the API server would
// refuse must neither steer the keystore nor stop the move (it runs before every controller starts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Tenant } from '../../crds/v1alpha1/index.ts';
import { tenantKeyBinding } from '../crypto/index.ts';
import { ApiError } from '../runtime/errors.ts';
import type { ConfigMap, Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL, TENANT_UID_LABEL } from '../runtime/objects.ts';
import {
  KEY_UID_LABEL,
  keyVersionSlot,
  PUBLIC_KEY_ANNOTATION,
  ROOT_KEY_VERSION_LABEL,
  TENANTKEY_LABEL,
  VERSION_LABEL,
  accountSeedSlot,
} from './entries.ts';
import { LAYOUT_CONFIGMAP, moveCompleted, recordMoveCompleted } from './layout.ts';
import { LegacyComponent, migrateToKeystore } from './migrate.ts';
import { accountSeedBinding, WRAPPED_DATA_KEY } from './store.ts';
import { fakeInstallation, fakeTenant, OPERATOR_NAMESPACE, plantAsTenant } from './testing/installation.ts';

const UID = '0123456789ab';
const NS = 'tenant-acme';
const KEY_UID = 'key-uid-1';

async function world() {
  const w = await fakeInstallation();
  await fakeTenant(w, { namespace: NS, uid: UID, tenant: 'acme', watch: true });
  const tenants = await w.cache<Tenant>('Tenant');
  const warnings: string[] = [];
  const log = { ...w.log, warn: (msg: string) => void warnings.push(msg), info: () => undefined };
  return {
    ...w,
    warnings,
    /** A wrapped TenantKey version as the earlier layout kept it in the tenant namespace. */
    plantKey: async (name: string, keyName: string, version: number, labels: Record<string, string> = {}) => {
      const binding = tenantKeyBinding({ tenantUID: UID, keyName, keyUID: KEY_UID, version });
      const { wrapped } = w.keystore.wrap(new Uint8Array(randomBytes(32)), binding);
      return plant(name, LegacyComponent.TenantKey, Buffer.from(wrapped).toString('base64'), {
        [TENANTKEY_LABEL]: keyName,
        [VERSION_LABEL]: String(version),
        [KEY_UID_LABEL]: KEY_UID,
        ...labels,
      });
    },
    plant,
    migrate: async (o: { recordsOnly?: boolean } = {}) => {
      const moved = await migrateToKeystore({
        ...o,
        keystore: w.keystore,
        secrets: w.secrets,
        tenants,
        log: log as never,
        audit: w.audit,
        now: w.env.now,
        watchNamespaces: async () => undefined,
      });
      await w.tick();
      return moved;
    },
    inTenantNamespace: async (name: string) => w.client.get<Secret>({ kind: 'Secret', name, namespace: NS }),
    inKeystore: async (name: string) =>
      w.client.get<Secret>({ kind: 'Secret', name, namespace: OPERATOR_NAMESPACE }),
  };

  function plant(
    name: string,
    component: string,
    wrappedBase64: string,
    labels: Record<string, string>,
    extra: { dataKey?: string; annotations?: Record<string, string> } = {},
  ) {
    return plantAsTenant(w, NS, {
      name,
      labels: { [COMPONENT_LABEL]: component, ...labels },
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
      data: { [extra.dataKey ?? 'wrapped']: wrappedBase64 },
    });
  }
}

describe('keystore: the move from the earlier layout (tenant-writable input)', () => {
  it("files a key version under the root its envelope names, whatever the Secret's label says", async () => {
    const w = await world();
    await w.plantKey('k-v1', 'k', 1, { [ROOT_KEY_VERSION_LABEL]: '9' });
    assert.equal(await w.migrate(), 1);
    const entry = await w.inKeystore(keyVersionSlot(UID, 'k', 1));
    assert.equal(entry?.metadata.labels?.[ROOT_KEY_VERSION_LABEL], '1', 'the root that really wraps it');
    assert.equal(await w.inTenantNamespace('k-v1'), undefined, 'moved, not copied');
  });

  it('leaves malformed, foreign and refused Secrets where they are and moves the rest, without failing', async () => {
    const w = await world();
    await w.plant('garbage', LegacyComponent.TenantKey, Buffer.from('not an envelope').toString('base64'), {
      [TENANTKEY_LABEL]: 'g',
      [VERSION_LABEL]: '1',
      [KEY_UID_LABEL]: KEY_UID,
    });
    // Another version's bytes under this version's labels: the binding does not match.
    await w.plantKey('copied', 'c', 2, { [VERSION_LABEL]: '3' });
    await w.plantKey('bad-name', 'Not_A_Name', 1);
    await w.plantKey('refused-v1', 'refused', 1);
    await w.plantKey('good-v1', 'good', 1);
    const create = w.client.create.bind(w.client);
    w.client.create = (async (o: Secret) => {
      if (o.metadata.name.includes('-refused-')) throw new ApiError(422, 'Invalid', 'label value too long');
      return create(o);
    }) as typeof w.client.create;
    assert.equal(await w.migrate(), 1);
    assert.ok(await w.inKeystore(keyVersionSlot(UID, 'good', 1)));
    for (const kept of ['garbage', 'copied', 'bad-name', 'refused-v1'])
      assert.ok(await w.inTenantNamespace(kept), `${kept} stays where it was`);
    assert.equal(w.warnings.length, 4, w.warnings.join('\n'));
  });

  it('reads no tenant namespace once the move has completed (recordsOnly)', async () => {
    const w = await world();
    await w.plantKey('k-v1', 'k', 1);
    assert.equal(await w.migrate({ recordsOnly: true }), 0);
    assert.ok(await w.inTenantNamespace('k-v1'));
    assert.equal(await w.inKeystore(keyVersionSlot(UID, 'k', 1)), undefined);
  });

  it('keeps the legacy Secret when the keystore holds other bytes for that version', async () => {
    const w = await world();
    await w.plantKey('k-v1', 'k', 1);
    assert.equal(await w.migrate(), 1);
    const before = (await w.inKeystore(keyVersionSlot(UID, 'k', 1)))?.data?.[WRAPPED_DATA_KEY];
    assert.ok(before);
    // The same version again, other bytes (wrapped for the same place, so it unwraps).
    await w.plantKey('k-v1', 'k', 1);
    assert.equal(await w.migrate(), 0);
    assert.ok(await w.inTenantNamespace('k-v1'), 'not deleted: its bytes are not the ones kept');
    assert.equal((await w.inKeystore(keyVersionSlot(UID, 'k', 1)))?.data?.[WRAPPED_DATA_KEY], before);
    assert.equal(w.warnings.length, 1);
  });

  it("moves an account seed without the legacy Secret's public key annotation", async () => {
    const w = await world();
    const { wrapped } = w.keystore.wrap(new Uint8Array(randomBytes(58)), accountSeedBinding(UID));
    await w.plant(
      'palisade-nats-account',
      LegacyComponent.NatsAccount,
      Buffer.from(wrapped).toString('base64'),
      { [TENANT_UID_LABEL]: UID, [ROOT_KEY_VERSION_LABEL]: '7' },
      { dataKey: 'seed.wrapped', annotations: { [PUBLIC_KEY_ANNOTATION]: 'A-SOMEONE-ELSES-ACCOUNT' } },
    );
    assert.equal(await w.migrate(), 1);
    const entry = await w.inKeystore(accountSeedSlot(UID));
    assert.equal(entry?.metadata.labels?.[ROOT_KEY_VERSION_LABEL], '1');
    assert.equal(entry?.metadata.annotations?.[PUBLIC_KEY_ANNOTATION], undefined);
  });
});

describe('keystore: the record of completed moves (palisade-layout)', () => {
  it('records each move once, apart from the other, and is read live', async () => {
    const w = await fakeInstallation();
    assert.equal(await moveCompleted(w.client, OPERATOR_NAMESPACE, 'keystore'), false);
    await recordMoveCompleted(w.client, OPERATOR_NAMESPACE, 'keystore', w.env.now());
    const first = w.env.now().toISOString();
    w.env.advance(60_000);
    assert.equal(await moveCompleted(w.client, OPERATOR_NAMESPACE, 'keystore'), true);
    assert.equal(await moveCompleted(w.client, OPERATOR_NAMESPACE, 'agents'), false);
    await recordMoveCompleted(w.client, OPERATOR_NAMESPACE, 'agents', w.env.now());
    await recordMoveCompleted(w.client, OPERATOR_NAMESPACE, 'keystore', w.env.now());
    const cm = await w.client.get<ConfigMap>({
      kind: 'ConfigMap',
      name: LAYOUT_CONFIGMAP,
      namespace: OPERATOR_NAMESPACE,
    });
    assert.deepEqual(cm?.data, { keystore: first, agents: w.env.now().toISOString() });
  });
});
