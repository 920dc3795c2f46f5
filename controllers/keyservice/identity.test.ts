import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Secret } from '../runtime/kube/types.ts';
import type { KeyServiceCallError, KeyServiceClient } from './client.ts';
import { RefreshFamilies, sweepExpiredFamilies, type Family } from './refreshstore.ts';
import {
  NS,
  rand,
  refusal,
  sa,
  signingKeySecret,
  startWorld,
  TOKEN_ISSUER,
  type World,
} from './testdata/world.ts';

const WEAK = { memoryKiB: 64, iterations: 1, parallelism: 1 };

describe('key service: Identifiers and Tokens (in-process server, in-memory API server)', function () {
  this.timeout(30_000);
  let w: World;
  let app: KeyServiceClient;
  let other: KeyServiceClient;

  before(async () => {
    w = await startWorld({ tenants: ['acme', 'globex'], passwordParams: WEAK });
    const ops = ['BlindIndex', 'HashPassword', 'VerifyPassword', 'IssueToken'] as const;
    w.grant('acme-app', sa('acme', 'app'), ['acme'], [...ops]);
    w.grant('globex-app', sa('globex', 'app'), ['globex'], [...ops]);
    app = w.client({ token: 'sa:acme:app' });
    other = w.client({ token: 'sa:globex:app' });
  });
  after(() => w.close());

  const verify = async (jwt: string) => {
    const jwks = JSON.parse((await app.getJwks()).jwks) as JSONWebKeySet;
    return jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: TOKEN_ISSUER, audience: 'api', typ: 'at+jwt' });
  };

  it('issues a token jose verifies, with the tenant UID, and refuses another tenant without a policy', async () => {
    const t = await app.issueToken({ tenant: 'acme', subject: 'u1', audience: 'api' });
    const { payload } = await verify(t.accessToken);
    assert.equal(payload.tenant_uid, w.keys.tenant('acme').uid);
    assert.equal(payload.client_id, 'system:serviceaccount:acme:app');
    const e = await refusal(app.issueToken({ tenant: 'globex', subject: 'u1', audience: 'api' }));
    assert.equal(e.code, status.PERMISSION_DENIED);
    const last = w.audit.at(-1);
    assert.equal(last?.action, 'keyservice.IssueToken');
    assert.equal(last?.outcome, 'Failure');
  });

  it('rotates refresh tokens with one write each, and a reused one revokes the family', async () => {
    const families = () => w.api.client().list<Secret>('Secret', { namespace: NS });
    const first = await app.issueToken({ tenant: 'acme', subject: 'u2', audience: 'api', refreshable: true });
    const rv = Number(w.api.resourceVersion);
    const second = await app.refreshToken(first.refreshToken);
    assert.equal(Number(w.api.resourceVersion), rv + 1, 'one write per refresh');
    await verify(second.accessToken);
    assert.equal((await refusal(other.refreshToken(second.refreshToken))).code, status.PERMISSION_DENIED);
    assert.equal((await refusal(app.refreshToken(first.refreshToken))).code, status.PERMISSION_DENIED);
    assert.equal((await refusal(app.refreshToken(second.refreshToken))).code, status.UNAUTHENTICATED);
    assert.equal((await families()).items.length, 0, 'the revoked family is dropped');
    assert.equal(
      (await refusal(app.refreshToken('prt1.00000000000000000000000000000000.1.x'))).code,
      status.INVALID_ARGUMENT,
    );
  });

  it('takes the same refresh token presented twice at once as reuse: one guarded write wins, the family is revoked', async () => {
    const first = await app.issueToken({ tenant: 'acme', subject: 'u5', audience: 'api', refreshable: true });
    const outcomes = await Promise.allSettled([
      app.refreshToken(first.refreshToken),
      app.refreshToken(first.refreshToken),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    assert.ok(won.length <= 1, 'at most one refresh wins');
    for (const o of outcomes)
      if (o.status === 'rejected')
        assert.equal((o.reason as KeyServiceCallError).code, status.PERMISSION_DENIED);
    for (const o of won)
      assert.equal((await refusal(app.refreshToken(o.value.refreshToken))).code, status.UNAUTHENTICATED);
  });

  it('refuses an expired family and sweeps expired families away, keeping live ones', async () => {
    let now = Date.now();
    const client = w.api.client();
    const store = new RefreshFamilies({ client, namespace: NS, rand, now: () => now });
    const family = (expiresAt: number): Family => ({
      tenant: 'acme',
      tenantUID: 'aaaaaaaaaaaa',
      subject: 's',
      audience: 'a',
      scopes: [],
      client: 'c',
      expiresAt,
    });
    const short = await store.start(family(now + 1000));
    await store.start(family(now + 3600_000));
    now += 2000;
    await assert.rejects(
      store.rotate(short, 'c', () => undefined),
      { code: 'Unauthenticated' },
    );
    await store.start(family(now - 1));
    assert.equal(await sweepExpiredFamilies(client, NS, now), 1);
    assert.equal((await client.list<Secret>('Secret', { namespace: NS })).items.length, 1);
  });

  it('signs with a new key once it activates and publishes the old one beside it', async () => {
    const before = await app.issueToken({ tenant: 'acme', subject: 'u3', audience: 'api' });
    w.signingKeys.push(signingKeySecret(2, new Date(Date.now() + 3600_000).toISOString()));
    const jwks = await app.getJwks();
    assert.equal(jwks.currentKid, before.kid);
    assert.equal(jwks.nextKids.length, 1);
    w.signingKeys.push(signingKeySecret(3, new Date(Date.now() - 1000).toISOString()));
    const after = await app.issueToken({ tenant: 'acme', subject: 'u3', audience: 'api' });
    assert.notEqual(after.kid, before.kid);
    assert.deepEqual((await app.getJwks()).previousKids, [before.kid]);
    await verify(before.accessToken);
    await verify(after.accessToken);
  });

  it('indexes identifiers per tenant and hashes passwords that need a rehash after a salt rotation', async () => {
    const a = (await app.blindIndex('acme', 'email', 'Bob@Example.org')).indexes;
    const b = (await other.blindIndex('globex', 'email', 'bob@example.org')).indexes;
    assert.notEqual(a[0]?.index, b[0]?.index);
    const h = await app.hashPassword('acme', 'pw');
    assert.match(h.hash, /,pv=1\$/);
    w.salts.push({ version: 2, salt: rand(32), previousUntil: Date.now() + 3600_000 });
    const both = (await app.blindIndex('acme', 'email', 'bob@example.org')).indexes;
    assert.deepEqual(
      both.map((i) => i.saltVersion),
      [2, 1],
    );
    assert.deepEqual(both[1], a[0]);
    assert.deepEqual(await app.verifyPassword('acme', 'pw', h.hash), {
      valid: true,
      needsRehash: true,
      pepperVersion: 1,
    });
    assert.equal(
      (await refusal(app.verifyPassword('acme', 'pw', 'not a hash'))).code,
      status.INVALID_ARGUMENT,
    );
    assert.equal(
      (await refusal(app.blindIndex('acme', 'email', 'no-at-sign'))).code,
      status.INVALID_ARGUMENT,
    );
    assert.ok(!JSON.stringify(w.audit).includes('bob@example'), 'no identifier in the audit records');
  });
});
