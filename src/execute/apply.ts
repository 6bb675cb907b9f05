/**
 * Doing and undoing single steps on a host. Every change is journaled (with its backup path)
 * before it is made, and the backup and the write are one command on the host.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { HostChangedError, RemoteCommandError } from '../errors.js';
import type { DirStep, FileStep } from '../plan/types.js';
import { quote } from '../transport/shell.js';
import type { Transport } from '../transport/transport.js';
import type { WriteItem } from '../transport/write-script.js';
import { backupPath, type Journal, type JournalChange } from './journal.js';

/** What applying a step needs besides the step. */
export interface ApplyContext {
  transport: Transport;
  journal: Journal;
  runId: string;
  /** Unit that reads this step's file, restarted when the change is undone. */
  unitOf(step: FileStep): string | undefined;
}

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
      const error = new RemoteCommandError(`${step.source ?? step.path} changed on this machine since the plan was made`, { place: { host: step.host, file: step.source ?? step.path }, hint: 'run again to plan with the current file' });
      return { done: 0, failed: { index, error } };
    }
    // One backup per step: a file changed twice in a run (a CA bundle, then the new CA alone) must
    // still roll back to what it was before the run.
    const backup = step.before.exists ? backupPath(ctx.runId, step.path, step.id) : undefined;
    const unit = ctx.unitOf(step);
    items.push({
      kind: 'file',
      path: step.path,
      content,
      mode: step.after.mode,
      owner: step.after.owner,
      group: step.after.group,
      expectSha256: step.before.exists ? (step.before.sha256 ?? null) : null,
      ...(backup ? { backupTo: backup } : {}),
    });
    entries.push({
      type: 'change',
      stepId: step.id,
      host: step.host,
      path: step.path,
      action: step.before.exists ? 'replaced' : 'created',
      ...(backup ? { backup } : {}),
      ...(step.before.mode !== undefined ? { before: { mode: step.before.mode, owner: step.before.owner ?? '', group: step.before.group ?? '', ...(step.before.sha256 ? { sha256: step.before.sha256 } : {}) } } : {}),
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
    throw new RemoteCommandError(`${transport.host}: systemctl restart ${unit} failed: ${r.stderr.toString().trim().split('\n')[0] ?? ''}`, { place: { host: transport.host } });
  }
}

/** Undoes one journaled change; returns a problem line when it could not. */
export async function undoChange(change: JournalChange, transport: Transport): Promise<string | undefined> {
  const p = quote(change.path);
  let script: string;
  switch (change.action) {
    case 'replaced': {
      if (!change.backup) return `${change.path}: no backup recorded`;
      const b = quote(change.backup);
      // A run killed between journaling and writing never made the backup, nor the change: the
      // file still has its old content, and that is all a restore could give back.
      const unchanged = change.before?.sha256 ? `[ -e ${p} ] && [ "$(sha256sum < ${p} | cut -d' ' -f1)" = ${quote(change.before.sha256)} ]` : 'false';
      // Copy the backup beside the file, then rename: the restore is atomic too, owner and mode kept.
      const restore = `t=$(dirname -- ${p})/.$(basename -- ${p}).rollout-restore; cp -a -- ${b} "$t"; sync "$t"; mv -f -- "$t" ${p}`;
      script = `set -e; if [ -e ${b} ]; then ${restore}; elif ${unchanged}; then :; else echo "backup ${change.backup} is missing" >&2; exit 1; fi`;
      break;
    }
    case 'created':
      script = `rm -f -- ${p}`;
      break;
    case 'dir-created':
      // Only when empty: anything the operator put there meanwhile stays.
      script = `rmdir -- ${p} 2>/dev/null || true`;
      break;
    case 'dir-changed':
      script = change.before ? `chown ${quote(`${change.before.owner}:${change.before.group}`)} ${p}; chmod ${change.before.mode.toString(8).padStart(4, '0')} ${p}` : 'true';
      break;
    case 'etcd-member-updated':
      // Not a file: rollback undoes it through the etcd API (src/execute/etcd-member.ts).
      return `${change.path}: an etcd member change, not a file`;
  }
  // Temp files of an upload cut short by a killed controller go too (the write script names them so).
  const leftovers = change.action === 'replaced' || change.action === 'created' ? `; rm -f -- "$(dirname -- ${p})/.$(basename -- ${p}).rollout-"??????` : '';
  const r = await transport.run(`${script}${leftovers}`, { sudo: true });
  return r.code === 0 ? undefined : `${change.path}: ${r.stderr.toString().trim() || `exit status ${String(r.code)}`}`;
}
