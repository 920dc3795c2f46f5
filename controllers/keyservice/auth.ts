/**
 * Authentication: who is calling, from what the transport proved, never from what the caller claims.
 *
 * - A ServiceAccount token in `authorization: Bearer …` is checked by the API server (TokenReview, with
 *   the key service's audience). Only `system:serviceaccount:<ns>:<name>` users are accepted. A verdict is
 *   kept for `ttlMs` (default 10 s) under the token's SHA-256, never the token itself, so a deleted
 *   ServiceAccount or an expired token is refused within that time; a refusal is kept for `negativeTtlMs`
 *   so a flood of bad tokens does not become a flood of TokenReviews. Reviews of one token in flight at
 *   once are shared.
 * - Otherwise, a client certificate the TLS handshake verified against the internal CA bundle: its DNS
 *   names are the identity (the CA signs a namespace's service names only for that namespace).
 */
import { hash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { Identity } from './policy.ts';

export type Review = { authenticated: true; username: string } | { authenticated: false; reason: string };

/** The API server's TokenReview, or a test's stand-in. */
export interface TokenReviewer {
  review(token: string): Promise<Review>;
}

/** Why a call is not authenticated; the message is for the caller and the audit log (no token in it). */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

const SA_USER = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;
const BEARER = /^Bearer\s+(\S+)$/i;

/** The ServiceAccount a TokenReview user name stands for, or undefined for any other kind of user. */
export function serviceAccountOf(username: string): Identity | undefined {
  const m = SA_USER.exec(username);
  return m ? { kind: 'ServiceAccount', namespace: m[1] as string, name: m[3] as string } : undefined;
}

/** The identity of a verified client certificate (undefined when it carries no DNS name or expired). */
export function certificateIdentity(cert: PeerCertificate, now: number): Identity | undefined {
  if (!cert.raw) return undefined;
  const notAfter = Date.parse(cert.valid_to);
  if (!Number.isNaN(notAfter) && notAfter <= now) return undefined;
  const dnsNames = (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  if (!dnsNames.length) return undefined;
  return { kind: 'Certificate', dnsNames, fingerprint: cert.fingerprint256 };
}

interface Verdict {
  identity?: Identity;
  reason?: string;
  expiresAt: number;
}

export interface AuthenticatorOptions {
  reviewer: TokenReviewer;
  now?: () => number;
  ttlMs?: number;
  negativeTtlMs?: number;
  /** Most verdicts kept (oldest dropped first). */
  maxEntries?: number;
}

export class Authenticator {
  private readonly o: Required<AuthenticatorOptions>;
  private readonly verdicts = new Map<string, Verdict>();
  private readonly inFlight = new Map<string, Promise<Verdict>>();

  constructor(o: AuthenticatorOptions) {
    this.o = {
      now: Date.now,
      ttlMs: 10_000,
      negativeTtlMs: 2_000,
      maxEntries: 10_000,
      ...o,
    };
  }

  /**
   * The caller of one call: the token when `authorization` carries one (a bad token is refused, never
   * passed over for the certificate), else the verified client certificate. Resolves synchronously
   * (no await) when the verdict is cached: the hot path.
   */
  authenticate(
    authorization: string | undefined,
    peerCertificate: () => PeerCertificate | undefined,
  ): Identity | Promise<Identity> {
    if (authorization !== undefined) {
      const m = BEARER.exec(authorization);
      if (!m) throw new AuthenticationError('the authorization metadata is not "Bearer <token>"');
      // NB: the one-shot hash: half the cost of createHash().update().digest() for a token, every call.
      const digest = hash('sha256', m[1] as string, 'base64');
      const cached = this.verdicts.get(digest);
      if (cached && cached.expiresAt > this.o.now()) return settle(cached);
      return this.review(digest, m[1] as string).then(settle);
    }
    const cert = peerCertificate();
    const id = cert && certificateIdentity(cert, this.o.now());
    if (id) return id;
    throw new AuthenticationError(
      cert
        ? 'the client certificate names no DNS name or has expired'
        : 'no credentials: send a ServiceAccount token (authorization: Bearer) or an internal-CA client certificate',
    );
  }

  /** Drops every cached verdict (tests; a changed audience). */
  clear(): void {
    this.verdicts.clear();
  }

  private review(digest: string, token: string): Promise<Verdict> {
    let p = this.inFlight.get(digest);
    if (p) return p;
    p = this.o.reviewer
      .review(token)
      .then(
        (r): Verdict => {
          const now = this.o.now();
          if (!r.authenticated) return { reason: r.reason, expiresAt: now + this.o.negativeTtlMs };
          const identity = serviceAccountOf(r.username);
          return identity
            ? { identity, expiresAt: now + this.o.ttlMs }
            : {
                reason: 'the token is not a ServiceAccount token',
                expiresAt: now + this.o.negativeTtlMs,
              };
        },
        // NB: the API server could not answer: refuse this call, cache nothing, ask again next time.
        (e: unknown): Verdict => ({
          reason: `the token could not be reviewed now (${e instanceof Error ? e.message : String(e)})`,
          expiresAt: 0,
        }),
      )
      .then((v) => {
        this.inFlight.delete(digest);
        if (v.expiresAt > 0) this.remember(digest, v);
        return v;
      });
    this.inFlight.set(digest, p);
    return p;
  }

  private remember(digest: string, v: Verdict): void {
    this.verdicts.delete(digest);
    this.verdicts.set(digest, v);
    while (this.verdicts.size > this.o.maxEntries) {
      const oldest = this.verdicts.keys().next().value;
      if (oldest === undefined) break;
      this.verdicts.delete(oldest);
    }
  }
}

function settle(v: Verdict): Identity {
  if (v.identity) return v.identity;
  throw new AuthenticationError(`the token was refused: ${v.reason ?? 'not authenticated'}`);
}
