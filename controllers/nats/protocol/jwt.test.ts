import assert from 'node:assert/strict';
import { decode as theirDecode } from '@nats-io/jwt';
import { agentUserJwt, formatCreds, tenantAccountClaim, tenantAccountJwt } from './accounts.ts';
import { decodeJwt, encodeJwt, JwtError, nextIssuedAt } from './jwt.ts';
import { createKeyPair } from './nkeys.ts';

const input = (account: string, palisadeAccount: string) => ({
  tenantUID: '0123456789ab',
  tenantName: 'acme',
  account,
  palisadeAccount,
  limits: { maxConnections: 10, maxSubscriptions: -1, maxPayloadBytes: 1048576, maxDataBytes: -1 },
  revocations: {},
});

describe('nats/protocol/jwt: NATS JWTs signed with node:crypto', () => {
  it('makes account JWTs that @nats-io/jwt decodes and verifies, with every limit set explicitly', () => {
    const op = createKeyPair('O');
    const acct = createKeyPair('A');
    const token = tenantAccountJwt(op, input(acct.publicKey, createKeyPair('A').publicKey), 1_700_000_000);
    const c = theirDecode<{ limits: Record<string, unknown>; type: string; version: number }>(token);
    assert.equal(c.iss, op.publicKey);
    assert.equal(c.sub, acct.publicKey);
    assert.equal(c.iat, 1_700_000_000);
    assert.equal(c.nats.type, 'account');
    assert.equal(c.nats.version, 2);
    for (const k of [
      'conn',
      'subs',
      'payload',
      'data',
      'imports',
      'exports',
      'leaf',
      'mem_storage',
      'disk_storage',
    ])
      assert.equal(typeof c.nats.limits?.[k], 'number', `limit ${k} must be explicit`);
    assert.equal(c.nats.limits?.conn, 10);
  });

  it('is deterministic: the same claims give the same token (jti is the claims hash)', () => {
    const op = createKeyPair('O');
    const i = input(createKeyPair('A').publicKey, createKeyPair('A').publicKey);
    assert.equal(tenantAccountJwt(op, i, 5), tenantAccountJwt(op, i, 5));
    assert.notEqual(tenantAccountJwt(op, i, 5), tenantAccountJwt(op, i, 6));
  });

  it('scopes an agent user to its own subjects and signs it with the account key', () => {
    const acct = createKeyPair('A');
    const user = createKeyPair('U');
    const token = agentUserJwt(acct, {
      tenantUID: '0123456789ab',
      agent: 'edge-1',
      user: user.publicKey,
      issuedAt: 10,
      expiresAt: 20,
    });
    const c = decodeJwt<{ pub: { allow: string[] }; sub: { allow: string[] } }>(token, 'A');
    assert.equal(c.iss, acct.publicKey);
    assert.equal(c.exp, 20);
    assert.deepEqual(c.nats.pub.allow, [
      'palisade.t.0123456789ab.agent.edge-1.heartbeat',
      'palisade.t.0123456789ab.agent.edge-1.health',
      'palisade.t.0123456789ab.agent.edge-1.stats',
    ]);
    assert.deepEqual(c.nats.sub.allow, ['palisade.t.0123456789ab.agent.edge-1.cmd.>']);
    assert.match(formatCreds(token, user.seed), /BEGIN NATS USER JWT-----\n.+\n------END NATS USER JWT/);
  });

  it('refuses a tampered token and a token of the wrong issuer role', () => {
    const op = createKeyPair('O');
    const token = encodeJwt(
      { name: 'x', subject: op.publicKey, issuedAt: 1, type: 'generic', nats: { a: 1 } },
      op,
    );
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ iss: op.publicKey, nats: { a: 2 } })).toString('base64url')}.${s}`;
    assert.throws(() => decodeJwt(forged), JwtError);
    assert.throws(() => decodeJwt(token, 'A'), JwtError);
  });

  it('always issues a newer iat than the previous one', () => {
    const now = new Date(1_000_000);
    assert.equal(nextIssuedAt(now), 1000);
    assert.equal(nextIssuedAt(now, 999), 1000);
    assert.equal(nextIssuedAt(now, 1000), 1001);
    assert.equal(nextIssuedAt(now, 5000), 5001);
  });

  it('leaves revocations out of the claim when there are none, and sorts them when there are', () => {
    const i = input('A', 'B');
    assert.equal('revocations' in tenantAccountClaim(i), false);
    const r = tenantAccountClaim({ ...i, revocations: { UB: 2, UA: 1 } });
    assert.deepEqual(Object.keys(r.revocations ?? {}), ['UA', 'UB']);
  });
});
