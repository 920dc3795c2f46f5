// The API contract (controllers/runtime/testing/contract) against the real kube-apiserver and
// kube-controller-manager (garbage collector, namespace controller) of the test control plane: the
// same cases fake.test.ts runs against the in-memory server.
import { randomBytes } from 'node:crypto';
import { testEnv } from '../../../hack/testenv/env.ts';
import { systemClock } from '../clock.ts';
import { Informer } from '../informer.ts';
import { KubeClient, loadKubeConfig } from '../kube/client.ts';
import { apiContract } from './contract/index.ts';

describe('the API contract, on the real apiserver', function () {
  this.timeout(120_000);
  const clients = new Map<string, KubeClient>();
  const client = (fieldManager: string): KubeClient => {
    let c = clients.get(fieldManager);
    if (!c)
      clients.set(fieldManager, (c = new KubeClient(loadKubeConfig(testEnv().kubeconfig), fieldManager)));
    return c;
  };

  apiContract(
    async () => {
      const namespace = `contract-${randomBytes(3).toString('hex')}`;
      await client('contract-setup').create({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: namespace },
      });
      return {
        client,
        cache: (o) => new Informer(client('contract-informer'), { ...o, clock: systemClock }),
        namespace,
        settleMs: 60_000,
      };
    },
    // NB: not waited for: the namespace controller empties it in the background.
    async (t) => {
      await client('contract-setup').delete({ kind: 'Namespace', name: t.namespace });
    },
  );
});
