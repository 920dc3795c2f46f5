/**
 * palisade.keys.v1.Tokens: access tokens signed with the installation's JWT signing key, refresh token
 * families (refreshstore.ts), and the JWKS (installation/jwks.ts, the same document as the ConfigMap
 * `palisade-jwks`). The signing key is the schedule's current one, read from this replica's Secret cache,
 * so a rotation is followed without a restart; its parsed key object is kept per `kid`.
 */
import type { KeyObject } from 'node:crypto';
import type { RandomSource } from '../crypto/index.ts';
import { jwksOf, scheduleOf, type SigningKey } from '../installation/jwks.ts';
import { MAX_ACCESS_TOKEN_SECONDS } from '../installation/jwtschedule.ts';
import type { SigningSchedule } from '../installation/jwtschedule.ts';
import { KEY_ID_ANNOTATION } from '../installation/secrets.ts';
import type { Secret } from '../runtime/kube/types.ts';
import type { CallScope, Operation } from './calls.ts';
import { KeyServiceError } from './errors.ts';
import { ed25519Key, signJwt } from './jwt.ts';
import { identityName } from './policy.ts';
import type { GetJwksResponse, IssueTokenRequest, RefreshTokenRequest, TokenResponse } from './proto.ts';
import type { Family, RefreshFamilies } from './refreshstore.ts';

export const DEFAULT_ACCESS_TOKEN_SECONDS = 900;
export const DEFAULT_REFRESH_LIFETIME_SECONDS = 24 * 3600;

export interface TokenDeps {
  /** The JWT signing key Secrets present (this replica's cache). */
  signingKeys(): readonly Secret[];
  families: Pick<RefreshFamilies, 'start' | 'rotate' | 'revoke'>;
  issuer: string;
  rand: RandomSource;
  now(): number;
  refreshLifetimeSeconds?: number;
}

const CLAIM_VALUE = /^[\x21-\x7e]{1,253}$/;
const SUBJECT = /^[^\p{Cc}]{1,253}$/u;

function checkRequest(req: IssueTokenRequest): void {
  if (!SUBJECT.test(req.subject))
    throw new KeyServiceError(
      'InvalidArgument',
      'subject must be 1..253 characters without control characters',
    );
  if (!CLAIM_VALUE.test(req.audience))
    throw new KeyServiceError('InvalidArgument', 'audience must be 1..253 printable ASCII characters');
  if (req.scopes.length > 32 || req.scopes.some((s) => !CLAIM_VALUE.test(s)))
    throw new KeyServiceError(
      'InvalidArgument',
      'at most 32 scopes, each 1..253 printable ASCII characters without spaces',
    );
}

function ttlOf(seconds: number): number {
  if (seconds === 0) return DEFAULT_ACCESS_TOKEN_SECONDS;
  if (seconds > MAX_ACCESS_TOKEN_SECONDS)
    throw new KeyServiceError('InvalidArgument', `ttl_seconds is at most ${MAX_ACCESS_TOKEN_SECONDS}`);
  return seconds;
}

