import assert from 'node:assert/strict';
import winston from 'winston';
import type { KubeApi } from '../runtime/kube/api.ts';
import { ManagedNamespaces } from '../runtime/namespaced.ts';
import { TenantNamespaceAccess } from './access.ts';

describe("tenant namespaces: Palisade's Secret rights", () => {
  it('stops managing a namespace before it unbinds its Secret role, so no reconcile meets 403 in between', async () => {
    const namespaces = new ManagedNamespaces(['palisade-system']);
    namespaces.add('tenant-a');
    const managedWhenUnbound: boolean[] = [];
    const client = {
      delete: async (ref: { kind: string; namespace?: string }) => {
        if (ref.kind === 'RoleBinding') managedWhenUnbound.push(namespaces.has(ref.namespace ?? ''));
      },
    } as unknown as KubeApi;
    const access = new TenantNamespaceAccess({
      client,
      namespaces,
      keystoreNamespace: 'palisade-system',
      role: {
        clusterRole: 'palisade-tenant-secrets',
        serviceAccount: 'palisade',
        serviceAccountNamespace: 'palisade-system',
      },
      log: winston.createLogger({ silent: true }),
    });
    await access.revoke('tenant-a');
    assert.deepEqual(managedWhenUnbound, [false]);
    assert.equal(namespaces.has('tenant-a'), false);
  });
});
