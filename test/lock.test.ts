/**
 * The fleet lock: exactly one of two runs started together holds it, a lock is never empty or
 * taken from a live run or from another machine, and a run releases only its own.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockFleet } from '../src/execute/lock.js';
import { scratchDir } from './helpers/scratch.js';

const dir = scratchDir('rollout-lock-');
const tsx = join(import.meta.dirname, '..', 'node_modules', '.bin', 'tsx');

const waitFor = async (file: string): Promise<void> => {
  while (!existsSync(file)) await new Promise((r) => setTimeout(r, 1));
};

describe('the fleet lock', () => {
  it('two runs started together, 100 times: exactly one holds the lock each time', async () => {
    const rounds = 100;
    const base = join(dir, 'race');
    mkdirSync(base);
    const racers = ['a', 'b'].map((side) =>
      spawn(tsx, [join(import.meta.dirname, 'helpers', 'lock-racer.ts'), base, side, String(rounds)], { stdio: 'inherit' }),
    );
    const winners: string[] = [];
    for (let round = 0; round < rounds; round++) {
      await Promise.all(['a', 'b'].map((side) => waitFor(join(base, `ready-${round}-${side}`))));
      writeFileSync(join(base, `go-${round}`), '');
      await Promise.all(['a', 'b'].map((side) => waitFor(join(base, `result-${round}-${side}`))));
      const results = ['a', 'b'].map((side) => readFileSync(join(base, `result-${round}-${side}`), 'utf8'));
      expect(results.sort(), `round ${round}`).toEqual(['lost', 'won']);
      winners.push(results.join());
    }
    await Promise.all(racers.map((r) => new Promise((res) => (r.exitCode !== null ? res(null) : r.on('exit', res)))));
    expect(winners).toHaveLength(rounds);
  }, 120_000);

  it('refuses while another run holds it, and the holder releases only its own lock', () => {
    const fleet = join(dir, 'held');
    const first = lockFleet(fleet, 'secure');
    expect(() => lockFleet(fleet, 'rollback')).toThrow(/another rollout \(secure, pid \d+ on .*\) is working on this fleet/);
    // Forced away by an operator: the old holder's release must not remove the new lock.
    const forced = lockFleet(fleet, 'rollback', { force: true });
    first.release();
    expect(existsSync(join(fleet, 'lock'))).toBe(true);
    forced.release();
    expect(existsSync(join(fleet, 'lock'))).toBe(false);
  });

  it('takes over a dead run of this machine, says so; never a lock of another machine, nor an unreadable one', () => {
    const fleet = join(dir, 'stale');
    mkdirSync(fleet, { mode: 0o700 });
    const dead = spawn('true').pid ?? 0;
    writeFileSync(
      join(fleet, 'lock'),
      JSON.stringify({
        pid: 999_999_999 + dead,
        host: (process.env.HOSTNAME ?? readFileSync('/proc/sys/kernel/hostname', 'utf8')).trim(),
        what: 'secure',
        at: 'then',
        token: 'old',
      }),
    );
    const taken = lockFleet(fleet, 'secure');
    expect(taken.tookOverStale).toBe(true);
    taken.release();

    writeFileSync(join(fleet, 'lock'), JSON.stringify({ pid: 1, host: 'controller-elsewhere', what: 'secure', at: 'then', token: 'x' }));
    expect(() => lockFleet(fleet, 'secure')).toThrow(/holds the lock of this fleet/);
    writeFileSync(join(fleet, 'lock'), '');
    expect(() => lockFleet(fleet, 'secure')).toThrow(/cannot be read/);
    // Still there: a second run never deletes a lock it cannot read.
    expect(readFileSync(join(fleet, 'lock'), 'utf8')).toBe('');
    lockFleet(fleet, 'secure', { force: true }).release();
  });
});
