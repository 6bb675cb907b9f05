/**
 * Doing and undoing single steps on a host. Every change is journaled (with its backup path)
 * before it is made, and the backup and the write are one command on the host.
 */
import { readFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { HostChangedError, RemoteCommandError } from '../errors.js';
import type { DirStep, FileStep } from '../plan/types.js';
import { printable } from '../terminal-text.js';
import { quote } from '../transport/shell.js';
import { EXIT_UNTRUSTED, refuseNonRegular, TRUSTED_DIR_FN } from '../transport/trusted-dir.js';
import type { Transport } from '../transport/transport.js';
import type { WriteItem } from '../transport/write-script.js';
import { backupPath, type Journal, type JournalChange } from './journal.js';

/** What applying a step needs besides the step. */
export interface ApplyContext {
  transport: Transport;
  journal: Journal;
  runId: string;
  /** Unit that reads this step's file, restarted when the change is undone. */
  unitReading(step: FileStep): string | undefined;
  /** Backups of how many runs a host keeps (this one included); default 5. */
  keepBackups?: number;
}

/** How many runs' backups a host keeps when nothing says otherwise. */
export const DEFAULT_KEEP_BACKUPS = 5;

/** A step that writes a file or makes a directory. */
export type WriteStep = FileStep | DirStep;

/** What a host's writes came to: the first `done` steps were made; `failed` (an index) and why not. */
export interface WritesOutcome {
  done: number;
  failed?: { index: number; error: Error };
}

/**
 * Makes a host's consecutive file and directory steps in one command: every change journaled
 * (with its backup path) and on disk before the command starts, then backup, verified content and
 * atomic replace per file on the host (src/transport/write-script.ts). Never throws for a failure:
 * the outcome says which step failed; steps after it were never attempted.
 */
export async function applyWrites(steps: readonly WriteStep[], ctx: ApplyContext): Promise<WritesOutcome> {
  const items: WriteItem[] = [];
  const entries: JournalChange[] = [];
  for (const [index, step] of steps.entries()) {
    if (step.kind === 'dir') {
      items.push({ kind: 'dir', path: step.path, ...step.after });
      entries.push({
        type: 'change',
        stepId: step.id,
        host: step.host,
        path: step.path,
        action: step.before.exists ? 'dir-changed' : 'dir-created',
        ...(step.before.mode !== undefined ? { before: { mode: step.before.mode, owner: step.before.owner ?? '', group: step.before.group ?? '' } } : {}),
      });
      continue;
    }
    const content = step.after.text !== undefined ? Buffer.from(step.after.text) : await readFile(step.source ?? '');
    if (createHash('sha256').update(content).digest('hex') !== step.after.sha256) {
      const error = new RemoteCommandError(`${step.source ?? step.path} changed on this machine since the plan was made`, {
        place: { host: step.host, file: step.source ?? step.path },
        hint: 'run again to plan with the current file',
      });
      return { done: 0, failed: { index, error } };
    }
    // One backup per step: a file changed twice in a run (a CA bundle, then the new CA alone) must
    // still roll back to what it was before the run.
    const backup = step.before.exists ? backupPath(ctx.runId, step.path, step.id) : undefined;
    const unit = ctx.unitReading(step);
    items.push({
      kind: 'file',
      path: step.path,
      content,
      mode: step.after.mode,
      owner: step.after.owner,
      group: step.after.group,
      // A file replaced unread (its directory was another user's until this run) has no hash to
      // hold it to; it is still never followed if it is a link.
      ...(step.before.unread ? {} : { expectSha256: step.before.exists ? (step.before.sha256 ?? null) : null }),
      ...(backup ? { backupTo: backup, keepRuns: ctx.keepBackups ?? DEFAULT_KEEP_BACKUPS } : {}),
    });
    entries.push({
      type: 'change',
      stepId: step.id,
      host: step.host,
      path: step.path,
      action: step.before.exists ? 'replaced' : 'created',
      ...(backup ? { backup } : {}),
      ...(step.before.mode !== undefined
        ? {
            before: {
              mode: step.before.mode,
              owner: step.before.owner ?? '',
              group: step.before.group ?? '',
              ...(step.before.sha256 ? { sha256: step.before.sha256 } : {}),
            },
          }
        : {}),
      ...(unit ? { unit } : {}),
    });
  }
  await ctx.journal.record(entries);
  const { done, error } = await ctx.transport.writeAll(items);
  for (const step of steps.slice(0, done)) ctx.journal.note({ type: 'done', stepId: step.id, host: step.host });
  if (!error) return { done };
  // Not made, so a rollback must not touch them: the refused file (changed by hand: the operator's
  // edit stays) and every step after the failure (never attempted).
  const notMade = steps.slice(error instanceof HostChangedError ? done : done + 1);
  await ctx.journal.record(notMade.map((step) => ({ type: 'not-made', stepId: step.id, host: step.host })));
  return { done, failed: { index: done, error } };
}

/** Restarts a unit, clearing a failed state first (systemd refuses to restart past its start limit). */
export async function restartUnit(transport: Transport, unit: string): Promise<void> {
  const u = quote(unit);
  const r = await transport.run(`systemctl reset-failed ${u} 2>/dev/null; systemctl restart ${u}`, { sudo: true });
  if (r.code !== 0) {
    throw new RemoteCommandError(`${transport.host}: systemctl restart ${unit} failed: ${printable(r.stderr.toString().trim().split('\n')[0] ?? '')}`, {
      place: { host: transport.host },
    });
  }
}

/** Undoes one journaled change; returns a problem line when it could not. */
export async function undoChange(change: JournalChange, transport: Transport): Promise<string | undefined> {
  const r = await transport.run(undoScript(change), { sudo: true });
  return r.code === 0 ? undefined : `${change.path}: ${printable(r.stderr.toString().trim()) || `exit status ${String(r.code)}`}`;
}

/**
 * The command that undoes one change. Like the writes, it acts only in directories that are root's
 * alone (src/transport/trusted-dir.ts), never through a link, and restores through a temp file
 * whose name no one can guess: a rollback is when a host's sensu user would most like root to
 * follow a planted link.
 */
export function undoScript(change: JournalChange): string {
  const nonce = randomBytes(6).toString('hex');
  const head = [
    'set -e -C',
    'umask 0077',
    TRUSTED_DIR_FN,
    `p=${quote(change.path)}; d=\${p%/*}; d=\${d:-/}; b=\${p##*/}`,
    // A directory that is gone was made by this run and already removed by an undo (`rollout
    // rollback` replays a whole run, hosts restored before included): nothing in it to restore.
    'if [ ! -e "$d" ] && [ ! -L "$d" ]; then exit 0; fi',
    `trusted_dir "$d" || exit ${EXIT_UNTRUSTED}`,
  ];
  const notFile = refuseNonRegular('left alone');
  const notDir = `if [ -L "$p" ] || [ ! -d "$p" ]; then echo "$p is not a directory (a symbolic link?): left alone" >&2; exit ${EXIT_UNTRUSTED}; fi`;
  // Temp files of an upload cut short by a killed controller go too (the write script names them so).
  const leftovers = 'for x in "$d/.$b.rollout-"*; do [ ! -e "$x" ] && [ ! -L "$x" ] || rm -f -- "$x"; done';
  let body: string[];
  switch (change.action) {
    case 'replaced': {
      if (!change.backup) return `echo ${quote(`${change.path}: no backup recorded`)} >&2; exit 1`;
      // A run killed between journaling and writing never made the backup, nor the change: the
      // file still has its old content, and that is all a restore could give back.
      const unchanged = change.before?.sha256 ? `[ -f "$p" ] && set -- $(sha256sum < "$p") && [ "$1" = ${quote(change.before.sha256)} ]` : 'false';
      body = [
        notFile,
        // The backup is read only from root's own directory, and only when it is a plain file.
        `k=${quote(change.backup)}; if [ -e "\${k%/*}" ] || [ -L "\${k%/*}" ]; then trusted_dir "\${k%/*}" || exit ${EXIT_UNTRUSTED}; fi`,
        'if [ -f "$k" ] && [ ! -L "$k" ]; then',
        // Copy the backup beside the file, then rename: the restore is atomic too, owner and mode kept.
        `  t="$d/.$b.rollout-restore-${nonce}"; trap 'rm -f "$t"' EXIT`,
        '  cp -a -T -- "$k" "$t"; sync "$t"; mv -f -T -- "$t" "$p"; trap - EXIT',
        `elif ${unchanged}; then :`,
        `elif [ ! -e "\${k%/*}" ]; then echo ${quote(`the backups of this run are gone from the host (${change.backup.slice(0, change.backup.lastIndexOf('/'))}): hosts keep the last runs' backups only (--keep-backups), so ${change.path} cannot be restored`)} >&2; exit 1`,
        `else echo ${quote(`backup ${change.backup} is missing`)} >&2; exit 1; fi`,
        leftovers,
      ];
      break;
    }
    case 'created':
      body = [notFile, 'rm -f -- "$p"', leftovers];
      break;
    case 'dir-created':
      // Only when empty: anything the operator put there meanwhile stays.
      body = ['[ -L "$p" ] || rmdir -- "$p" 2>/dev/null || true'];
      break;
    case 'dir-changed':
      body = change.before
        ? [
            notDir,
            `chown -h ${quote(`${change.before.owner}:${change.before.group}`)} "$p"`,
            `chmod ${(change.before.mode & 0o7777).toString(8).padStart(4, '0')} "$p"`,
          ]
        : ['true'];
      break;
    case 'etcd-member-updated':
      // Not a file: rollback undoes it through the etcd API (src/execute/etcd-member.ts).
      return `echo ${quote(`${change.path}: an etcd member change, not a file`)} >&2; exit 1`;
  }
  return [...head, ...body].join('\n');
}
