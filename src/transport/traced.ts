/**
 * A Transport that reports what it does: every command (with its exit code, time and remote
 * stderr), read, write, stat and forward, as events for `-v`…`-vvv` and `--log`. It wraps any
 * Transport, so the SSH adapter stays the one file that knows ssh2. Events carry the command as
 * sent; redaction is the receiver's job (it knows the fleet's secrets).
 */
import type { Duplex } from 'node:stream';
import type { RemoteStat, RunOptions, RunResult, Transport, TransportStats, WriteOutcome } from './transport.js';
import type { WriteItem } from './write-script.js';

/** One thing a transport did. */
export type TransportEvent =
  | { type: 'command'; host: string; command: string; sudo: boolean; code: number | null; ms: number; stderr: string; error?: string }
  | { type: 'read'; host: string; path: string; found: boolean; ms: number; error?: string }
  | { type: 'write'; host: string; paths: string[]; done: number; ms: number; error?: string }
  | { type: 'stat'; host: string; path: string; ms: number; error?: string }
  | { type: 'forward'; host: string; address: string; port: number; ms: number; error?: string }
  | { type: 'close'; host: string };

/** Wraps `t` so each operation is reported to `sink` when it ends. */
export function traced(t: Transport, sink: (event: TransportEvent) => void): Transport {
  const host = t.host;
  async function timed<R>(op: () => Promise<R>, report: (r: R | undefined, ms: number, error?: string) => void): Promise<R> {
    const t0 = performance.now();
    try {
      const r = await op();
      report(r, Math.round(performance.now() - t0));
      return r;
    } catch (err) {
      report(undefined, Math.round(performance.now() - t0), (err as Error).message);
      throw err;
    }
  }
  return {
    host,
    run: (command: string, options?: RunOptions): Promise<RunResult> =>
      timed(
        () => t.run(command, options),
        (r, ms, error) =>
          sink({
            type: 'command',
            host,
            command,
            sudo: options?.sudo ?? false,
            code: r?.code ?? null,
            ms,
            stderr: r?.stderr.toString() ?? '',
            ...(error ? { error } : {}),
          }),
      ),
    readFile: (path: string): Promise<Buffer | undefined> =>
      timed(
        () => t.readFile(path),
        (r, ms, error) => sink({ type: 'read', host, path, found: r !== undefined, ms, ...(error ? { error } : {}) }),
      ),
    writeAll: (items: readonly WriteItem[]): Promise<WriteOutcome> =>
      timed(
        () => t.writeAll(items),
        (r, ms, error) =>
          sink({
            type: 'write',
            host,
            paths: items.map((i) => i.path),
            done: r?.done ?? 0,
            ms,
            ...((error ?? r?.error) ? { error: error ?? r?.error?.message } : {}),
          }),
      ),
    stat: (path: string): Promise<RemoteStat | undefined> =>
      timed(
        () => t.stat(path),
        (_r, ms, error) => sink({ type: 'stat', host, path, ms, ...(error ? { error } : {}) }),
      ),
    forward: (address: string, port: number): Promise<Duplex> =>
      timed(
        () => t.forward(address, port),
        (_r, ms, error) => sink({ type: 'forward', host, address, port, ms, ...(error ? { error } : {}) }),
      ),
    stats: (): TransportStats => t.stats(),
    close: async (): Promise<void> => {
      await t.close();
      sink({ type: 'close', host });
    },
  };
}
