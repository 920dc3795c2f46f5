import assert from 'node:assert/strict';
import type { KubeClient } from './kube/client.ts';
import type { KubeObject } from './kube/types.ts';
import { writeStatus } from './objects.ts';

/** Records status applies; each one moves the object's resourceVersion, as the apiserver does. */
function recordingClient() {
  const applied: KubeObject[] = [];
  const client = {
    apply: async (o: KubeObject) => {
      applied.push(o);
      return { ...o, metadata: { ...o.metadata, resourceVersion: String(100 + applied.length) } };
    },
  } as unknown as KubeClient;
  return { client, applied };
}

type Obj = KubeObject & { status?: { phase: string } };
const obj = (rv: string, phase?: string): Obj => ({
  apiVersion: 'palisade.dev/v1alpha1',
  kind: 'Tenant',
  metadata: { name: 'acme', uid: 'uid-acme', resourceVersion: rv },
  ...(phase ? { status: { phase } } : {}),
});

describe('writeStatus', function () {
  it('writes nothing when the object already has the status', async function () {
    const { client, applied } = recordingClient();
    assert.equal(await writeStatus(client, obj('1', 'Ready'), { phase: 'Ready' }), false);
    assert.equal(applied.length, 0);
  });

  it('writes once with the read resourceVersion as precondition', async function () {
    const { client, applied } = recordingClient();
    assert.equal(await writeStatus(client, obj('1'), { phase: 'Ready' }), true);
    assert.equal(applied[0]?.metadata.resourceVersion, '1');
  });

  it('does not write the same status again over a cache that has not seen its own write yet', async function () {
    const { client, applied } = recordingClient();
    await writeStatus(client, obj('7'), { phase: 'Ready' });
    assert.equal(
      await writeStatus(client, obj('7'), { phase: 'Ready' }),
      false,
      'same status, same stale version',
    );
    assert.equal(await writeStatus(client, obj('7'), { phase: 'Failed' }), true, 'another status is written');
    assert.equal(
      await writeStatus(client, obj('8'), { phase: 'Ready' }),
      true,
      'a newer version is compared as usual',
    );
    assert.equal(applied.length, 3);
  });
});
