/**
 * One run per fleet at a time: a lock file in the fleet's state directory holding the owner's pid.
 * A lock whose process is gone (killed controller) is taken over, and says so.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';

/** A held lock. */
export interface FleetLock {
  /** True when a dead run's lock was taken over (its journal may need `rollout rollback`). */
  tookOverStale: boolean;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the fleet lock or throws an InputError naming who holds it. */
export function lockFleet(dir: string, what: string): FleetLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'lock');
  let tookOverStale = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), what, at: new Date().toISOString() }));
      closeSync(fd);
      return {
        tookOverStale,
        release: () => rmSync(file, { force: true }),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: { pid?: number; host?: string; what?: string; at?: string } = {};
      try {
        holder = JSON.parse(readFileSync(file, 'utf8')) as typeof holder;
      } catch {
        // a torn lock file: treat as stale
      }
      if (holder.pid && holder.host === hostname() && alive(holder.pid)) {
        throw new InputError(`another rollout (${holder.what ?? 'run'}, pid ${holder.pid}, since ${holder.at ?? '?'}) is working on this fleet`, [], {
          hint: 'wait for it to finish; two runs on one fleet could undo each other',
        });
      }
      rmSync(file, { force: true });
      tookOverStale = true;
    }
  }
  throw new InputError(`cannot take the fleet lock ${file}`);
}
