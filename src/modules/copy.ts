/**
 * `copy`: a file from the controller (certificate, key, CA) onto the host with this owner, group
 * and mode. A CA file may keep what the host trusted besides the new CA (a rotation).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { caBundle, certCount } from '../certs/ca-bundle.js';
import type { TaskContext } from '../plan/plan.js';
import type { FileStep } from '../plan/types.js';
import { unsafeFile } from '../plan/unsafe-files.js';
import { modeArg, modeText, type PlaybookModule, stepBase } from './module.js';
import { readByUnit } from './reads.js';

export const copy: PlaybookModule = {
  args: z
    .object({
      src: z.string(),
      dest: z.string(),
      mode: modeArg(),
      owner: z.string(),
      group: z.string(),
      secret: z.boolean().default(false),
      /**
       * For a CA file: keep trusting the certificates the host's copy holds besides `src` (a CA
       * bundle, old CA after the new one), so a CA rotation never leaves a host distrusting the
       * certificates peers still present.
       */
      keep_existing_certs: z.boolean().default(false),
    })
    .strict(),
  plan: (ctx) => {
    const step = planCopy(ctx);
    return step ? [step] : [];
  },
};

function planCopy(ctx: TaskContext): FileStep | undefined {
  const {
    src,
    dest,
    mode,
    owner,
    group,
    secret,
    keep_existing_certs: keep,
  } = ctx.args as { src: string; dest: string; mode: string; owner: string; group: string; secret: boolean; keep_existing_certs: boolean };
  const local = ctx.local.get(src);
  if (!local?.exists || !local.sha256) {
    ctx.problem(`cannot read ${src} on this machine`, 'check the sensu_* file vars in the inventory (paths are relative to the inventory file)');
    return undefined;
  }
  const fact = ctx.facts.files[dest] ?? { path: dest, exists: false };
  // A file in a directory this run takes back from another user is replaced unread (reading it
  // could follow a link that user planted); anything else root cannot act on safely stops the run.
  const managed = ctx.managedDirs.some((d) => dest.startsWith(`${d}/`));
  const unsafe = unsafeFile(dest, fact, { untrustedOk: managed, untrustedDirs: ctx.facts.untrustedDirs ?? [] });
  if (unsafe) {
    ctx.problem(unsafe.message, unsafe.fix);
    return undefined;
  }
  if (fact.untrusted && keep && readByUnit(ctx, dest)) {
    ctx.problem(
      `${dest} is in use and lies in a directory the sensu user could write, so its certificates cannot be read and kept`,
      `make ${dest.slice(0, dest.lastIndexOf('/'))} root's (chown root:sensu; chmod 0750) and run again`,
    );
    return undefined;
  }
  // A CA file keeps what the host trusts besides the new CA: see playbooks/secure.yml.
  const bundled = keep && local.text !== undefined ? caBundle(local.text, fact.text) : undefined;
  const bundle = bundled !== undefined && bundled !== local.text ? bundled : undefined;
  const text = bundle ?? local.text;
  const sha256 = bundle !== undefined ? createHash('sha256').update(bundle).digest('hex') : local.sha256;
  const after = { exists: true, mode: parseInt(mode, 8), owner, group, sha256, ...(text !== undefined && !secret ? { text } : {}) };
  const before = {
    exists: fact.exists,
    ...(fact.untrusted ? { unread: true } : {}),
    ...(fact.sha256 ? { sha256: fact.sha256 } : {}),
    ...(fact.mode !== undefined ? { mode: fact.mode, owner: fact.owner ?? '', group: fact.group ?? '' } : {}),
    ...(fact.text !== undefined && !secret ? { text: fact.text } : {}),
  };
  const base = {
    ...stepBase(ctx),
    kind: 'file' as const,
    path: dest,
    before,
    after,
    source: src,
    secret: secret || local.secret,
    ...(local.cert ? { cert: local.cert } : {}),
  };
  if (!fact.exists) return { ...base, status: 'change', reason: `upload ${dest}` };
  if (fact.untrusted) return { ...base, status: 'change', reason: `replace ${dest} unread (its directory was not root's)` };
  const kept = bundle !== undefined ? `, still trusting ${certCount(bundle) - certCount(local.text ?? '')} certificate(s) of the old file` : '';
  if (fact.sha256 !== sha256) return { ...base, status: 'change', reason: `replace ${dest} (content differs${kept})` };
  if (fact.mode !== after.mode || fact.owner !== owner || fact.group !== group) {
    return { ...base, status: 'change', reason: `${dest} ${modeText(fact.mode)} ${fact.owner ?? '?'}:${fact.group ?? '?'} → ${mode} ${owner}:${group}` };
  }
  return { ...base, status: 'noop', reason: `${dest} up to date` };
}
