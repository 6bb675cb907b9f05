/**
 * One connection per host for the whole run, opened at most `forks` at a time, and always closed
 * (callers use `withConnections`, which disconnects in a `finally`).
 */
import pLimit from 'p-limit';
import { ConnectError, ConnectTimeoutError, RolloutError } from '../errors.js';
import type { Transport } from './transport.js';

/** Outcome of connecting to one host. */
export type Connection = { host: string; transport: Transport; error?: undefined } | { host: string; transport?: undefined; error: RolloutError };

/** Default concurrency: sized for fleets of hundreds, far below sshd and file-descriptor limits. */
export const DEFAULT_FORKS = 100;

/** At most this many second tries at once: they are the hosts that were slow when everyone connected. */
const RETRY_FORKS = 10;

/**
 * Opens connections to every host with bounded concurrency; failures are returned, not thrown.
 * A handshake that timed out is tried once more after the others, a few at a time: with a hundred
 * handshakes at once a busy controller or host can miss the deadline on a host that is fine.
 */
export async function connectAll<H extends { name: string }>(
  hosts: readonly H[],
  open: (host: H) => Promise<Transport>,
  options: { forks?: number; onConnected?: (c: Connection) => void },
): Promise<Connection[]> {
  const attempt = async (h: H): Promise<Connection> => {
    try {
      return { host: h.name, transport: await open(h) };
    } catch (err) {
      const error = err instanceof RolloutError ? err : new ConnectError(`${h.name}: ${(err as Error).message}`, { place: { host: h.name }, cause: err });
      return { host: h.name, error };
    }
  };
  const report = (c: Connection): Connection => {
    options.onConnected?.(c);
    return c;
  };
  const limit = pLimit(Math.max(1, options.forks ?? DEFAULT_FORKS));
  const first = await Promise.all(
    hosts.map((h) =>
      limit(async () => {
        const c = await attempt(h);
        return c.error instanceof ConnectTimeoutError ? c : report(c);
      }),
    ),
  );
  const retry = pLimit(Math.min(RETRY_FORKS, Math.max(1, options.forks ?? DEFAULT_FORKS)));
  return Promise.all(
    first.map((c, i) => {
      const h = hosts[i];
      if (!(c.error instanceof ConnectTimeoutError) || !h) return Promise.resolve(c);
      return retry(async () => {
        const again = await attempt(h);
        if (again.error instanceof ConnectTimeoutError)
          return report({
            host: h.name,
            error: new ConnectTimeoutError(`${again.error.message} (tried twice)`, {
              place: { host: h.name },
              ...(again.error.hint ? { hint: again.error.hint } : {}),
            }),
          });
        return report(again);
      });
    }),
  );
}

/** Closes every open connection; never throws. */
export async function closeAll(connections: readonly Connection[]): Promise<void> {
  await Promise.all(connections.map(async (c) => c.transport?.close().catch(() => undefined)));
}

/** Runs `fn` with every host connected, and disconnects whatever happens. */
export async function withConnections<H extends { name: string }, T>(
  hosts: readonly H[],
  open: (host: H) => Promise<Transport>,
  options: { forks?: number; onConnected?: (c: Connection) => void },
  fn: (connections: Connection[]) => Promise<T>,
): Promise<T> {
  const connections = await connectAll(hosts, open, options);
  try {
    return await fn(connections);
  } finally {
    await closeAll(connections);
  }
}

/** Runs `fn` over items with bounded concurrency, keeping results in order. */
export function forEachLimited<T, R>(items: readonly T[], forks: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const limit = pLimit(Math.max(1, forks));
  return Promise.all(items.map((item) => limit(() => fn(item))));
}
