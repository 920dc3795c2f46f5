/**
 * Token buckets for pairing attempts: one per source address and one for all sources, so neither one
 * patient guesser nor a crowd gets more than a trickle of guesses. Time is passed in (tests need no
 * sleeps). The per-source map is bounded: past `maxSources`, the least recently used bucket is dropped
 * (a dropped source restarts with a full bucket — a small gift, bounded by the global bucket).
 */
export interface BucketSpec {
  /** Attempts allowed at once. */
  burst: number;
  /** Attempts regained per second. */
  perSecond: number;
}

export interface RateLimitOptions {
  perSource: BucketSpec;
  global: BucketSpec;
  maxSources?: number;
}

/** Defaults: 10 attempts then one per 6 s per source; 50 then 20/s overall. */
export const DEFAULT_PAIRING_LIMITS: RateLimitOptions = {
  perSource: { burst: 10, perSecond: 1 / 6 },
  global: { burst: 50, perSecond: 20 },
  maxSources: 10_000,
};

interface Bucket {
  tokens: number;
  at: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number; scope: 'source' | 'global' };

export class AttemptLimiter {
  private readonly sources = new Map<string, Bucket>();
  private readonly all: Bucket;
  private readonly o: RateLimitOptions;

  constructor(o: RateLimitOptions, now: number) {
    this.o = o;
    this.all = { tokens: o.global.burst, at: now };
  }

  /** Takes one attempt for `source` at `now` (ms), or says how long to wait. */
  take(source: string, now: number): Admission {
    const mine = this.sources.get(source) ?? { tokens: this.o.perSource.burst, at: now };
    this.sources.delete(source);
    this.sources.set(source, mine);
    this.trim();
    refill(mine, this.o.perSource, now);
    refill(this.all, this.o.global, now);
    if (mine.tokens < 1)
      return { ok: false, scope: 'source', retryAfterSeconds: wait(mine, this.o.perSource) };
    if (this.all.tokens < 1)
      return { ok: false, scope: 'global', retryAfterSeconds: wait(this.all, this.o.global) };
    mine.tokens -= 1;
    this.all.tokens -= 1;
    return { ok: true };
  }

  /** Gives an attempt back (a successful pairing is not a guess). */
  refund(source: string): void {
    const mine = this.sources.get(source);
    if (mine) mine.tokens = Math.min(this.o.perSource.burst, mine.tokens + 1);
    this.all.tokens = Math.min(this.o.global.burst, this.all.tokens + 1);
  }

  private trim(): void {
    const max = this.o.maxSources ?? 10_000;
    while (this.sources.size > max) {
      const oldest = this.sources.keys().next().value;
      if (oldest === undefined) break;
      this.sources.delete(oldest);
    }
  }
}

function refill(b: Bucket, spec: BucketSpec, now: number): void {
  const elapsed = Math.max(0, now - b.at) / 1000;
  b.tokens = Math.min(spec.burst, b.tokens + elapsed * spec.perSecond);
  b.at = now;
}

function wait(b: Bucket, spec: BucketSpec): number {
  return Math.max(1, Math.ceil((1 - b.tokens) / spec.perSecond));
}

/**
 * The source a pairing attempt is counted against, from the server's peer string (`<address>:<port>`,
 * IPv6 without brackets; older grpc-js: `ipv4:…`/`ipv6:[…]:…`): the IPv4 address, or the IPv6 /64
 * (one host usually holds a whole /64, so counting single IPv6 addresses would count nothing).
 */
export function sourceAddress(peer: string): string {
  let a = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1] as string;
  else a = a.replace(/:\d+$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) return mapped[1] as string;
  if (!a.includes(':')) return a;
  return `${expandIPv6(a).slice(0, 4).join(':')}::/64`;
}

function expandIPv6(a: string): string[] {
  const [head = '', tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const zeros = Array.from({ length: Math.max(0, 8 - h.length - t.length) }, () => '0');
  return [...h, ...(tail !== undefined ? zeros : []), ...t].map((g) =>
    g.toLowerCase().replace(/^0+(?=.)/, ''),
  );
}
