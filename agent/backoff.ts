/**
 * Jittered exponential backoff ("equal jitter"): the n-th retry waits between half and all of
 * min(max, base·2ⁿ), so a fleet of agents cut off together does not come back together, and no retry
 * comes sooner than half its step. `reset()` after a success.
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(o: { baseMs?: number; maxMs?: number; random?: () => number } = {}) {
    this.baseMs = o.baseMs ?? 500;
    this.maxMs = o.maxMs ?? 30_000;
    this.random = o.random ?? Math.random;
  }

  /** The next delay in milliseconds. */
  next(): number {
    const step = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
