/**
 * sensu-go's `retry.ExponentialBackoff` (util/retry): first attempt at once; then sleep, multiply
 * the wait, add up to 100 % jitter, cap at the maximum. An agent that failed for a while can
 * therefore wait the full `retry-max` (120 s by default) before its next attempt.
 */

/** The backoff parameters (`retry-min`, `retry-max`, `retry-multiplier`). */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Injected for tests; defaults to Math.random. */
  random?: () => number;
}

/** Delays between attempts, in Go's order: `next()` before attempt 2, 3, … */
export class Backoff {
  private wait: number;
  private readonly random: () => number;

  constructor(private readonly opts: BackoffOptions) {
    this.wait = opts.initialMs;
    this.random = opts.random ?? Math.random;
  }

  /** The sleep before the next attempt; advances the schedule. */
  next(): number {
    if (this.opts.maxMs > 0 && this.wait > this.opts.maxMs) this.wait = this.opts.maxMs;
    const sleep = this.wait;
    const multiplier = this.opts.multiplier === 0 ? 2 : this.opts.multiplier;
    this.wait = this.wait * multiplier;
    this.wait = this.wait + this.random() * this.wait;
    return sleep;
  }
}
