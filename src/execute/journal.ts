/**
 * The journal: on the controller, what each step of a run replaced and where its backup is on the
 * host, written BEFORE the change, so `rollout rollback` can undo the last run even after this
 * process was killed. One JSON-lines file per run under the fleet's state directory; a line is
 * appended and fsynced per event, so a crash loses at most the line being written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Ownership } from '../plan/types.js';

/** A change the run is about to make (or made) on a host. */
export interface JournalChange {
  type: 'change';
  stepId: string;
  host: string;
  path: string;
  /** `replaced`: the file existed and was backed up; `created`: it did not exist. */
  action: 'replaced' | 'created' | 'dir-created' | 'dir-changed' | 'etcd-member-updated';
  /** Backup path on the host, for `replaced`. */
  backup?: string;
  before?: Ownership & { sha256?: string };
  /** Unit to restart after undoing this change. */
  unit?: string;
  /** `etcd-member-updated`: the member, its peer URLs before and after, and where etcd can be asked. */
  etcd?: { member: string; memberId: string; before: string[]; after: string[]; endpoints: { address: string; port: number; scheme: 'http' | 'https' }[] };
}

/** A journaled change the host refused before anything was written (its file changed by hand): nothing to undo. */
export interface JournalNotMade {
  type: 'not-made';
  stepId: string;
  host: string;
}

/** Marks a step finished. */
export interface JournalDone {
  type: 'done';
  stepId: string;
  host: string;
}

/** Run-level events. */
export interface JournalRun {
  type: 'start' | 'finished' | 'rolled-back' | 'rollback-failed';
  runId: string;
  at: string;
  inventory?: string;
}

/** A journal line. */
export type JournalEntry = JournalChange | JournalNotMade | JournalDone | JournalRun;

/** The changes a run made or may have made: journaled, and not refused by the host. */
export function changesOf(entries: readonly JournalEntry[]): JournalChange[] {
  const refused = new Set(entries.filter((e) => e.type === 'not-made').map((e) => `${e.host}\0${e.stepId}`));
  return entries.filter((e): e is JournalChange => e.type === 'change' && !refused.has(`${e.host}\0${e.stepId}`));
}

/** Where rollout keeps state for one fleet (keyed by the inventory's absolute path). */
export function fleetStateDir(inventoryFile: string, base = process.env.ROLLOUT_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'rollout')): string {
  const id = createHash('sha256').update(inventoryFile).digest('hex').slice(0, 16);
  return join(base, id);
}

/** A new run id: sortable by time, unique. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
}

/** Appends entries durably. */
export class Journal {
  readonly file: string;
  /** The changes appended so far by this process: what a rollback of this run undoes. */
  readonly changes: JournalChange[] = [];
  private fd: number;

  constructor(
    readonly dir: string,
    readonly runId: string,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = join(dir, `run-${runId}.jsonl`);
    this.fd = openSync(this.file, 'a', 0o600);
  }

  /** Appends one entry and fsyncs it. */
  append(entry: JournalEntry): void {
    this.note(entry);
    fsyncSync(this.fd);
  }

  /**
   * Appends entries and resolves once they are on disk. Callers on many hosts at once share one
   * fsync (group commit) off the event loop: 200 hosts journaling before their writes must not
   * queue 200 synchronous fsyncs in front of every other host's I/O.
   */
  async record(entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) this.note(entry);
    // An fsync already in flight may have started before these lines were written: wait for it,
    // then for one that starts after them (shared by everyone who wrote meanwhile).
    const inFlight = this.syncing;
    if (inFlight) await inFlight;
    this.nextSync ??= Promise.resolve().then(async () => {
      this.nextSync = undefined;
      const sync = promisify(fsync)(this.fd).finally(() => {
        if (this.syncing === sync) this.syncing = undefined;
      });
      this.syncing = sync;
      await sync;
    });
    await this.nextSync;
  }

  /**
   * Appends an entry without waiting for the disk: for what may be lost in a crash without harm
   * (a step's `done`: a rollback treats an unfinished step as possibly made). The next `append`,
   * `record` or `close` makes it durable.
   */
  note(entry: JournalEntry): void {
    if (entry.type === 'change') this.changes.push(entry);
    if (entry.type === 'not-made') {
      const at = this.changes.findIndex((c) => c.host === entry.host && c.stepId === entry.stepId);
      if (at >= 0) this.changes.splice(at, 1);
    }
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
  }

  close(): void {
    if (this.fd >= 0) {
      fsyncSync(this.fd);
      closeSync(this.fd);
    }
    this.fd = -1;
  }

  private syncing: Promise<void> | undefined;
  private nextSync: Promise<void> | undefined;
}

/** Reads a run's journal (tolerating a torn last line from a crash). */
export function readJournal(file: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as JournalEntry);
    } catch {
      break;
    }
  }
  return out;
}

/** The newest run journal of a fleet, if any. */
export function lastRun(dir: string): { runId: string; file: string; entries: JournalEntry[] } | undefined {
  if (!existsSync(dir)) return undefined;
  const runs = readdirSync(dir).filter((f) => /^run-.*\.jsonl$/.test(f)).sort();
  const last = runs.at(-1);
  if (!last) return undefined;
  const file = join(dir, last);
  return { runId: last.slice(4, -6), file, entries: readJournal(file) };
}

/** Where a file's backup goes on the host: beside Sensu's own files, per run. */
export function backupPath(runId: string, path: string, stepId?: string): string {
  return `/etc/sensu/.rollout-backups/${runId}/${stepId ? `${encodeURIComponent(stepId)}--` : ''}${encodeURIComponent(path)}`;
}
