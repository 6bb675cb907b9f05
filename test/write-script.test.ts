/**
 * The write script (src/transport/write-script.ts) and the undo script (src/execute/apply.ts) run
 * by a real `sh` over real files: root refuses to write through a link or in a directory the
 * sensu user can change, and old runs' backups are pruned to the count asked for.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { undoScript } from '../src/execute/apply.js';
import { EXIT_UNTRUSTED } from '../src/transport/trusted-dir.js';
import { writeScript, type WriteItem } from '../src/transport/write-script.js';
import { scratchDir } from './helpers/scratch.js';

const dir = scratchDir('rollout-write-');
const sensu = Number(execFileSync('id', ['-u', 'sensu']).toString().trim());

function run(items: WriteItem[]): { status: number | null; stderr: string } {
  const { script, stdin } = writeScript(items);
  const r = spawnSync('/bin/sh', ['-c', script], { input: stdin });
  return { status: r.status, stderr: r.stderr.toString() };
}

const file = (path: string, text: string, extra: Partial<WriteItem> = {}): WriteItem => ({
  kind: 'file',
  path,
  content: Buffer.from(text),
  mode: 0o640,
  owner: 'root',
  group: 'root',
  ...extra,
});

describe('what root refuses to write', () => {
  it('a link where the file goes: refused, its target untouched', () => {
    const target = join(dir, 'precious');
    writeFileSync(target, 'root only\n');
    symlinkSync(target, join(dir, 'link.yml'));
    const r = run([file(join(dir, 'link.yml'), 'attacker\n')]);
    expect(r.status).toBe(EXIT_UNTRUSTED);
    expect(r.stderr).toContain('is not a regular file');
    expect(readFileSync(target, 'utf8')).toBe('root only\n');
    expect(lstatSync(join(dir, 'link.yml')).isSymbolicLink()).toBe(true);
  });

  it('a directory the sensu user owns, or can write as its group: refused, nothing written', () => {
    const owned = join(dir, 'owned');
    mkdirSync(owned, { mode: 0o750 });
    chownSync(owned, sensu, sensu);
    const r = run([file(join(owned, 'ca.pem'), 'x\n')]);
    expect(r.status).toBe(EXIT_UNTRUSTED);
    expect(r.stderr).toContain(`${owned} is owned by uid ${sensu}, not root`);
    expect(readdirSync(owned)).toEqual([]);
  });

  it('a directory taken back for root by a directory step is then written', () => {
    const tls = join(dir, 'tls');
    mkdirSync(tls, { mode: 0o750 });
    chownSync(tls, sensu, sensu);
    const r = run([{ kind: 'dir', path: tls, mode: 0o750, owner: 'root', group: 'sensu' }, file(join(tls, 'ca.pem'), 'ca\n', { expectSha256: null })]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lstatSync(tls).uid).toBe(0);
    expect(readFileSync(join(tls, 'ca.pem'), 'utf8')).toBe('ca\n');
  });

  it('a restore never follows a link planted at its temp name, nor restores from a link', () => {
    const etc = join(dir, 'etc');
    const backups = join(etc, '.rollout-backups', 'r1');
    mkdirSync(backups, { recursive: true, mode: 0o700 });
    const path = join(etc, 'agent.yml');
    writeFileSync(path, 'new\n');
    writeFileSync(join(backups, 'agent'), 'old\n');
    const target = join(dir, 'precious2');
    writeFileSync(target, 'root only\n');
    // The old fixed temp name, planted: the restore uses a fresh name and ignores it.
    symlinkSync(target, join(etc, '.agent.yml.rollout-restore'));
    const restore = undoScript({ type: 'change', stepId: 's', host: 'h', path, action: 'replaced', backup: join(backups, 'agent') });
    expect(spawnSync('/bin/sh', ['-c', restore]).status).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(readFileSync(target, 'utf8')).toBe('root only\n');
  });
});

describe('backups of old runs', () => {
  it('are pruned to the count asked for when a run first backs up a file, this run always kept', () => {
    const etc = join(dir, 'prune');
    const kb = join(etc, '.rollout-backups');
    mkdirSync(kb, { recursive: true, mode: 0o700 });
    for (let i = 1; i <= 6; i++) mkdirSync(join(kb, `2026010${i}T000000-aaaaaa`), { mode: 0o700 });
    writeFileSync(join(etc, 'backend.yml'), 'old\n');
    const run7 = join(kb, '20260107T000000-bbbbbb');
    const r = run([file(join(etc, 'backend.yml'), 'new\n', { backupTo: join(run7, 'backend.yml'), keepRuns: 3 })]);
    expect(r.stderr).toBe('');
    expect(readdirSync(kb).sort()).toEqual(['20260105T000000-aaaaaa', '20260106T000000-aaaaaa', '20260107T000000-bbbbbb']);
    expect(readFileSync(join(run7, 'backend.yml'), 'utf8')).toBe('old\n');
    expect(existsSync(join(kb, '20260101T000000-aaaaaa'))).toBe(false);
  });
});

describe('a rollback replayed', () => {
  it('finds nothing to do for files of a directory the run made and an earlier undo removed', () => {
    const gone = join(dir, 'gone', 'tls');
    for (const action of ['created', 'replaced'] as const) {
      const script = undoScript({
        type: 'change',
        stepId: 's',
        host: 'h',
        path: join(gone, 'ca.pem'),
        action,
        ...(action === 'replaced' ? { backup: join(dir, 'nowhere', 'ca.pem') } : {}),
      });
      expect(spawnSync('/bin/sh', ['-c', script]).status, action).toBe(0);
    }
  });
});
