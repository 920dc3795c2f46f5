import assert from 'node:assert/strict';
import type { Secret } from '../runtime/kube/types.ts';
import {
  EntryKind,
  IndexKey,
  keystoreIndex,
  keystoreLabels,
  keystoreRootIndex,
  keyVersionSlot,
  rewrapName,
  slotLookup,
  ROOT_KEY_VERSION_LABEL,
  SLOT_LABEL,
  TENANT_NAMESPACE_LABEL,
  TENANTKEY_LABEL,
} from './entries.ts';

const KS = 'palisade-system';
const UID = '0123456789ab';
const entry = (namespace: string, kind: EntryKind, extra: Record<string, string> = {}): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'x', namespace, labels: keystoreLabels(kind, UID, extra) },
});
const keyVersion = (namespace: string) =>
  entry(namespace, EntryKind.TenantKey, {
    [TENANTKEY_LABEL]: 'primary',
    [ROOT_KEY_VERSION_LABEL]: '1',
    [SLOT_LABEL]: keyVersionSlot(UID, 'primary', 1),
  });

describe('keystore/entries: only the keystore namespace counts', () => {
  const index = keystoreIndex(KS);
  const roots = keystoreRootIndex(KS);

  it('indexes a key version in the keystore namespace by its TenantKey, where its slot is found', () => {
    assert.deepEqual(index(keyVersion(KS)), [IndexKey.key(UID, 'primary')]);
    assert.equal(slotLookup(keyVersion(KS)), IndexKey.key(UID, 'primary'));
    assert.deepEqual(roots(keyVersion(KS)), ['1']);
  });

  it('ignores a Secret with the very same labels in a tenant namespace: never read, never a reference', () => {
    assert.deepEqual(index(keyVersion('tenant-acme')), []);
    assert.deepEqual(roots(keyVersion('tenant-acme')), []);
  });

  it('counts only wrapped kinds as references of a root version', () => {
    const revocations = entry(KS, EntryKind.Revocations, { [ROOT_KEY_VERSION_LABEL]: '1' });
    assert.deepEqual(roots(revocations), []);
    assert.deepEqual(index(revocations), [IndexKey.revocations(UID)]);
    assert.equal(slotLookup(revocations), undefined);
  });

  it('finds a tenant record by namespace, by name and by UID', () => {
    const rec = entry(KS, EntryKind.Tenant, {
      'palisade.dev/tenant': 'acme',
      [TENANT_NAMESPACE_LABEL]: 'tenant-acme',
    });
    assert.deepEqual(
      index(rec).sort(),
      [
        IndexKey.tenantByNamespace('tenant-acme'),
        IndexKey.tenantByName('acme'),
        IndexKey.tenantByUID(UID),
      ].sort(),
    );
  });

  it('never gives a generated wrap and a rewrap, or two versions, the same name', () => {
    const names = new Set<string>();
    for (const key of ['k', 'k-v1', 'k-v1-r2'])
      for (const v of [1, 2, 12])
        for (const name of [
          keyVersionSlot(UID, key, v),
          ...[2, 3].map((r) => rewrapName(keyVersionSlot(UID, key, v), r)),
        ]) {
          assert.ok(!names.has(name), `${name} is unique`);
          names.add(name);
        }
  });
});
