/**
 * connectAll's policy, on plain data: which failures get a second try, and what is reported.
 * (The handshakes themselves are tested against real sshd in transport.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { ConnectError, ConnectTimeoutError } from '../src/errors.js';
import { connectAll, type Connection } from '../src/transport/pool.js';
import type { Transport } from '../src/transport/transport.js';

const hosts = ['slow-once', 'dead', 'refused', 'fine'].map((name) => ({ name }));

describe('connectAll', () => {
  it('tries a timed-out handshake once more after the others; other failures are final', async () => {
    const tries = new Map<string, number>();
    const open = (h: { name: string }): Promise<Transport> => {
      const n = (tries.get(h.name) ?? 0) + 1;
      tries.set(h.name, n);
      if (h.name === 'dead' || (h.name === 'slow-once' && n === 1))
        return Promise.reject(
          new ConnectTimeoutError(`${h.name} (10.0.0.1:22): timed out after 10 s connecting`, { place: { host: h.name }, hint: 'raise --connect-timeout' }),
        );
      if (h.name === 'refused') return Promise.reject(new ConnectError(`${h.name} (10.0.0.2:22): connection refused`, { place: { host: h.name } }));
      return Promise.resolve({ host: h.name } as Transport);
    };
    const reported: Connection[] = [];
    const result = await connectAll(hosts, open, { forks: 4, onConnected: (c) => reported.push(c) });
    expect(Object.fromEntries(tries)).toEqual({ 'slow-once': 2, dead: 2, refused: 1, fine: 1 });
    expect(result.map((c) => c.host)).toEqual(['slow-once', 'dead', 'refused', 'fine']);
    expect(result[0]?.transport?.host).toBe('slow-once');
    expect(result[1]?.error?.message).toBe('dead (10.0.0.1:22): timed out after 10 s connecting (tried twice)');
    expect(result[1]?.error?.hint).toBe('raise --connect-timeout');
    expect(result[2]?.error?.message).toBe('refused (10.0.0.2:22): connection refused');
    // Each host reported once, with its final outcome.
    expect(reported.map((c) => `${c.host}:${c.error ? 'error' : 'ok'}`).sort()).toEqual(['dead:error', 'fine:ok', 'refused:error', 'slow-once:ok']);
  });
});
