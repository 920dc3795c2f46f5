// Pairing mode through the reconcile driver, on the in-memory API server: what is shown (once), what is
// kept (a keyed hash), what goes (the code Secret when the code cannot be used, Secret-mode credentials).
import assert from 'node:assert/strict';
import { agentRecordName, revocationsName } from '../keystore/entries.ts';
import { OPERATOR_NAMESPACE } from '../keystore/testing/installation.ts';
import { readRevocations } from '../nats/revocations.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { secretString } from '../runtime/objects.ts';
import { codeHash, normalizeCode } from './pairingcode.ts';
import { agentRecordSecret, PAIRING_LOOKUP_LABEL, readAgentRecord } from './record.ts';
import { agentWorld, conditions, NS } from './testdata/world.ts';

const PEPPER = new Uint8Array(32).fill(5);
const PIN = `sha256:${'ab'.repeat(32)}`;

const pairingWorld = () =>
  agentWorld({ pairing: { pepper: () => PEPPER, caPin: () => PIN, address: 'palisade.example:8443' } });

describe('ClusterAgent pairing mode (reconcile driver, in-memory API server)', () => {
  it('shows a code once in <name>-pairing-code, keeps only its keyed hash, and writes no nats-creds Secret', async () => {
    const w = await pairingWorld();
    await w.create('edge', { pairing: { ttl: '15m', uses: 1 } });
    await w.reconcile('edge');
    const shown = await w.secret('edge-pairing-code');
    const code = secretString(shown as Secret, 'code') ?? '';
    assert.match(code, /^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    assert.equal(secretString(shown as Secret, 'ca-pin'), PIN);
    assert.equal(secretString(shown as Secret, 'server'), 'palisade.example:8443');
    assert.equal(await w.secret('edge-nats-creds'), undefined);

    const r = await w.record('edge');
    assert.equal(r?.mode, 'pairing');
    assert.equal(r?.pairing?.hash, codeHash(PEPPER, normalizeCode(code) as string));
    const stored = await w.secret(agentRecordName(w.uid, 'edge'), OPERATOR_NAMESPACE);
    assert.ok(!JSON.stringify(stored).includes(code.replace(/-/g, '')), 'the keystore never holds the code');
    assert.equal(stored?.metadata.labels?.[PAIRING_LOOKUP_LABEL], r?.pairing?.hash.slice(0, 32));

    const a = await w.get('edge');
    assert.equal(a?.status?.pairing?.state, 'Pending');
    assert.equal(a?.status?.pairing?.codeID, secretString(shown as Secret, 'code-id'));
    assert.equal(a?.status?.pairing?.usesLeft, 1);
    assert.ok(!JSON.stringify(a?.status).includes(code.replace(/-/g, '')), 'status never shows the code');
    assert.deepEqual(conditions(a).slice(0, 1), ['CredentialsReady=False/AwaitingPairing']);
    assert.ok(!JSON.stringify(w.events.events).includes(code), 'no Event carries the code');
    assert.ok(!JSON.stringify(w.audit.records).includes(code), 'no audit line carries the code');

    await w.reconcile('edge');
    assert.equal(
      secretString((await w.secret('edge-pairing-code')) as Secret, 'code'),
      code,
      'shown once: not replaced',
    );
  });

  it('shows the pin of the CA the server presents now beside a code shown before a CA rotation, keeping the code', async () => {
    let pin = PIN;
    const w = await agentWorld({ pairing: { pepper: () => PEPPER, caPin: () => pin } });
    await w.create('edge', { pairing: { ttl: '15m', uses: 1 } });
    await w.reconcile('edge');
    const before = (await w.secret('edge-pairing-code')) as Secret;
    assert.equal(secretString(before, 'ca-pin'), PIN);

    pin = `sha256:${'cd'.repeat(32)}`;
    await w.reconcile('edge');
    const after = (await w.secret('edge-pairing-code')) as Secret;
    assert.equal(secretString(after, 'ca-pin'), pin);
    assert.equal(secretString(after, 'code'), secretString(before, 'code'));
    assert.equal(secretString(after, 'code-id'), secretString(before, 'code-id'));
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.ok(w.events.events.some((e) => e.reason === 'PairingCodeServerChanged'));

    const writes = after.metadata.resourceVersion;
    await w.reconcile('edge');
    assert.equal(
      (await w.secret('edge-pairing-code'))?.metadata.resourceVersion,
      writes,
      'no write when it matches',
    );
  });

  it('marks the code Expired and removes its Secret once the TTL has passed', async () => {
    const w = await pairingWorld();
    await w.create('edge', { pairing: { ttl: '1m', uses: 1 } });
    const first = (await w.reconcile('edge')) || {};
    const wait = 'requeueAfterMs' in first ? first.requeueAfterMs : undefined;
    assert.ok(wait !== undefined && wait <= 61_000, 'looks again at expiry');
    w.env.advance(61_000);
    await w.reconcile('edge');
    assert.equal(await w.secret('edge-pairing-code'), undefined);
    const a = await w.get('edge');
    assert.equal(a?.status?.pairing?.state, 'Expired');
    assert.equal(a?.status?.pairing?.codeSecret, undefined);
    assert.deepEqual(conditions(a).slice(0, 1), ['CredentialsReady=False/PairingExpired']);
  });

  it('makes a new code for a new requestedAt; the old hash is gone from the record', async () => {
    const w = await pairingWorld();
    await w.create('edge', { pairing: { ttl: '15m', uses: 1 } });
    await w.reconcile('edge');
    const before = await w.record('edge');
    await w.edit('edge', { pairing: { ttl: '15m', uses: 1, requestedAt: '2026-12-02T05:00:00Z' } });
    await w.reconcile('edge');
    const after = await w.record('edge');
    assert.notEqual(after?.pairing?.hash, before?.pairing?.hash);
    assert.notEqual(after?.pairing?.codeID, before?.pairing?.codeID);
    const shown = await w.secret('edge-pairing-code');
    assert.equal(shown?.metadata.annotations?.['palisade.dev/pairing-code-id'], after?.pairing?.codeID);
  });

  it('turns a Secret-mode agent into a pairing one: its nats-creds Secret goes and its user is revoked', async () => {
    const w = await pairingWorld();
    await w.create('edge');
    await w.reconcile('edge');
    const creds = await w.secret('edge-nats-creds');
    const seedUser = creds?.metadata.annotations?.['palisade.dev/nats-user'] ?? '';
    assert.match(seedUser, /^U/);
    await w.edit('edge', { pairing: { ttl: '15m', uses: 1 } });
    await w.reconcile('edge');
    assert.equal(await w.secret('edge-nats-creds'), undefined);
    const revoked = readRevocations(await w.secret(revocationsName(w.uid), OPERATOR_NAMESPACE));
    assert.ok(seedUser in revoked, 'the user whose seed sat in the management cluster is revoked');
    const a = await w.get('edge');
    assert.equal(a?.status?.credentialsSecret, undefined);
    assert.equal(a?.status?.pairing?.state, 'Pending');
  });

  it("revokes a paired agent's current and previous NATS users when it is suspended", async () => {
    const w = await pairingWorld();
    await w.create('edge', { pairing: { ttl: '15m', uses: 1 } });
    await w.reconcile('edge');
    // What Pairing and one renewal leave in the record (agentchannel writes it).
    const s = (await w.secret(agentRecordName(w.uid, 'edge'), OPERATOR_NAMESPACE)) as Secret;
    const r = readAgentRecord(s);
    assert.ok(r?.pairing);
    const paired = {
      ...r,
      user: 'UCURRENT',
      previousUser: { user: 'UPREVIOUS', exp: 2_000_000_000 },
      pairing: { ...r.pairing, usesLeft: 0, redeemed: 1 },
      // As the record keeps it: 0abc, its leading zero stripped.
      certificates: [{ serial: 'abc', notAfter: new Date(w.env.now().getTime() + 86_400_000).toISOString() }],
    };
    await w.client.update(
      agentRecordSecret({
        keystoreNamespace: OPERATOR_NAMESPACE,
        uid: w.uid,
        agent: 'edge',
        tenantNamespace: NS,
        record: paired,
        resourceVersion: s.metadata.resourceVersion ?? '',
      }),
    );
    await w.tick();
    await w.reconcile('edge');
    let a = await w.get('edge');
    assert.deepEqual(conditions(a).slice(0, 1), ['CredentialsReady=True/Paired']);
    assert.equal(a?.status?.pairing?.state, 'Paired');
    assert.equal(
      a?.status?.pairing?.certificateSerial,
      '0ABC',
      'whole bytes, upper case, as openssl shows it',
    );
    assert.equal(await w.secret('edge-pairing-code'), undefined, 'a used-up code is no longer shown');

    await w.edit('edge', { suspended: true });
    await w.reconcile('edge');
    const revoked = readRevocations(await w.secret(revocationsName(w.uid), OPERATOR_NAMESPACE));
    assert.ok('UCURRENT' in revoked && 'UPREVIOUS' in revoked);
    a = await w.get('edge');
    assert.deepEqual(conditions(a).slice(0, 1), ['CredentialsReady=False/Suspended']);
  });
});
