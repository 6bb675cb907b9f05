/**
 * A TCP relay that adds latency: every chunk read from one side is written to the other side
 * `oneWayMs` after it arrived, in the order it arrived. It models distance, not a thin pipe: no
 * bandwidth limit, and a chunk is never held longer than its own delay (no head-of-line wait
 * beyond the order the bytes already had). The kernel's netem qdisc would do this in the network
 * stack, but it is not available on every machine (this project's: "Specified qdisc kind is
 * unknown"), so the lab relays SSH through this instead.
 */
import net from 'node:net';

/** One listening address forwarded to one target. */
export interface RelayRoute {
  listen: { address: string; port: number };
  target: { address: string; port: number };
}

/** A running relay. */
export interface DelayRelay {
  /** Connections accepted so far (for the lab's checks). */
  accepted(): number;
  close(): Promise<void>;
}

/**
 * Copies `from` to `to` with a fixed delay per chunk. The end of the stream (FIN) travels the same
 * way, after the last chunk, so half-closes are relayed as a router would: late, never early.
 */
function delayedPipe(from: net.Socket, to: net.Socket, oneWayMs: number): void {
  // Chunks in arrival order with their due time; `null` is the end of the stream.
  const queue: { due: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let paused = false;
  const flush = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && (queue[0]?.due ?? Infinity) <= now) {
      const item = queue.shift();
      if (!item || to.destroyed) continue;
      if (item.chunk === null) to.end();
      // The destination's buffer only grows by what the source already sent: pause the source
      // until it drains, so a slow reader is not buffered without bound here.
      else if (!to.write(item.chunk) && !paused) {
        paused = true;
        from.pause();
        to.once('drain', () => {
          paused = false;
          from.resume();
        });
      }
    }
    arm();
  };
  const arm = (): void => {
    const head = queue[0];
    if (timer || !head) return;
    timer = setTimeout(flush, Math.max(0, head.due - performance.now()));
  };
  from.on('data', (chunk: Buffer) => {
    queue.push({ due: performance.now() + oneWayMs, chunk });
    arm();
  });
  from.on('end', () => {
    queue.push({ due: performance.now() + oneWayMs, chunk: null });
    arm();
  });
  // A reset (or a close without FIN) reaches the other side too, after the same delay; a clean
  // end already travels through the queue.
  from.on('close', (hadError: boolean) => {
    if (hadError || !from.readableEnded) setTimeout(() => to.destroy(), oneWayMs + 1);
  });
  from.on('error', () => undefined);
}

/** Starts listening on every route's address; resolves once all of them listen. */
export async function startDelayRelay(routes: readonly RelayRoute[], rttMs: number): Promise<DelayRelay> {
  const oneWayMs = rttMs / 2;
  let accepted = 0;
  const servers = await Promise.all(
    routes.map(
      (route) =>
        new Promise<net.Server>((resolveServer, reject) => {
          // allowHalfOpen: a FIN from one side is relayed as a FIN, not as a close of both.
          const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
            accepted += 1;
            const upstream = net.connect({ host: route.target.address, port: route.target.port, allowHalfOpen: true, noDelay: true });
            delayedPipe(client, upstream, oneWayMs);
            delayedPipe(upstream, client, oneWayMs);
          });
          server.once('error', reject);
          server.listen({ host: route.listen.address, port: route.listen.port, backlog: 511 }, () => resolveServer(server));
        }),
    ),
  );
  return {
    accepted: () => accepted,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}
