/**
 * Wall time spent waiting on the fleet: restarts and health gates, which no tool can make faster.
 * Hosts wait in parallel, so this is the time during which at least one wait was in flight, not a
 * sum: the run's wall time minus this is rollout's own work (connect, upload, patch, render).
 */
export class WaitClock {
  private inFlight = 0;
  private since = 0;
  private total = 0;

  /** Runs `fn`, counting the time it is in flight. */
  async around<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inFlight++ === 0) this.since = performance.now();
    try {
      return await fn();
    } finally {
      if (--this.inFlight === 0) this.total += performance.now() - this.since;
    }
  }

  /** Milliseconds with at least one wait in flight, so far. */
  ms(): number {
    return this.total + (this.inFlight > 0 ? performance.now() - this.since : 0);
  }
}
