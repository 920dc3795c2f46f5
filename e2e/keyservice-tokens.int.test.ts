/**
 * The key service's uses of the installation's JWT signing key and hash salt, the operator as a process:
 * access tokens that an independent JOSE library (jose) verifies against the published JWKS, expiring on
 * time; refresh with rotation and reuse detection (the family revoked, across replicas: the state is in the
 * API server); tokens that keep verifying across signing-key rotations; password hashes that verify and ask
 * for a rehash after a salt rotation; blind indexes stable per tenant and distinct across tenants, both
 * versions during a salt rotation's overlap; and what no KeyAccessPolicy allows, refused.
 */
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { rotateHashSalt, rotateJwtSigningKey } from '../controllers/installation/rotation.ts';
import { KeyServiceCallError, KeyServiceClient } from '../controllers/keyservice/client.ts';
import type { ConfigMap, KubeObject, Secret } from '../controllers/runtime/kube/types.ts';
import { testEnv } from '../hack/testenv/env.ts';
import {
  ensureNamespace,
  getTenant,
  kube,
  readyStatus,
  tenantManifest,
  uniqueName,
} from './support/cluster.ts';
import { eventually, freePort, startOperator, type OperatorProcess } from './support/operator.ts';
import { rand } from './support/tenantkeys.ts';
import { startMessaging, stopMessaging, type MessagingEnv } from './messaging.support.ts';

const noAudit = { record: () => undefined };

async function refused(p: Promise<unknown>): Promise<KeyServiceCallError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof KeyServiceCallError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e;
}

const OPERATIONS = ['BlindIndex', 'HashPassword', 'VerifyPassword', 'IssueToken'];

function policy(name: string, sa: { namespace: string; name: string }, tenant: string): KubeObject {
  return {
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'KeyAccessPolicy',
    metadata: { name },
    spec: { subjects: [{ serviceAccount: sa }], tenants: [tenant], operations: OPERATIONS },
  } as KubeObject;
}

