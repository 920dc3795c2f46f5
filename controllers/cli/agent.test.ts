import assert from 'node:assert/strict';
import type { ClusterAgent } from '../../crds/v1alpha1/index.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { fakeInstallation } from '../keystore/testing/installation.ts';
import { formatShownCode, pairingCode } from './agent.ts';

const NS = 'tenant-acme';
const b64 = (s: string) => Buffer.from(s).toString('base64');

function codeSecret(codeID: string, code: string): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'edge-pairing-code',
      namespace: NS,
      annotations: { 'palisade.dev/pairing-code-id': codeID },
    },
    data: {
      code: b64(code),
      'code-id': b64(codeID),
      'expires-at': b64('2026-12-02T05:15:00Z'),
      'ca-pin': b64('sha256:ab'),
    },
  };
}

describe('palisade agent pairing-code', () => {
  async function world() {
    const w = await fakeInstallation();
    const user = w.server.client('kubectl');
    await user.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await user.create({
      apiVersion: 'palisade.dev/v1alpha1',
      kind: 'ClusterAgent',
      metadata: { name: 'edge', namespace: NS },
      spec: { clusterName: 'edge-cluster' },
    });
    return { w, user };
  }

  it('prints the shown code with its ID, expiry and CA pin', async () => {
    const { user } = await world();
    await user.create(codeSecret('pc-1', 'ABCD-EFGH-JKMN'));
    const c = await pairingCode(user, { namespace: NS, agent: 'edge', renew: false, now: () => new Date() });
    assert.deepEqual(c, {
      code: 'ABCD-EFGH-JKMN',
      codeID: 'pc-1',
      expiresAt: '2026-12-02T05:15:00Z',
      caPin: 'sha256:ab',
    });
    assert.match(formatShownCode(c), /PALISADE_PAIRING_CODE=ABCD-EFGH-JKMN palisade-agent pair/);
  });

  it('says to ask for a new code when none is shown', async () => {
    const { user } = await world();
    await assert.rejects(
      pairingCode(user, { namespace: NS, agent: 'edge', renew: false, now: () => new Date() }),
      /shows no code.*--new/,
    );
  });

  it('--new sets spec.pairing.requestedAt and waits for a code other than the one shown before', async () => {
    const { user } = await world();
    const now = new Date('2026-12-02T05:00:00Z');
    let polls = 0;
    const c = await pairingCode(user, {
      namespace: NS,
      agent: 'edge',
      renew: true,
      now: () => now,
      // The operator's part, played here: the code appears after the trigger.
      sleep: async () => {
        if (++polls === 2) await user.create(codeSecret('pc-2', 'NEWC-ODEX-YZ23'));
      },
    });
    assert.equal(c.codeID, 'pc-2');
    const a = await user.get<ClusterAgent>({ kind: 'ClusterAgent', name: 'edge', namespace: NS });
    assert.equal(a?.spec.pairing?.requestedAt, now.toISOString());
  });
});
