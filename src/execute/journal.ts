/**
 * The journal: on the controller, what each step of a run replaced and where its backup is on the
 * host, written BEFORE the change, so `rollout rollback` can undo the last run even after this
 * process was killed. One JSON-lines file per run under the fleet's state directory; a line is
 * appended and fsynced per event, so a crash loses at most the line being written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { Ownership } from '../plan/types.js';
import { assertPrivate } from './state-dir.js';

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

/**
 * Where rollout keeps state for one fleet: keyed by the inventory's real path, so the same file
 * reached through a link or another relative path shares one lock and one journal.
 */
export function fleetStateDir(
  inventoryFile: string,
  base = process.env.ROLLOUT_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'rollout'),
): string {
  let real = inventoryFile;
  try {
    real = realpathSync(inventoryFile);
  } catch {
    // Not there (a test's name for a fleet): the name itself.
  }
  const id = createHash('sha256').update(real).digest('hex').slice(0, 16);
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
    assertPrivate(dir, 'directory');
    this.file = join(dir, `run-${runId}.jsonl`);
    this.fd = openSync(this.file, 'a', 0o600);
    // Appending to a journal whose last line was torn by a crash: that line never reached the disk
    // whole, so what it would have said was never acted on (a change is made only once its line
    // is synced). Drop it, so the marker appended now starts a line and every line reads.
    const text = readFileSync(this.file);
    if (text.length > 0 && text[text.length - 1] !== 0x0a) ftruncateSync(this.fd, text.lastIndexOf(0x0a) + 1);
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

const absolutePath = z
  .string()
  .regex(/^\/[^\0]*$/, 'an absolute path')
  .refine((p) => !p.split('/').includes('..'), 'no .. in paths');
const name = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/, 'a user or group name');
const ownership = z.strictObject({
  mode: z.number().int().min(0).max(0o7777),
  owner: name,
  group: name,
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
const hostName = z.string().min(1).max(253);
const stepId = z.string().min(1).max(1000);
const etcd = z.strictObject({
  member: z.string(),
  // etcd's JSON gateway gives member ids as decimal uint64 text.
  memberId: z.string().regex(/^[0-9a-f]{1,20}$/i),
  before: z.array(z.string()),
  after: z.array(z.string()),
  endpoints: z.array(z.strictObject({ address: z.string(), port: z.number().int().min(1).max(65535), scheme: z.enum(['http', 'https']) })),
});
const fileChange = z.strictObject({
  type: z.literal('change'),
  stepId,
  host: hostName,
  path: absolutePath,
  action: z.enum(['replaced', 'created', 'dir-created', 'dir-changed']),
  backup: absolutePath.refine((p) => p.startsWith('/etc/sensu/.rollout-backups/'), 'a backup under /etc/sensu/.rollout-backups/').optional(),
  before: ownership.optional(),
  unit: z.enum(['sensu-backend', 'sensu-agent']).optional(),
});
const memberChange = z.strictObject({
  type: z.literal('change'),
  stepId,
  host: hostName,
  path: z.string(),
  action: z.literal('etcd-member-updated'),
  unit: z.enum(['sensu-backend', 'sensu-agent']).optional(),
  etcd,
});
const otherStep = z.strictObject({ type: z.enum(['not-made', 'done']), stepId, host: hostName });
const runEvent = z.strictObject({
  type: z.enum(['start', 'finished', 'rolled-back', 'rollback-failed']),
  runId: z.string().regex(/^[0-9A-Za-z-]+$/),
  at: z.string(),
  inventory: z.string().optional(),
});

/** The schema a line must match, chosen by its type (so the error names the field that is wrong). */
function schemaOf(value: unknown): z.ZodType {
  const v = (typeof value === 'object' && value !== null ? value : {}) as { type?: unknown; action?: unknown };
  if (v.type === 'change') return v.action === 'etcd-member-updated' ? memberChange : fileChange;
  return v.type === 'not-made' || v.type === 'done' ? otherStep : runEvent;
}

/**
 * Reads a run's journal. Every line is checked (a rollback runs its paths and modes as root on
 * the hosts): the only line allowed to be bad is a torn last one, left by a crash mid-write.
 * Anything else is refused with its line number rather than half replayed.
 */
export function readJournal(file: string, runId?: string): JournalEntry[] {
  assertPrivate(file, 'file');
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const out: JournalEntry[] = [];
  for (const [index, line] of lines.entries()) {
    if (!line.trim()) continue;
    const torn = index === lines.length - 1; // no newline after it: it was being written
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (torn) break;
      throw new InputError(`the journal ${file} is damaged at line ${index + 1}: not JSON`, [], {
        hint: 'rollout will not replay part of a run; look at that line, or undo the run by hand from the backups under /etc/sensu/.rollout-backups/',
      });
    }
    const parsed = schemaOf(value).safeParse(value);
    if (!parsed.success) {
      if (torn) break;
      const issue = parsed.error.issues[0];
      throw new InputError(
        `the journal ${file} is damaged at line ${index + 1}: ${issue ? `${issue.path.join('.') || 'entry'}: ${issue.message}` : 'not a journal entry'}`,
        [],
        {
          hint: 'rollout will not replay a journal it did not write; look at that line, or undo the run by hand from the backups under /etc/sensu/.rollout-backups/',
        },
      );
    }
    const entry = parsed.data as JournalEntry;
    if (runId && entry.type === 'change' && entry.backup && !entry.backup.startsWith(`/etc/sensu/.rollout-backups/${runId}/`)) {
      throw new InputError(`the journal ${file} is damaged at line ${index + 1}: a backup outside this run's directory (${entry.backup})`);
    }
    out.push(entry);
  }
  return out;
}

/** The newest run journal of a fleet, if any. */
export function lastRun(dir: string): { runId: string; file: string; entries: JournalEntry[] } | undefined {
  if (!existsSync(dir)) return undefined;
  const runs = readdirSync(dir)
    .filter((f) => /^run-.*\.jsonl$/.test(f))
    .sort();
  const last = runs.at(-1);
  if (!last) return undefined;
  const file = join(dir, last);
  const runId = last.slice(4, -6);
  return { runId, file, entries: readJournal(file, runId) };
}

/** Where a file's backup goes on the host: beside Sensu's own files, per run. */
export function backupPath(runId: string, path: string, stepId?: string): string {
  return `/etc/sensu/.rollout-backups/${runId}/${stepId ? `${encodeURIComponent(stepId)}--` : ''}${encodeURIComponent(path)}`;
}