describe('Key service: tokens, password hashes and blind indexes with the installation keys', function () {
  this.timeout(4 * 60_000);
  const ns = uniqueName('palisade-tokens');
  const callers = uniqueName('token-callers');
  const [x, y] = [uniqueName('tk-x'), uniqueName('tk-y')];
  const policies = [`${x}-app`, `${y}-app`];
  const issuer = `https://palisade-keyservice.${ns}.svc`;
  let env: MessagingEnv | undefined;
  let standby: OperatorProcess | undefined;
  let port = 0;
  let caPem = '';
  let uidX = '';
  const clients: KeyServiceClient[] = [];
  let appX: KeyServiceClient;
  let appY: KeyServiceClient;

  const token = async (sa: string) =>
    (
      await testEnv().kubectl(['create', 'token', sa, '-n', callers, '--audience', 'palisade-keyservice'])
    ).stdout.trim();
  const client = (t: string, at = port) => {
    const c = new KeyServiceClient({ address: `127.0.0.1:${at}`, caPem, token: () => t });
    clients.push(c);
    return c;
  };
  const publishedJwks = async (): Promise<JSONWebKeySet> => {
    const cm = await kube().get<ConfigMap>({ kind: 'ConfigMap', name: 'palisade-jwks', namespace: ns });
    return JSON.parse(cm?.data?.['jwks.json'] ?? '{"keys":[]}') as JSONWebKeySet;
  };
  const verify = async (jwt: string, jwks: JSONWebKeySet, currentDate?: Date) =>
    jwtVerify(jwt, createLocalJWKSet(jwks), {
      issuer,
      audience: 'billing-api',
      typ: 'at+jwt',
      algorithms: ['EdDSA'],
      ...(currentDate ? { currentDate } : {}),
    });

  before(async function () {
    this.timeout(3 * 60_000);
    port = await freePort();
    env = await startMessaging(ns, 'tokens', {}, undefined, undefined, [
      `--keyservice-address=127.0.0.1:${port}`,
    ]);
    await ensureNamespace(callers);
    for (const sa of ['app-x', 'app-y', 'stranger'])
      await testEnv().kubectl(['create', 'serviceaccount', sa, '-n', callers]);
    for (const t of [x, y]) await kube().apply(tenantManifest(t));
    for (const t of [x, y])
      await eventually(
        `Tenant ${t} Ready`,
        async () => readyStatus(await getTenant(t))?.status === 'True',
        90_000,
      );
    uidX = (await getTenant(x))?.status?.uid ?? '';
    assert.match(uidX, /^[0-9a-f]{12}$/);
    await kube().apply(policy(policies[0] as string, { namespace: callers, name: 'app-x' }, x));
    await kube().apply(policy(policies[1] as string, { namespace: callers, name: 'app-y' }, y));
    const cm = await kube().get<ConfigMap>({ kind: 'ConfigMap', name: 'palisade-ca-bundle', namespace: ns });
    caPem = cm?.data?.['ca.crt'] ?? '';
    assert.ok(caPem, 'the internal CA bundle is published');
    appX = client(await token('app-x'));
    appY = client(await token('app-y'));
    await eventually(
      'the key service serving app-x',
      async () =>
        appX.blindIndex(x, 'opaque', 'warm-up').catch((e: unknown) => {
          if (e instanceof KeyServiceCallError && e.code === status.PERMISSION_DENIED) throw e;
          return undefined;
        }),
      60_000,
    );
  });

  after(async function () {
    this.timeout(2 * 60_000);
    for (const c of clients) c.close();
    await standby?.stop();
    for (const p of policies) await kube().delete({ kind: 'KeyAccessPolicy', name: p });
    for (const t of [x, y]) await kube().delete({ kind: 'Tenant', name: t });
    await eventually(
      'Tenants gone',
      async () => !(await getTenant(x)) && !(await getTenant(y)),
      90_000,
    ).catch(() => undefined);
    await stopMessaging(env);
  });

  it('issues access tokens that jose verifies against the JWKS (ConfigMap and GetJwks) and that expire on time', async () => {
    const res = await appX.issueToken({
      tenant: x,
      subject: 'user-1',
      audience: 'billing-api',
      scopes: ['read'],
    });
    assert.equal(res.expiresIn, 900);
    assert.equal(res.refreshToken, '');
    for (const jwks of [await publishedJwks(), JSON.parse((await appX.getJwks()).jwks) as JSONWebKeySet]) {
      const { payload, protectedHeader } = await verify(res.accessToken, jwks);
      assert.deepEqual(protectedHeader, { alg: 'EdDSA', typ: 'at+jwt', kid: res.kid });
      assert.equal(payload.sub, 'user-1');
      assert.equal(payload.tenant_uid, uidX);
      assert.equal(payload.scope, 'read');
      assert.match(String(payload.client_id), /^system:serviceaccount:.*:app-x$/);
      assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 900);
    }
    const { exp = 0 } = decodeJwt(res.accessToken);
    const jwks = await publishedJwks();
    await verify(res.accessToken, jwks, new Date((exp - 1) * 1000));
    await assert.rejects(verify(res.accessToken, jwks, new Date((exp + 1) * 1000)), {
      code: 'ERR_JWT_EXPIRED',
    });
    const short = await appX.issueToken({
      tenant: x,
      subject: 'user-1',
      audience: 'billing-api',
      ttlSeconds: 60,
    });
    assert.equal(decodeJwt(short.accessToken).exp, (decodeJwt(short.accessToken).iat ?? 0) + 60);
    assert.equal(
      (await refused(appX.issueToken({ tenant: x, subject: 'u', audience: 'a', ttlSeconds: 7200 }))).code,
      status.INVALID_ARGUMENT,
    );
  });

  it('refreshes once: the new refresh token works, the used one is refused and revokes its whole family', async () => {
    const first = await appX.issueToken({
      tenant: x,
      subject: 'user-2',
      audience: 'billing-api',
      refreshable: true,
    });
    assert.ok(first.refreshToken);
    const second = await appX.refreshToken(first.refreshToken);
    const { payload } = await verify(second.accessToken, await publishedJwks());
    assert.equal(payload.sub, 'user-2');
    assert.notEqual(second.refreshToken, first.refreshToken);
    // Another caller cannot use (or burn) it.
    assert.equal((await refused(appY.refreshToken(second.refreshToken))).code, status.PERMISSION_DENIED);
    const reuse = await refused(appX.refreshToken(first.refreshToken));
    assert.equal(reuse.code, status.PERMISSION_DENIED);
    assert.match(reuse.message, /already used: its whole family is revoked/);
    assert.equal((await refused(appX.refreshToken(second.refreshToken))).code, status.UNAUTHENTICATED);
    // The family's state is gone from the API server; other families are untouched.
    const other = await appX.issueToken({
      tenant: x,
      subject: 'user-3',
      audience: 'billing-api',
      refreshable: true,
    });
    const families = await kube().list<Secret>('Secret', {
      namespace: ns,
      labelSelector: 'palisade.dev/component=refresh-family',
    });
    assert.equal(families.items.length, 1, 'only user-3’s family is stored');
    await appX.revokeRefreshToken(other.refreshToken);
    assert.equal((await refused(appX.refreshToken(other.refreshToken))).code, status.UNAUTHENTICATED);
    const audit = env?.op.output() ?? '';
    assert.match(
      audit,
      /"action":"keyservice\.RefreshToken"[^\n]*"outcome":"Failure","reason":"PermissionDenied: the refresh token was already used/,
    );
    assert.ok(
      !audit.includes(first.refreshToken.split('.')[3] as string),
      'no refresh token in the audit log',
    );
  });

  it('keeps refresh state consistent across replicas: a token refreshed on one replica is reuse on another', async () => {
    const standbyPort = await freePort();
    standby = await startOperator({
      kubeconfig: testEnv().kubeconfig,
      namespace: ns,
      identity: 'tokens-standby',
      args: [`--keyservice-address=127.0.0.1:${standbyPort}`],
    });
    const onStandby = client(await token('app-x'), standbyPort);
    await eventually(
      'the standby serving',
      async () => (await onStandby.getJwks().catch(() => undefined))?.currentKid,
      60_000,
      500,
    );
    const first = await appX.issueToken({
      tenant: x,
      subject: 'user-5',
      audience: 'billing-api',
      refreshable: true,
    });
    const second = await onStandby.refreshToken(first.refreshToken);
    await verify(second.accessToken, await publishedJwks());
    const reuse = await refused(appX.refreshToken(first.refreshToken));
    assert.match(reuse.message, /already used: its whole family is revoked/);
    assert.equal((await refused(onStandby.refreshToken(second.refreshToken))).code, status.UNAUTHENTICATED);
    await standby.stop();
    standby = undefined;
  });

  it('keeps tokens verifying across signing-key rotations: previous stays published, next is published before it signs', async () => {
    const before = await appX.issueToken({ tenant: x, subject: 'user-4', audience: 'billing-api' });
    const v2 = await rotateJwtSigningKey({
      client: kube(),
      namespace: ns,
      audit: noAudit,
      activateAfterMs: 0,
    });
    const after = await eventually('tokens signed with the new key', async () => {
      const t = await appX.issueToken({ tenant: x, subject: 'user-4', audience: 'billing-api' });
      return t.kid === v2.kid ? t : undefined;
    });
    const jwks = await appX.getJwks();
    assert.equal(jwks.currentKid, v2.kid);
    assert.deepEqual(jwks.previousKids, [before.kid]);
    const published = await eventually('the ConfigMap with both keys', async () => {
      const j = await publishedJwks();
      return j.keys.length === 2 ? j : undefined;
    });
    await verify(before.accessToken, published);
    await verify(after.accessToken, published);

    const v3 = await rotateJwtSigningKey({
      client: kube(),
      namespace: ns,
      audit: noAudit,
      activateAfterMs: 3600_000,
    });
    await eventually('the next key published', async () => (await appX.getJwks()).nextKids.includes(v3.kid));
    const still = await appX.issueToken({ tenant: x, subject: 'user-4', audience: 'billing-api' });
    assert.equal(still.kid, v2.kid, 'a next key does not sign yet');
    const three = await eventually('the ConfigMap with the next key', async () => {
      const j = await publishedJwks();
      return j.keys.some((k) => k.kid === v3.kid) ? j : undefined;
    });
    assert.deepEqual(
      three.keys.map((k) => k.kid),
      [v2.kid, v3.kid, before.kid],
    );
    await verify(before.accessToken, three);
    await verify(still.accessToken, three);
  });

  it('hashes passwords that verify, and asks for a rehash after a salt rotation; blind indexes stay stable, per tenant, with both versions in the overlap', async () => {
    const hashed = await appX.hashPassword(x, 'correct horse battery');
    assert.equal(hashed.pepperVersion, 1);
    assert.match(hashed.hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1,pv=1\$/);
    assert.deepEqual(await appX.verifyPassword(x, 'correct horse battery', hashed.hash), {
      valid: true,
      needsRehash: false,
      pepperVersion: 1,
    });
    assert.equal((await appX.verifyPassword(x, 'wrong horse', hashed.hash)).valid, false);

    const index = (await appX.blindIndex(x, 'email', 'Alice@Example.com')).indexes;
    assert.equal(index.length, 1);
    assert.equal(index[0]?.saltVersion, 1);
    assert.deepEqual((await appX.blindIndex(x, 'email', ' alice@example.COM')).indexes, index);
    const inY = (await appY.blindIndex(y, 'email', 'alice@example.com')).indexes;
    assert.notEqual(inY[0]?.index, index[0]?.index, 'another tenant gets another index');
    const batch = await appX.batchBlindIndex(x, 'email', ['alice@example.com', 'not an address']);
    assert.equal(batch.results[0]?.result, 'ok');
    assert.equal(batch.results[1]?.result, 'error');

    const rotated = await rotateHashSalt({
      client: kube(),
      namespace: ns,
      audit: noAudit,
      rand,
      overlapMs: 3600_000,
    });
    assert.equal(rotated.version, 2);
    const both = await eventually('indexes under both salt versions', async () => {
      const r = (await appX.blindIndex(x, 'email', 'alice@example.com')).indexes;
      return r.length === 2 ? r : undefined;
    });
    assert.equal(both[0]?.saltVersion, 2);
    assert.deepEqual(both[1], index[0], 'the old index is still returned during the overlap');
    assert.deepEqual(await appX.verifyPassword(x, 'correct horse battery', hashed.hash), {
      valid: true,
      needsRehash: true,
      pepperVersion: 1,
    });
    const rehashed = await appX.hashPassword(x, 'correct horse battery');
    assert.equal(rehashed.pepperVersion, 2);
    assert.deepEqual(await appX.verifyPassword(x, 'correct horse battery', rehashed.hash), {
      valid: true,
      needsRehash: false,
      pepperVersion: 2,
    });
    const audit = env?.op.output() ?? '';
    assert.match(audit, /"action":"keyservice.HashPassword"/);
    assert.doesNotMatch(audit, /correct horse|alice@example|argon2id/i);
  });

  it('refuses what no policy allows: an identity scoped to X hashing, indexing or issuing for Y; a stranger; no token', async () => {
    for (const call of [
      appX.hashPassword(y, 'pw'),
      appX.blindIndex(y, 'opaque', 'id-1'),
      appX.issueToken({ tenant: y, subject: 'u', audience: 'billing-api' }),
    ]) {
      const e = await refused(call);
      assert.equal(e.code, status.PERMISSION_DENIED);
      assert.match(e.message, new RegExp(`may not \\w+ for Tenant ${y}`));
    }
    const stranger = client(await token('stranger'));
    assert.equal(
      (await refused(stranger.issueToken({ tenant: x, subject: 'u', audience: 'billing-api' }))).code,
      status.PERMISSION_DENIED,
    );
    assert.ok((await stranger.getJwks()).currentKid, 'the JWKS is public to any authenticated caller');
    assert.equal(
      (await refused(client('not-a-token').verifyPassword(x, 'pw', '$argon2id$'))).code,
      status.UNAUTHENTICATED,
    );
  });
});
