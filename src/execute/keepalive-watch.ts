/**
 * The keepalive check for many agents at once. Every gate that waits for agents' keepalives
 * (an agent's own gate after its restart, a backend's gate waiting for every agent) registers
 * here; one poll lists each namespace's entities from one backend (paged, `last_seen` per entity)
 * and answers every waiter at once. A batch of 500 agents costs one or two requests a second, not
 * 500: the backend's API is the fleet's, and a rollout must not be its heaviest client.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { apiAuthorization, entitiesLastSeen } from '../facts/health.js';
import type { KeepaliveCheck } from './gates.js';

/** What a wait ended with. */
export interface KeepaliveSeen {
  ok: boolean;
  detail: string;
}

interface Waiter {
  name: string;
  namespace: string;
  /** Epoch ms: keepalives from before do not count. */
  since: number;
  resolve: (seen: KeepaliveSeen) => void;
}

/** Polls the API for registered agents' keepalives; one instance per run. */
export class KeepaliveWatch {
  /** API requests made so far (logins included): `--stats` reports them per batch. */
  calls = 0;
  /** Bytes the listings brought back so far. */
  bytes = 0;
  /** Pages the last listing took: a namespace of thousands of entities is listed less often. */
  private pages = 1;
  private readonly waiters = new Set<Waiter>();
  private polling: Promise<void> | undefined;
  /** Why the last poll could not answer (a backend restarting, a refused login), for failures. */
  private lastError = '';
  /** Last `last_seen` each entity had when polled (`namespace/name` → Unix seconds). */
  private readonly seen = new Map<string, number>();
  /** When the last listing started (epoch ms). */
  private lastPoll = 0;

  /**
   * `signal`: the run's; on abort every waiter is answered "interrupted". One listener for the
   * whole watch, not one per waiting agent (a batch of hundreds would pass Node's listener limit).
   */
  constructor(
    private readonly check: KeepaliveCheck,
    private readonly signal?: AbortSignal,
    private readonly intervalMs = 1000,
  ) {
    signal?.addEventListener(
      'abort',
      () => {
        for (const w of [...this.waiters]) w.resolve({ ok: false, detail: 'interrupted' });
      },
      { once: true },
    );
  }

  /**
   * Resolves once the backend recorded a keepalive from the entity at or after `since`, or with
   * `ok: false` at the deadline or on the run's abort (saying what was last seen). Never rejects.
   */
  wait(entity: { name: string; namespace: string }, since: number, deadline: number): Promise<KeepaliveSeen> {
    if (this.signal?.aborted) return Promise.resolve({ ok: false, detail: 'interrupted' });
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ...entity,
        since,
        resolve: (seen) => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          resolve(seen);
        },
      };
      const timer = setTimeout(() => waiter.resolve({ ok: false, detail: this.missing(waiter) }), Math.max(0, deadline - Date.now()));
      this.waiters.add(waiter);
      this.polling ??= this.poll().finally(() => (this.polling = undefined));
    });
  }

  private missing(w: Waiter): string {
    const last = this.seen.get(`${w.namespace}/${w.name}`);
    const what =
      last === undefined
        ? `no entity ${w.name} in namespace ${w.namespace} yet`
        : `last keepalive of ${w.name} is from ${new Date(last * 1000).toISOString()}, before the restart`;
    return `${what}${this.lastError ? `; ${this.lastError}` : ''}`;
  }

  private async poll(): Promise<void> {
    while (this.waiters.size > 0) {
      // At most one listing per interval, also when agents join one by one (each would start a
      // poll of its own the moment the previous ones were answered).
      // A namespace of 5 000 entities is 10 pages (megabytes) a listing: at most 2 pages a second.
      const wait = this.lastPoll + this.intervalMs * Math.max(1, Math.ceil(this.pages / 2)) - Date.now();
      if (wait > 0) await sleep(wait);
      this.lastPoll = Date.now();
      const namespaces = new Set([...this.waiters].map((w) => w.namespace));
      for (const namespace of namespaces) await this.pollNamespace(namespace);
    }
  }

  /** One listing of the namespace from the first backend that answers; answers its waiters. */
  private async pollNamespace(namespace: string): Promise<void> {
    for (const base of this.check.baseUrls) {
      let auth: string | undefined;
      try {
        auth = await this.authorization(base);
        const listing = await entitiesLastSeen(base, namespace, auth, this.check.ca);
        this.calls += listing.calls;
        this.bytes += listing.bytes;
        this.pages = listing.calls;
        this.lastError = '';
        for (const [name, lastSeen] of listing.lastSeen) this.seen.set(`${namespace}/${name}`, lastSeen);
        for (const w of [...this.waiters]) {
          if (w.namespace !== namespace) continue;
          const lastSeen = listing.lastSeen.get(w.name);
          // One second of slack: Sensu timestamps are whole seconds.
          if (lastSeen !== undefined && lastSeen * 1000 >= w.since - 1000) {
            w.resolve({ ok: true, detail: `keepalive ${new Date(lastSeen * 1000).toISOString()} seen by ${new URL(base).hostname}` });
          }
        }
        return;
      } catch (err) {
        if (auth !== undefined) this.calls += 1; // the listing was asked for (a failed login was counted)
        // An expired or refused token is fetched again next time; the next backend is asked now.
        this.check.tokens?.delete(base);
        this.lastError = `keepalive check via ${base}: ${(err as Error).message}`;
      }
    }
  }

  private authorization(base: string): Promise<string> {
    this.check.tokens ??= new Map();
    let token = this.check.tokens.get(base);
    if (!token) {
      this.calls += 'apiKey' in this.check.credentials ? 0 : 1;
      token = apiAuthorization(base, this.check.credentials, this.check.ca);
      // A failed login is not cached: the backend may just be restarting.
      token.catch(() => this.check.tokens?.delete(base));
      this.check.tokens.set(base, token);
    }
    return token;
  }
}
