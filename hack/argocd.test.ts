import assert from 'node:assert/strict';
import { LuaFactory } from 'wasmoon';
import { parse } from 'yaml';
import { argocdConfigMapPatch, HEALTH_CHECKED_KINDS } from './argocd.ts';

interface Health {
  status: string;
  message: string;
}

/** Runs a health script the way Argo CD does: `obj` is a global table, the script returns `hs`. */
async function health(script: string, obj: object): Promise<Health> {
  const lua = await new LuaFactory().createEngine();
  try {
    lua.global.set('obj', obj);
    return (await lua.doString(script)) as Health;
  } finally {
    lua.global.close();
  }
}

const ready = (status: string, reason: string, message = 'details') => ({
  conditions: [{ type: 'Ready', status, reason, message, lastTransitionTime: '2026-01-01T00:00:00Z' }],
});

const cases: [string, object, string, RegExp][] = [
  [
    'a Tenant without status is Progressing',
    { kind: 'Tenant', metadata: { generation: 1 } },
    'Progressing',
    /Waiting/,
  ],
  [
    'a Tenant with Ready=True for its generation is Healthy',
    {
      kind: 'Tenant',
      metadata: { generation: 2 },
      status: { observedGeneration: 2, ...ready('True', 'TenantReady', 'All checks passed') },
    },
    'Healthy',
    /All checks passed/,
  ],
  [
    'a Ready=True from an older generation is still Progressing',
    {
      kind: 'TenantKey',
      metadata: { generation: 3 },
      status: { observedGeneration: 2, ...ready('True', 'Ready') },
    },
    'Progressing',
    /generation 3/,
  ],
  [
    'Ready=False is Degraded with its reason',
    {
      kind: 'CertificateBinding',
      metadata: { generation: 1 },
      status: { observedGeneration: 1, ...ready('False', 'KeyMismatch', 'the key does not match') },
    },
    'Degraded',
    /KeyMismatch: the key does not match/,
  ],
  [
    'Ready=Unknown is Progressing',
    {
      kind: 'TenantKey',
      metadata: { generation: 1 },
      status: { observedGeneration: 1, ...ready('Unknown', 'Pending') },
    },
    'Progressing',
    /Pending/,
  ],
  [
    'a suspended ClusterAgent is Suspended',
    {
      kind: 'ClusterAgent',
      metadata: { generation: 1 },
      spec: { suspended: true },
      status: { observedGeneration: 1, ...ready('True', 'Ready') },
    },
    'Suspended',
    /suspended/,
  ],
];

describe('Argo CD health checks', function () {
  const data = (parse(argocdConfigMapPatch()) as { data: Record<string, string> }).data;

  it('covers every kind', () => {
    assert.deepEqual(
      Object.keys(data).sort(),
      HEALTH_CHECKED_KINDS.map((k) => `resource.customizations.health.palisade.dev_${k}`).sort(),
    );
  });

  for (const [name, obj, status, message] of cases) {
    it(name, async () => {
      const script =
        data[`resource.customizations.health.palisade.dev_${(obj as { kind: string }).kind}`] ?? '';
      const hs = await health(script, obj);
      assert.equal(hs.status, status);
      assert.match(hs.message, message);
    });
  }
});
