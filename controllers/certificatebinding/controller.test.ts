import assert from 'node:assert/strict';
import type { CertificateBinding, Tenant } from '../../crds/v1alpha1/index.ts';
import { FakeApiServer } from '../runtime/testing/fakeapi.ts';
import { FakeCache } from '../runtime/testing/cache.ts';
import type { KubeObject } from '../runtime/kube/types.ts';
import { NAMESPACES_INDEX, policyNamespaces, tenantPolicyWatch } from './controller.ts';

const API = 'palisade.dev/v1alpha1';

function tenant(name: string, allowed: string[]): KubeObject {
  return {
    apiVersion: API,
    kind: 'Tenant',
    metadata: { name },
    spec: { certificates: { allowedDNSNames: allowed } },
  } as KubeObject;
}

function binding(namespace: string, name: string): KubeObject {
  return {
    apiVersion: API,
    kind: 'CertificateBinding',
    metadata: { name, namespace },
    spec: { secretName: `${name}-tls`, internal: { dnsNames: [`${name}.${namespace}.svc`] } },
  } as KubeObject;
}

describe('certificatebinding: Tenant changes that move the name policy', () => {
  async function setUp() {
    const server = new FakeApiServer({ namespaces: ['tenant-a', 'tenant-b'] });
    const tenants = new FakeCache<Tenant>(server, { kind: 'Tenant' });
    const bindings = new FakeCache<CertificateBinding>(server, { kind: 'CertificateBinding' });
    bindings.addIndex(NAMESPACES_INDEX, policyNamespaces);
    server.create('test', binding('tenant-a', 'web'));
    server.create('test', binding('tenant-b', 'api'));
    server.create('test', tenant('a', []));
    await tenants.start();
    await bindings.start();
    const enqueued: string[] = [];
    tenantPolicyWatch(tenants, bindings).register((k) => enqueued.push(k));
    return { server, enqueued };
  }

  it('enqueues the bindings of the namespace whose allowed names changed, and of no other', async () => {
    const { server, enqueued } = await setUp();
    server.apply('test', tenant('a', ['*.example.com']));
    assert.deepEqual(enqueued, ['tenant-a/web']);
  });

  it('enqueues nothing for a status write or a change of the same names', async () => {
    const { server, enqueued } = await setUp();
    server.apply(
      'test',
      {
        apiVersion: API,
        kind: 'Tenant',
        metadata: { name: 'a' },
        status: { observedGeneration: 1 },
      } as KubeObject,
      'status',
    );
    server.apply('test', {
      ...tenant('a', []),
      metadata: { name: 'a', labels: { team: 'x' } },
    } as KubeObject);
    assert.deepEqual(enqueued, []);
  });

  it('enqueues the bindings of both namespaces when a Tenant moves, and of its namespace when it goes', async () => {
    const { server, enqueued } = await setUp();
    server.apply('test', {
      ...tenant('a', []),
      spec: { namespace: 'tenant-b', certificates: {} },
    } as KubeObject);
    assert.deepEqual(enqueued.sort(), ['tenant-a/web', 'tenant-b/api']);
    enqueued.length = 0;
    server.delete({ kind: 'Tenant', name: 'a' });
    assert.deepEqual(enqueued, ['tenant-b/api']);
  });
});
