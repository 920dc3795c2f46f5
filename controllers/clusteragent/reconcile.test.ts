// The ClusterAgent kind through the reconcile driver, on the in-memory API server with an in-memory NATS
// service (testdata/nats.ts): where credentials are issued, what they are, and how they are revoked.
import assert from 'node:assert/strict';
import type { Tenant } from '../../crds/v1alpha1/index.ts';
import { agentRecordName, revocationsName } from '../keystore/entries.ts';
import { OPERATOR_NAMESPACE } from '../keystore/testing/installation.ts';
import { decodeJwt } from '../nats/protocol/index.ts';
import { readRevocations } from '../nats/revocations.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { isControlledBy, secretString } from '../runtime/objects.ts';
import { AgentReason, Annotation } from './conditions.ts';
import { readAgentRecord } from './record.ts';
import { FAKE_CA_PEM } from './testdata/nats.ts';
import { agentWorld, conditions, NS } from './testdata/world.ts';

describe('ClusterAgent (reconcile driver, in-memory API server and NATS service)', () => {
  it('sets Ready=False/TenantNotFound outside a tenant namespace, and issues nothing there', async () => {
    const w = await agentWorld();
    await w.user.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'elsewhere' } });
    await w.create('edge', {}, 'elsewhere');
    const written = (await w.client.list<Secret>('Secret', { namespace: OPERATOR_NAMESPACE })).items.length;
    const [events, audited] = [w.events.events.length, w.audit.records.length];

    assert.deepEqual(await w.reconcile('edge', 'elsewhere'), { requeueAfterMs: 60_000 });
    const a = await w.get('edge', 'elsewhere');
    assert.deepEqual(conditions(a), ['CredentialsReady=False/TenantNotFound', 'Ready=False/TenantNotFound']);
    assert.match(a?.status?.conditions?.[0]?.message ?? '', /not a Tenant's namespace/);
    assert.equal(a?.status?.credentialsSecret, undefined);
    assert.deepEqual((await w.client.list<Secret>('Secret', { namespace: 'elsewhere' })).items, []);
    assert.equal(
      (await w.client.list<Secret>('Secret', { namespace: OPERATOR_NAMESPACE })).items.length,
      written,
    );
    assert.deepEqual([w.events.events.length, w.audit.records.length], [events, audited]);
  });

  it("issues dedicated credentials: a user JWT signed by the tenant's account, in a Secret the agent owns, recorded in the keystore", async () => {
    const w = await agentWorld();
    assert.ok(w.nats.accounts.has(w.account), "the tenant's account is on the resolver");
    await w.create('edge');
    await w.reconcile('edge');

    const a = await w.get('edge');
    const secret = await w.credentials('edge');
    assert.ok(a && secret);
    assert.ok(isControlledBy(secret, a), 'the agent owns its credentials Secret');
    const user = secret.metadata.annotations?.[Annotation.User] ?? '';
    assert.match(user, /^U[A-Z2-7]{55}$/);
    const creds = secretString(secret, 'agent.creds') ?? '';
    const jwt = /-----BEGIN NATS USER JWT-----\n(\S+)\n/.exec(creds)?.[1] ?? '';
    const claims = decodeJwt(jwt, 'A');
    assert.deepEqual(
      [claims.iss, claims.sub],
      [w.account, user],
      "signed by the tenant's account, for its own user",
    );
    assert.equal(secretString(secret, 'ca.crt'), FAKE_CA_PEM);

    const record = readAgentRecord(await w.keystoreEntry(agentRecordName(w.uid, 'edge')));
    assert.deepEqual([record?.user, record?.version], [user, 1], "Palisade's record of the credentials");
    assert.equal(a.status?.userPublicKey, user);
    assert.equal(a.status?.credentialsVersion, 1);
    assert.equal(a.status?.tenantUID, w.uid);
    assert.deepEqual(conditions(a), [
      'CredentialsReady=True/CredentialsIssued',
      'Connected=False/NeverConnected',
      'Ready=True/AgentReady',
    ]);
    assert.deepEqual(w.events.reasons.slice(-1), ['Normal/CredentialsIssued']);
    assert.deepEqual(
      w.audit.records.slice(-1).map((r) => [r.action, r.tenantUID, r.version]),
      [['nats.credentials.issue', w.uid, 1]],
    );

    await w.reconcile('edge');
    assert.equal(
      (await w.credentials('edge'))?.metadata.resourceVersion,
      secret.metadata.resourceVersion,
      'kept',
    );
  });

  it('follows an internal CA rotation: the delivered ca.crt becomes the published bundle, the credentials stay', async () => {
    const w = await agentWorld();
    await w.create('edge');
    await w.reconcile('edge');
    const issued = await w.credentials('edge');
    assert.ok(issued);
    const [events, audited] = [w.events.events.length, w.audit.records.length];

    const rotated = `${FAKE_CA_PEM}-----BEGIN CERTIFICATE-----\nfake NATS CA v2\n-----END CERTIFICATE-----\n`;
    w.nats.published = rotated;
    await w.reconcile('edge');
    const after = await w.credentials('edge');
    assert.ok(after);
    assert.equal(secretString(after, 'ca.crt'), rotated);
    for (const key of ['agent.creds', 'tenant-uid', 'agent-name'])
      assert.equal(secretString(after, key), secretString(issued, key), `${key} unchanged`);
    assert.equal(
      after.metadata.annotations?.[Annotation.User],
      issued.metadata.annotations?.[Annotation.User],
      'the same user',
    );
    assert.equal((await w.get('edge'))?.status?.credentialsVersion, 1, 'nothing reissued');
    assert.deepEqual(w.events.reasons.slice(events), [`Normal/${AgentReason.TrustUpdated}`]);
    assert.equal(w.audit.records.length, audited, 'no credentials action to audit');

    await w.reconcile('edge');
    assert.equal((await w.credentials('edge'))?.metadata.resourceVersion, after.metadata.resourceVersion);
  });

  it("revokes the agent's user when it is suspended, and the tenant's account carries the revocation", async () => {
    const w = await agentWorld();
    await w.create('edge');
    await w.reconcile('edge');
    const user = (await w.get('edge'))?.status?.userPublicKey ?? '';
    assert.ok(user);

    await w.edit('edge', { suspended: true });
    await w.reconcile('edge');
    const a = await w.get('edge');
    assert.deepEqual(
      conditions(a).filter((c) => !c.startsWith('Connected')),
      [`CredentialsReady=False/${AgentReason.Suspended}`, `Ready=False/${AgentReason.Suspended}`],
    );
    const revoked = readRevocations(await w.keystoreEntry(revocationsName(w.uid)));
    assert.deepEqual(Object.keys(revoked), [user], 'the revocation is in the keystore');
    assert.deepEqual(w.events.reasons.slice(-1), ['Normal/CredentialsRevoked']);
    assert.deepEqual(
      w.audit.records.slice(-1).map((r) => [r.action, r.tenantUID, r.reason]),
      [['nats.credentials.revoke', w.uid, 'suspended']],
    );

    await w.reconcileTenant();
    assert.deepEqual(
      Object.keys(w.nats.accounts.get(w.account)?.revocations ?? {}),
      [user],
      'pushed to the resolver',
    );
  });

  it("gives credentials to the tenant's oldest maxAgents agents only, and to the next once one of them is being deleted", async () => {
    const w = await agentWorld();
    const t = (await w.client.get<Tenant>({ kind: 'Tenant', name: 'acme' })) as Tenant;
    await w.user.update({ ...t, spec: { ...t.spec, messaging: { ...t.spec.messaging, maxAgents: 2 } } });
    await w.reconcileTenant();
    await w.tick();
    // Created in the same second: the order is by name.
    for (const name of ['gamma', 'alpha', 'beta']) await w.create(name);
    await w.tick();
    for (const name of ['gamma', 'alpha', 'beta']) await w.reconcile(name);

    const ready = async (name: string) => conditions(await w.get(name))[0];
    assert.equal(await ready('gamma'), `CredentialsReady=False/${AgentReason.AgentLimitReached}`);
    assert.match((await w.get('gamma'))?.status?.conditions?.[0]?.message ?? '', /at most 2 agents/);
    assert.equal(await w.credentials('gamma'), undefined, 'no credentials past the limit');
    for (const name of ['alpha', 'beta'])
      assert.equal(await ready(name), `CredentialsReady=True/${AgentReason.CredentialsIssued}`);

    await w.user.delete({ kind: 'ClusterAgent', name: 'alpha', namespace: NS });
    await w.tick();
    await w.reconcile('gamma');
    assert.equal(await ready('gamma'), `CredentialsReady=True/${AgentReason.CredentialsIssued}`);
    assert.ok(await w.credentials('gamma'));
  });
});
