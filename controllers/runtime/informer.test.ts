import assert from 'node:assert/strict';
import { trimmed } from './informer.ts';
import type { KubeObject } from './kube/types.ts';

describe('runtime/informer: what the cache keeps of an object', () => {
  it('drops managedFields and kubectl’s last-applied copy, and keeps everything a reconcile reads', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 's',
        namespace: 'n',
        resourceVersion: '7',
        labels: { 'palisade.dev/tenant': 't' },
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}',
          'palisade.dev/user': 'U',
        },
        managedFields: [{ manager: 'palisade-operator', operation: 'Apply', fieldsV1: { 'f:data': {} } }],
      },
      data: { key: 'AAAA' },
    } as KubeObject & { data: Record<string, string> };
    const kept = trimmed(structuredClone(obj));
    const { managedFields: _m, ...meta } = obj.metadata as typeof obj.metadata & { managedFields?: unknown };
    void _m;
    assert.deepEqual(kept, {
      ...obj,
      metadata: { ...meta, annotations: { 'palisade.dev/user': 'U' } },
    });
  });
});
