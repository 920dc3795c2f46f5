/**
 * Refresh token families, kept in the API server so that every replica sees one truth: one Secret per
 * family in the operator's namespace (the keystore's namespace, which only Palisade writes), named by the
 * family's random ID.
 *
 * A family holds only its current generation and the SHA-256 of its current refresh token's secret, so
 * its size never grows with use. A refresh token is `prt1.<family>.<generation>.<secret>`:
 * - the current generation with the right secret: accepted, and the family moves to generation + 1 with
 *   a new secret by one update guarded by the resourceVersion read (the only write of a refresh);
 * - an older generation: **reuse**. The token was refreshed before, so two parties hold it: the family is
 *   deleted (every token of it stops working) and the call is refused;
 * - a lost race (the guarded update conflicts): another replica changed the family between the read and
 *   the write, i.e. the same token was presented twice: treated as reuse too.
 * A family expires `refreshLifetime` after its issue, whatever its use: expired families are refused and
 * deleted when presented, and swept by the leader ({@link sweepExpiredFamilies}).
 *
 * NB: these Secrets carry no `app.kubernetes.io/managed-by=palisade` label on purpose: the operator's
 * Secret informers (and the backup) select by it, and families are neither key material nor something
 * each replica should cache — there may be one per user session.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RandomSource } from '../crypto/index.ts';
import { isConflict, isNotFound } from '../runtime/errors.ts';
import type { KubeApi } from '../runtime/kube/api.ts';
import type { Secret } from '../runtime/kube/types.ts';
import { COMPONENT_LABEL } from '../runtime/objects.ts';
import { KeyServiceError } from './errors.ts';

export const FAMILY_COMPONENT = 'refresh-family';
export const FAMILY_SELECTOR = `${COMPONENT_LABEL}=${FAMILY_COMPONENT}`;
const PREFIX = 'prt1';
const FAMILY_KEY = 'family.json';
const EXPIRES_ANNOTATION = 'palisade.dev/expires';
const TENANT_UID_LABEL = 'palisade.dev/tenant-uid';

/** What Palisade issued the family for; written by Palisade only. */
export interface Family {
  tenant: string;
  tenantUID: string;
  subject: string;
  audience: string;
  scopes: string[];
  /** The identity that asked for it: only it may refresh or revoke. */
  client: string;
  /** ms since the epoch. */
  expiresAt: number;
}

interface Stored extends Family {
  generation: number;
  /** hex SHA-256 of the current refresh token's secret. */
  secretHash: string;
}

interface Parsed {
  id: string;
  generation: number;
  secret: string;
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const secretName = (id: string) => `palisade-refresh-${id}`;
const invalid = () =>
  new KeyServiceError('Unauthenticated', 'the refresh token is unknown, expired or revoked');

function parse(token: string): Parsed {
  const m = /^prt1\.([0-9a-f]{32})\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw new KeyServiceError('InvalidArgument', 'not a Palisade refresh token');
  return { id: m[1] as string, generation: Number(m[2]), secret: m[3] as string };
}

function tokenOf(id: string, generation: number, secret: string): string {
  return `${PREFIX}.${id}.${generation}.${secret}`;
}

function read(s: Secret): Stored {
  try {
    return JSON.parse(Buffer.from(s.data?.[FAMILY_KEY] ?? '', 'base64').toString('utf8')) as Stored;
  } catch {
    // NB: not the parser's message, which quotes the content.
    throw new KeyServiceError('Internal', `refresh token family ${s.metadata.name} is damaged`);
  }
}

function familySecret(namespace: string, id: string, f: Stored, resourceVersion?: string): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName(id),
      namespace,
      labels: { [COMPONENT_LABEL]: FAMILY_COMPONENT, [TENANT_UID_LABEL]: f.tenantUID },
      annotations: { [EXPIRES_ANNOTATION]: new Date(f.expiresAt).toISOString() },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    type: 'Opaque',
    data: { [FAMILY_KEY]: Buffer.from(JSON.stringify(f)).toString('base64') },
  };
}

