// The upgrade move of agents' records and revocation lists, on the in-memory API server: the Secrets it
// reads sit in tenant namespaces, so a malformed or hostile one is skipped, and never stops the move
// (it runs before any controller, at every start).
import assert from 'node:assert/strict';
import { agentRecordName, revocationsName } from '../keystore/entries.ts';
import {
  fakeInstallation,
  fakeTenant,
  OPERATOR_NAMESPACE,
  plantAsTenant,
} from '../keystore/testing/installation.ts';
import { readRevocations } from '../nats/revocations.ts';
import { NATS_SECRETS, NatsComponent } from '../nats/secrets.ts';
import { ApiError } from '../runtime/errors.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { AGENT_LABEL } from '../keystore/entries.ts';
import { Annotation } from './conditions.ts';
import { migrateAgentRecords } from './migrate.ts';

const UID = '0123456789ab';
const NS = 'tenant-acme';
/** Well-formed NATS user public keys (role U, 55 base32 characters): fixtures, not real users. */
const USER_A = `U${'A'.repeat(55)}`;
const USER_B = `U${'B'.repeat(55)}`;

async function world() {
  const w = await fakeInstallation();
  await fakeTenant(w, { namespace: NS, uid: UID, tenant: 'acme', watch: true });
  const warnings: string[] = [];
  const log = { ...w.log, warn: (msg: string) => void warnings.push(msg) };
  const plant = (name: string, labels: Record<string, string>, o: Partial<Secret> = {}) =>
    plantAsTenant(w, NS, {
      name,
      labels,
      ...(o.metadata?.annotations ? { annotations: o.metadata.annotations } : {}),
      ...(o.data ? { data: o.data } : {}),
    });
  return {
    ...w,
    warnings,
    /** A delivered credentials Secret as the earlier layout annotated it. */
    plantCredentials: (agent: string, annotations: Record<string, string>) =>
      plant(
        `${agent.toLowerCase()}-nats-creds`,
        { [COMPONENT_LABEL]: NatsComponent.AgentCredentials, [AGENT_LABEL]: agent },
        { metadata: { name: '', annotations } },
      ),
    plantRevocations: (json: string) =>
      plant(
        NATS_SECRETS.revocations,
        { [COMPONENT_LABEL]: NatsComponent.Revocations },
        { data: { 'revocations.json': Buffer.from(json).toString('base64') } },
      ),
    migrate: () =>
      migrateAgentRecords({
        keystore: w.keystore,
        secrets: w.secrets,
        audit: w.audit,
        log: log as never,
        now: w.env.now,
      }),
    inKeystore: (name: string) =>
      w.client.get<Secret>({ kind: 'Secret', name, namespace: OPERATOR_NAMESPACE }),
  };
}

const honest = {
  [Annotation.User]: USER_A,
  [Annotation.Version]: '2',
  [Annotation.IssuedAt]: '2029-12-31T00:00:00Z',
};

describe('clusteragent: the move of agent records and revocation lists from the earlier layout', () => {
  it("moves an agent's record and the tenant's revocation list", async () => {
    const w = await world();
    await w.plantCredentials('edge', honest);
    await w.plantRevocations(JSON.stringify({ [USER_B]: { at: 100 } }));
    assert.equal(await w.migrate(), 2);
    assert.ok(await w.inKeystore(agentRecordName(UID, 'edge')));
    assert.deepEqual(readRevocations(await w.inKeystore(revocationsName(UID))), { [USER_B]: { at: 100 } });
    assert.deepEqual(w.warnings, []);
  });

  it('skips what is malformed or refused, keeps the well-formed entries, and does not fail', async () => {
    const w = await world();
    await w.plantCredentials('edge', honest);
    // An agent label that is a valid label value but no Secret name: the record's create would be refused.
    await w.plantCredentials('Evil', honest);
    await w.plantCredentials('no-user', { ...honest, [Annotation.User]: 'not-a-user' });
    await w.plantCredentials('bad-version', { ...honest, [Annotation.Version]: 'x' });
    await w.plantCredentials('refused', honest);
    await w.plantRevocations(
      JSON.stringify({ UX: null, [USER_A]: null, [USER_B]: { at: 100 }, junk: { at: 1 }, '*': 'all' }),
    );
    const create = w.client.create.bind(w.client);
    w.client.create = (async (o: Secret) => {
      if (o.metadata.name.endsWith('-refused')) throw new ApiError(422, 'Invalid', 'refused');
      return create(o);
    }) as typeof w.client.create;
    assert.equal(await w.migrate(), 2, 'the honest record and the revocation list');
    assert.ok(await w.inKeystore(agentRecordName(UID, 'edge')));
    for (const agent of ['Evil', 'no-user', 'bad-version', 'refused'])
      assert.equal(await w.inKeystore(agentRecordName(UID, agent)), undefined, agent);
    assert.deepEqual(readRevocations(await w.inKeystore(revocationsName(UID))), { [USER_B]: { at: 100 } });
    assert.equal(w.warnings.length, 4, w.warnings.join('\n'));
  });
});
