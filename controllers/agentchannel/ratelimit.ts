/**
 * Token buckets for pairing attempts: one per source address and one for all sources, so neither one
 * patient guesser nor a crowd gets more than a trickle of guesses. Time is passed in (tests need no
 * sleeps). The per-source map is bounded: past `maxSources`, the least recently used bucket is dropped
 * (a dropped source restarts with a full bucket — a small gift, bounded by the global bucket).
 */
import { TokenBucket, type BucketSpec } from '../runtime/tokenbucket.ts';

/** Per-source and global buckets (attempts allowed at once, attempts regained per second). */
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

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number; scope: 'source' | 'global' };

export class AttemptLimiter {
  private readonly sources = new Map<string, TokenBucket>();
  private readonly all: TokenBucket;
  private readonly o: RateLimitOptions;

  constructor(o: RateLimitOptions, now: number) {
    this.o = o;
    this.all = new TokenBucket(o.global, now);
  }

  /** Takes one attempt for `source` at `now` (ms), or says how long to wait. */
  take(source: string, now: number): Admission {
    const mine = this.sources.get(source) ?? new TokenBucket(this.o.perSource, now);
    this.sources.delete(source);
    this.sources.set(source, mine);
    this.trim();
    if (!mine.has(now)) return { ok: false, scope: 'source', retryAfterSeconds: mine.waitSeconds() };
    if (!this.all.has(now)) return { ok: false, scope: 'global', retryAfterSeconds: this.all.waitSeconds() };
    mine.take(now);
    this.all.take(now);
    return { ok: true };
  }

  /** Gives an attempt back (a successful pairing is not a guess). */
  refund(source: string): void {
    this.sources.get(source)?.refund();
    this.all.refund();
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