export class RefreshFamilies {
  private readonly client: KubeApi;
  private readonly namespace: string;
  private readonly rand: RandomSource;
  private readonly now: () => number;

  constructor(o: { client: KubeApi; namespace: string; rand: RandomSource; now: () => number }) {
    this.client = o.client;
    this.namespace = o.namespace;
    this.rand = o.rand;
    this.now = o.now;
  }

  /** Starts a family; returns its first refresh token. One create. */
  async start(f: Family): Promise<string> {
    const id = Buffer.from(this.rand(16)).toString('hex');
    const secret = b64url(this.rand(32));
    await this.client.create(
      familySecret(this.namespace, id, { ...f, generation: 1, secretHash: sha256(secret) }),
    );
    return tokenOf(id, 1, secret);
  }

  /**
   * Checks `token` for `client` (and the family with `check`, which throws to refuse before anything is
   * written) and moves its family on: resolves to the family and the next refresh token. Refuses (and
   * on reuse revokes the family) as the module comment says.
   */
  async rotate(
    token: string,
    client: string,
    check: (f: Family) => void,
  ): Promise<{ family: Family; token: string }> {
    const t = parse(token);
    const { stored, rv } = await this.load(t, client);
    check(stored);
    if (t.generation < stored.generation) {
      await this.drop(t.id);
      throw new KeyServiceError(
        'PermissionDenied',
        'the refresh token was already used: its whole family is revoked (sign in again)',
      );
    }
    const secret = b64url(this.rand(32));
    const next: Stored = { ...stored, generation: stored.generation + 1, secretHash: sha256(secret) };
    try {
      await this.client.update(familySecret(this.namespace, t.id, next, rv));
    } catch (e) {
      if (!isConflict(e) && !isNotFound(e)) throw e;
      await this.drop(t.id);
      throw new KeyServiceError(
        'PermissionDenied',
        'the refresh token was used twice at once: its whole family is revoked (sign in again)',
      );
    }
    return { family: stored, token: tokenOf(t.id, next.generation, secret) };
  }

  /** Revokes the family of a current token of `client`. */
  async revoke(token: string, client: string): Promise<Family> {
    const t = parse(token);
    const { stored } = await this.load(t, client);
    await this.drop(t.id);
    return stored;
  }

  /** The family of `t`, checked: live, the caller's, and `t` one of its tokens (current or older). */
  private async load(t: Parsed, client: string): Promise<{ stored: Stored; rv: string }> {
    const s = await this.client.get<Secret>({
      kind: 'Secret',
      name: secretName(t.id),
      namespace: this.namespace,
    });
    if (!s || s.metadata.labels?.[COMPONENT_LABEL] !== FAMILY_COMPONENT) throw invalid();
    const stored = read(s);
    if (stored.expiresAt <= this.now()) {
      await this.drop(t.id);
      throw invalid();
    }
    if (stored.client !== client)
      throw new KeyServiceError('PermissionDenied', `the refresh token was not issued to ${client}`);
    if (t.generation > stored.generation) throw invalid();
    if (t.generation === stored.generation) {
      const a = Buffer.from(sha256(t.secret), 'hex');
      if (!timingSafeEqual(a, Buffer.from(stored.secretHash, 'hex'))) throw invalid();
    }
    return { stored, rv: s.metadata.resourceVersion ?? '' };
  }

  private async drop(id: string): Promise<void> {
    await this.client
      .delete({ kind: 'Secret', name: secretName(id), namespace: this.namespace })
      .catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
  }
}

/** Deletes every family whose lifetime has ended; returns how many. One list, one delete each. */
export async function sweepExpiredFamilies(client: KubeApi, namespace: string, now: number): Promise<number> {
  const list = await client.list<Secret>('Secret', { namespace, labelSelector: FAMILY_SELECTOR });
  let dropped = 0;
  for (const s of list.items) {
    const expires = Date.parse(s.metadata.annotations?.[EXPIRES_ANNOTATION] ?? '');
    if (!(expires <= now)) continue;
    await client.delete({ kind: 'Secret', name: s.metadata.name, namespace }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    dropped++;
  }
  return dropped;
}
