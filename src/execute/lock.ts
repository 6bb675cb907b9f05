/**
 * One run per fleet at a time: a lock file in the fleet's state directory naming its owner.
 *
 * Taking it is one atomic step with its content: the owner's record is written to a file of its
 * own, then hard-linked to `lock` (link fails if `lock` exists), so no other run ever sees an
 * empty or half-written lock. A lock whose process is gone is taken over only when it was taken on
 * this machine (a pid means nothing elsewhere), and only under a second lock, so two runs that find
 * the same dead lock cannot both take it. Release removes the lock only while it is still ours.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { assertPrivate } from './state-dir.js';

/** A held lock. */
export interface FleetLock {
  /** True when a dead run's lock was taken over (its journal may need `rollout rollback`). */
  tookOverStale: boolean;
  release(): void;
}

/** What a lock file holds. */
interface Holder {
  pid?: number;
  host?: string;
  what?: string;
  at?: string;
  token?: string;
}

/** Options of `lockFleet`. */
export interface LockOptions {
  /** Remove a lock whatever holds it (`--force-unlock`): the operator says no other run is alive. */
  force?: boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Holder;
  } catch {
    return undefined;
  }
}

/** Links a new record of ours to `file`; false when `file` exists. */
function linkRecord(dir: string, file: string, record: Holder): boolean {
  const own = join(dir, `.lock-${record.token ?? ''}`);
  writeFileSync(own, JSON.stringify(record), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(own, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(own, { force: true });
  }
}

const describe = (h: Holder): string => `${h.what ?? 'run'}, pid ${h.pid ?? '?'} on ${h.host ?? '?'}, since ${h.at ?? '?'}`;

/** Takes the fleet lock or throws an InputError naming who holds it. */
export function lockFleet(dir: string, what: string, options: LockOptions = {}): FleetLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  assertPrivate(dir, 'directory');
  const file = join(dir, 'lock');
  const token = randomBytes(8).toString('hex');
  const record: Holder = { pid: process.pid, host: hostname(), what, at: new Date().toISOString(), token };
  const held = (tookOverStale: boolean): FleetLock => ({
    tookOverStale,
    release: () => {
      // Only our own: a lock another run took over (ours looked dead to it) is theirs now.
      if (readHolder(file)?.token === token) rmSync(file, { force: true });
    },
  });
  if (linkRecord(dir, file, record)) return held(false);
  const holder = readHolder(file);
  const hint = 'if you are sure no rollout is working on this fleet, run again with --force-unlock';
  if (!options.force) {
    if (!holder) throw new InputError(`the fleet lock ${file} cannot be read`, [], { hint });
    if (holder.host !== hostname())
      throw new InputError(`another rollout (${describe(holder)}) holds the lock of this fleet`, [], {
        hint: `a lock from another machine is never taken over: ${hint}`,
      });
    if (holder.pid === undefined || alive(holder.pid)) {
      throw new InputError(`another rollout (${describe(holder)}) is working on this fleet`, [], {
        hint: 'wait for it to finish; two runs on one fleet could undo each other',
      });
    }
  }
  // Dead (or forced): take it over under `lock.takeover`, so two runs finding the same dead lock
  // cannot both remove it and each believe they hold the new one.
  const guard = join(dir, 'lock.takeover');
  if (!linkRecord(dir, guard, { ...record, token: `${token}-guard` })) {
    throw new InputError(`another rollout is taking over the lock of this fleet (${guard})`, [], {
      hint: `run again in a moment; if it stays, remove ${guard}`,
    });
  }
  try {
    const now = readHolder(file);
    if (now?.token !== holder?.token) throw new InputError('another rollout took the lock of this fleet first', [], { hint: 'wait for it to finish' });
    unlinkSync(file);
    if (!linkRecord(dir, file, record)) throw new InputError('another rollout took the lock of this fleet first', [], { hint: 'wait for it to finish' });
    return held(true);
  } finally {
    rmSync(guard, { force: true });
  }
}
