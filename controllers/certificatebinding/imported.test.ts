import assert from 'node:assert/strict';
import type { CertificateBinding } from '../../crds/v1alpha1/index.ts';
import { ManagedNamespaces, NamespaceSubset } from '../runtime/namespaced.ts';
import { FakeCache } from '../runtime/testing/cache.ts';
import { FakeApiServer } from '../runtime/testing/fakeapi.ts';
import { followImports } from './imported.ts';

const NAMES = ['app.example.test'];
const imported = { imported: { secretRef: { name: 'tls' }, dnsNames: NAMES } };
const internal = { internal: { dnsNames: NAMES } };

/** The import watch's namespaces, kept from the bindings of an in-memory API server. */
async function importWorld(managed: string[]) {
  const server = new FakeApiServer({ namespaces: ['op', 'apps', 'web', 'unmanaged'] });
  const namespaces = new ManagedNamespaces(['op', ...managed]);
  const importers = new NamespaceSubset('imported-certificates', namespaces);
  const bindings = new FakeCache<CertificateBinding>(server, { kind: 'CertificateBinding' });
  followImports(bindings, importers);
  await bindings.start();
  const user = server.client('kubectl');
  const binding = (name: string, spec: Record<string, unknown>, namespace = 'apps') => ({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'CertificateBinding',
    metadata: { name, namespace },
    spec: { ...(spec.internal ? { secretName: `${name}-tls` } : {}), ...spec },
  });
  return {
    namespaces,
    importers,
    create: (name: string, spec: Record<string, unknown>, namespace?: string) =>
      user.create(binding(name, spec, namespace)),
    /** A spec changed to another source (the API allows it: exactly one is set at a time). */
    replace: async (name: string, spec: Record<string, unknown>) => {
      const now = await user.get<CertificateBinding>({ kind: 'CertificateBinding', name, namespace: 'apps' });
      const next = binding(name, spec);
      return user.update({
        ...next,
        metadata: { ...next.metadata, resourceVersion: now?.metadata.resourceVersion },
      });
    },
    remove: (name: string, namespace = 'apps') =>
      user.delete({ kind: 'CertificateBinding', name, namespace }),
  };
}

describe('the namespaces where imported Secrets are watched', () => {
  it('takes in a namespace with its first importing binding and lets it go with its last', async () => {
    const w = await importWorld(['apps']);
    assert.deepEqual(w.importers.list(), []);
    await w.create('one', imported);
    assert.deepEqual(w.importers.list(), ['apps']);
    await w.create('two', imported);
    await w.remove('one');
    assert.deepEqual(w.importers.list(), ['apps'], 'one importing binding is left');
    await w.remove('two');
    assert.deepEqual(w.importers.list(), []);
  });

  it('does not watch for bindings of the other sources', async () => {
    const w = await importWorld(['apps']);
    await w.create('inside', internal);
    assert.deepEqual(w.importers.list(), []);
  });

  it('lets a namespace go when its last importing binding changes to another source, and back', async () => {
    const w = await importWorld(['apps']);
    await w.create('one', imported);
    await w.replace('one', internal);
    assert.deepEqual(w.importers.list(), []);
    await w.replace('one', imported);
    assert.deepEqual(w.importers.list(), ['apps']);
  });

  it('never watches a namespace Palisade does not manage, until it does', async () => {
    const w = await importWorld(['apps']);
    await w.create('stray', imported, 'unmanaged');
    assert.deepEqual(w.importers.list(), []);
    w.namespaces.add('unmanaged');
    assert.deepEqual(w.importers.list(), ['unmanaged']);
    w.namespaces.remove('unmanaged');
    assert.deepEqual(w.importers.list(), [], 'no longer managed: no longer watched');
  });
});
