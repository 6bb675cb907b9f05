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
import { backupPath, type Journal, type JournalChange } from './journal.js';

/** What applying a step needs besides the step. */
export interface ApplyContext {
  transport: Transport;
  journal: Journal;
  runId: string;
  /** Unit that reads this step's file, restarted when the change is undone. */
  unitOf(step: FileStep): string | undefined;
}

/** Writes a planned file: backup, journal, verified content, atomic replace. */
export async function applyFile(step: FileStep, ctx: ApplyContext): Promise<void> {
  const content = step.after.text !== undefined ? Buffer.from(step.after.text) : await readFile(step.source ?? '');
  const sha = createHash('sha256').update(content).digest('hex');
  if (sha !== step.after.sha256) {
    throw new RemoteCommandError(`${step.source ?? step.path} changed on this machine since the plan was made`, { place: { host: step.host, file: step.source ?? step.path }, hint: 'run again to plan with the current file' });
  }
  // One backup per step: a file changed twice in a run (a CA bundle, then the new CA alone) must
  // still roll back to what it was before the run.
  const backup = step.before.exists ? backupPath(ctx.runId, step.path, step.id) : undefined;
  const unit = ctx.unitOf(step);
  const entry: JournalChange = {
    type: 'change',
    stepId: step.id,
    host: step.host,
    path: step.path,
    action: step.before.exists ? 'replaced' : 'created',
    ...(backup ? { backup } : {}),
    ...(step.before.mode !== undefined ? { before: { mode: step.before.mode, owner: step.before.owner ?? '', group: step.before.group ?? '', ...(step.before.sha256 ? { sha256: step.before.sha256 } : {}) } } : {}),
    ...(unit ? { unit } : {}),
  };
  ctx.journal.append(entry);
  try {
    await ctx.transport.writeFileAtomic(step.path, content, {
      mode: step.after.mode,
      owner: step.after.owner,
      group: step.after.group,
      expectSha256: step.before.exists ? (step.before.sha256 ?? null) : null,
      ...(backup ? { backupTo: backup } : {}),
    });
  } catch (err) {
    // Refused before a byte was written: the operator's file stays, and a rollback must not touch it.
    if (err instanceof HostChangedError) ctx.journal.append({ type: 'not-made', stepId: step.id, host: step.host });
    throw err;
  }
  ctx.journal.append({ type: 'done', stepId: step.id, host: step.host });
}

/** Creates or fixes a directory. */
export async function applyDir(step: DirStep, ctx: ApplyContext): Promise<void> {
  const { mode, owner, group } = step.after;
  ctx.journal.append({
    type: 'change',
    stepId: step.id,
    host: step.host,
    path: step.path,
    action: step.before.exists ? 'dir-changed' : 'dir-created',
    ...(step.before.mode !== undefined ? { before: { mode: step.before.mode, owner: step.before.owner ?? '', group: step.before.group ?? '' } } : {}),
  });
  const p = quote(step.path);
  const r = await ctx.transport.run(`set -e; mkdir -p ${p}; chown ${quote(`${owner}:${group}`)} ${p}; chmod ${mode.toString(8).padStart(4, '0')} ${p}`, { sudo: true });
  if (r.code !== 0) throw new RemoteCommandError(`${step.host}: cannot create ${step.path}: ${r.stderr.toString().trim()}`, { place: { host: step.host, file: step.path } });
  ctx.journal.append({ type: 'done', stepId: step.id, host: step.host });
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
