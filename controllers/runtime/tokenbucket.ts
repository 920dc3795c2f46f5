/** A token bucket's size: `burst` tokens at once, `perSecond` regained. */
export interface BucketSpec {
  burst: number;
  perSecond: number;
}

/** A token bucket, full at the start. Time is passed in (ms), so tests need no sleeps. */
export class TokenBucket {
  private readonly spec: BucketSpec;
  private tokens: number;
  private at: number;

  constructor(spec: BucketSpec, now: number) {
    this.spec = spec;
    this.tokens = spec.burst;
    this.at = now;
  }

  /** Whether a token is there at `now`, without taking it. */
  has(now: number): boolean {
    const elapsed = Math.max(0, now - this.at) / 1000;
    this.tokens = Math.min(this.spec.burst, this.tokens + elapsed * this.spec.perSecond);
    this.at = now;
    return this.tokens >= 1;
  }

  /** Takes a token at `now`; false when there is none. */
  take(now: number): boolean {
    if (!this.has(now)) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives a token back (up to the burst). */
  refund(): void {
    this.tokens = Math.min(this.spec.burst, this.tokens + 1);
  }

  /** Whole seconds until a token is there, at least 1 (as of the last `has`/`take`). */
  waitSeconds(): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.spec.perSecond));
  }
}
