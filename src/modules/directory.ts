/**
 * `directory`: a directory exists with this owner, group and mode (/etc/sensu/tls). Its files may
 * then be replaced unread when another user owned it (see copy).
 */
import { z } from 'zod';
import type { TaskContext } from '../plan/plan.js';
import type { DirStep } from '../plan/types.js';
import { unsafeFile } from '../plan/unsafe-files.js';
import { modeArg, modeText, type PlaybookModule, stepBase } from './module.js';

export const directory: PlaybookModule = {
  args: z.object({ path: z.string().startsWith('/'), mode: modeArg(), owner: z.string(), group: z.string() }).strict(),
  plan: (ctx) => [planDirectory(ctx)],
};

function planDirectory(ctx: TaskContext): DirStep {
  const { path, mode, owner, group } = ctx.args as { path: string; mode: string; owner: string; group: string };
  const fact = ctx.facts.files[path] ?? { path, exists: false };
  const after = { mode: parseInt(mode, 8), owner, group };
  const unsafe = unsafeFile(path, fact, { untrustedDirs: ctx.facts.untrustedDirs ?? [] });
  if (unsafe) ctx.problem(unsafe.message, unsafe.fix);
  const base = { ...stepBase(ctx), kind: 'dir' as const, path, after };
  const before = { exists: fact.exists, ...(fact.mode !== undefined ? { mode: fact.mode, owner: fact.owner ?? '', group: fact.group ?? '' } : {}) };
  if (!fact.exists) return { ...base, before, status: 'change', reason: `create ${path} ${mode} ${owner}:${group}` };
  if (fact.kind !== 'dir') {
    ctx.problem(`${path} exists and is not a directory`, 'move the file away; rollout keeps certificates in that directory');
    return { ...base, before, status: 'noop', reason: 'not a directory' };
  }
  const same = fact.mode === after.mode && fact.owner === owner && fact.group === group;
  return same
    ? { ...base, before, status: 'noop', reason: `${path} already ${mode} ${owner}:${group}` }
    : { ...base, before, status: 'change', reason: `${path} ${modeText(fact.mode)} ${fact.owner ?? '?'}:${fact.group ?? '?'} → ${mode} ${owner}:${group}` };
}