export function tokenOperations(d: TokenDeps) {
  const refreshSeconds = d.refreshLifetimeSeconds ?? DEFAULT_REFRESH_LIFETIME_SECONDS;
  const keyObjects = new Map<string, KeyObject>();
  let cached: { rv: string; schedule: SigningSchedule<SigningKey> } | undefined;

  const schedule = (): SigningSchedule<SigningKey> => {
    const now = d.now();
    const secrets = d.signingKeys();
    const rv = secrets.map((s) => s.metadata.resourceVersion).join(',');
    // NB: recomputed when the keys change or a boundary passes, not per call.
    if (cached && cached.rv === rv && (cached.schedule.changesAt ?? Infinity) > now) return cached.schedule;
    cached = { rv, schedule: scheduleOf(secrets, now) };
    for (const kid of keyObjects.keys())
      if (!secrets.some((s) => s.metadata.annotations?.[KEY_ID_ANNOTATION] === kid)) keyObjects.delete(kid);
    return cached.schedule;
  };

  const sign = (f: Family, ttl: number, scope: CallScope): { jwt: string; kid: string } => {
    const current = schedule().current;
    if (!current) throw new KeyServiceError('Unavailable', 'no JWT signing key is loaded yet; retry');
    let key = keyObjects.get(current.kid);
    if (!key) keyObjects.set(current.kid, (key = ed25519Key(current.privateDer)));
    scope.version = current.version;
    const iat = Math.floor(d.now() / 1000);
    const claims = {
      iss: d.issuer,
      sub: f.subject,
      aud: f.audience,
      iat,
      // NB: no nbf: a relying party whose clock runs a little behind would refuse a fresh token.
      exp: iat + ttl,
      jti: Buffer.from(d.rand(16)).toString('base64url'),
      client_id: f.client,
      tenant_uid: f.tenantUID,
      ...(f.scopes.length ? { scope: f.scopes.join(' ') } : {}),
    };
    return { jwt: signJwt({ alg: 'EdDSA', typ: 'at+jwt', kid: current.kid }, claims, key), kid: current.kid };
  };

  const respond = (f: Family, ttl: number, scope: CallScope, refreshToken: string): TokenResponse => {
    const { jwt, kid } = sign(f, ttl, scope);
    return {
      accessToken: jwt,
      expiresIn: ttl,
      refreshToken,
      refreshExpiresIn: refreshToken ? Math.max(0, Math.floor((f.expiresAt - d.now()) / 1000)) : 0,
      kid,
    };
  };

  const issue: Operation<IssueTokenRequest, Promise<TokenResponse>> = async (req, scope) => {
    const record = scope.authorize(req.tenant, 'IssueToken');
    checkRequest(req);
    const ttl = ttlOf(req.ttlSeconds);
    const family: Family = {
      tenant: record.tenant,
      tenantUID: record.uid,
      subject: req.subject,
      audience: req.audience,
      scopes: req.scopes,
      client: identityName(scope.identity),
      expiresAt: d.now() + refreshSeconds * 1000,
    };
    const refreshToken = req.refreshable ? await d.families.start(family) : '';
    scope.detail = req.refreshable ? 'with a refresh token' : undefined;
    return respond(family, ttl, scope, refreshToken);
  };

  const refresh: Operation<RefreshTokenRequest, Promise<TokenResponse>> = async (req, scope) => {
    const ttl = ttlOf(req.ttlSeconds);
    // NB: authorized again now (before the family is written), and the tenant must still be the one
    // the family was issued for.
    const { family, token } = await d.families.rotate(req.refreshToken, identityName(scope.identity), (f) => {
      const record = scope.authorize(f.tenant, 'IssueToken');
      if (record.uid !== f.tenantUID)
        throw new KeyServiceError(
          'FailedPrecondition',
          `Tenant ${f.tenant} was re-created since this sign-in`,
        );
    });
    return respond(family, ttl, scope, token);
  };

  const revoke: Operation<{ refreshToken: string }, Promise<Record<string, never>>> = async (req, scope) => {
    // NB: only the client the family was issued to may revoke it; no policy is needed to sign out.
    const family = await d.families.revoke(req.refreshToken, identityName(scope.identity));
    scope.detail = `revoked a refresh token family of Tenant ${family.tenant}`;
    return {};
  };

  const jwks: Operation<Record<string, never>, GetJwksResponse> = () => {
    const s = schedule();
    return {
      jwks: JSON.stringify(jwksOf(s)),
      currentKid: s.current?.kid ?? '',
      nextKids: s.next.map((k) => k.kid),
      previousKids: s.previous.map((k) => k.kid),
    };
  };

  return { IssueToken: issue, RefreshToken: refresh, RevokeRefreshToken: revoke, GetJwks: jwks };
}
