import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import {
  AuthenticationError,
  Authenticator,
  certificateIdentity,
  serviceAccountOf,
  type Review,
} from './auth.ts';

const noCert = () => undefined;

function counting(verdict: (token: string) => Review) {
  const calls: string[] = [];
  return { calls, reviewer: { review: async (t: string) => (calls.push(t), verdict(t)) } };
}

describe('authentication', () => {
  it('accepts only ServiceAccount users from a TokenReview', () => {
    assert.deepEqual(serviceAccountOf('system:serviceaccount:billing:api'), {
      kind: 'ServiceAccount',
      namespace: 'billing',
      name: 'api',
    });
    for (const u of [
      'admin',
      'system:serviceaccount:billing',
      'system:serviceaccount:Billing:api',
      'system:node:n1',
    ])
      assert.equal(serviceAccountOf(u), undefined, u);
  });

  it('reviews a token once while its verdict is fresh, again after ttlMs, and shares a review in flight', async () => {
    let now = 1000;
    const r = counting(() => ({ authenticated: true, username: 'system:serviceaccount:a:b' }));
    const auth = new Authenticator({ reviewer: r.reviewer, now: () => now, ttlMs: 10_000 });
    await Promise.all([1, 2, 3].map(() => auth.authenticate('Bearer tok', noCert)));
    assert.equal(r.calls.length, 1, 'three concurrent calls, one review');
    const cached = auth.authenticate('Bearer tok', noCert);
    assert.ok(!(cached instanceof Promise), 'a cached verdict answers without waiting');
    now += 10_001;
    await auth.authenticate('Bearer tok', noCert);
    assert.equal(r.calls.length, 2);
  });

  it('refuses a bad token, keeps the refusal briefly, and never puts the token in the message', async () => {
    let now = 0;
    const r = counting(() => ({ authenticated: false, reason: 'invalid bearer token' }));
    const auth = new Authenticator({ reviewer: r.reviewer, now: () => now, negativeTtlMs: 2000 });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        async () => auth.authenticate('Bearer s3cr3t-token', noCert),
        (e: Error) =>
          e instanceof AuthenticationError &&
          /invalid bearer token/.test(e.message) &&
          !e.message.includes('s3cr3t'),
      );
    }
    assert.equal(r.calls.length, 1);
    now += 2001;
    await assert.rejects(async () => auth.authenticate('Bearer s3cr3t-token', noCert));
    assert.equal(r.calls.length, 2);
  });

  it('caches nothing when the API server cannot answer', async () => {
    const calls: string[] = [];
    const auth = new Authenticator({
      reviewer: { review: async (t) => (calls.push(t), Promise.reject(new Error('connection refused'))) },
    });
    await assert.rejects(async () => auth.authenticate('Bearer t', noCert), /could not be reviewed now/);
    await assert.rejects(async () => auth.authenticate('Bearer t', noCert));
    assert.equal(calls.length, 2);
  });

  it('uses the token when one is sent (a bad one is not passed over for the certificate)', async () => {
    const auth = new Authenticator({
      reviewer: { review: async () => ({ authenticated: false, reason: 'no' }) },
    });
    const cert = {
      raw: Buffer.from('x'),
      valid_to: 'Jan 1 00:00:00 2999 GMT',
      subjectaltname: 'DNS:a.b.svc',
      fingerprint256: 'F',
    };
    await assert.rejects(async () => auth.authenticate('Bearer t', () => cert as PeerCertificate));
    assert.throws(() => auth.authenticate('Basic abc', noCert), /not "Bearer <token>"/);
    assert.deepEqual(
      auth.authenticate(undefined, () => cert as PeerCertificate),
      {
        kind: 'Certificate',
        dnsNames: ['a.b.svc'],
        fingerprint: 'F',
      },
    );
  });

  it('takes DNS names from a client certificate; none, or expired, is no identity', () => {
    const base = { raw: Buffer.from('x'), valid_to: 'Jan 1 00:00:00 2999 GMT', fingerprint256: 'F' };
    const id = (c: object, now = 0) => certificateIdentity(c as PeerCertificate, now);
    assert.deepEqual(id({ ...base, subjectaltname: 'DNS:API.x.svc, IP Address:127.0.0.1, DNS:y.x.svc' }), {
      kind: 'Certificate',
      dnsNames: ['api.x.svc', 'y.x.svc'],
      fingerprint: 'F',
    });
    assert.equal(id({ ...base, subjectaltname: 'IP Address:127.0.0.1' }), undefined);
    assert.equal(
      id({ ...base, subjectaltname: 'DNS:a.b', valid_to: 'Jan 1 00:00:00 2000 GMT' }, Date.now()),
      undefined,
    );
  });
});
