/**
 * The journal on disk: what `rollout rollback` reads after a crash. Group commit must lose no line
 * and keep each caller's lines in its order; `not-made` takes a change out of what a rollback undoes.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changesOf, Journal, readJournal, type JournalChange } from '../src/execute/journal.js';
import { scratchDir } from './helpers/scratch.js';

const dir = scratchDir('rollout-journal-');

const change = (host: string, stepId: string): JournalChange => ({ type: 'change', stepId, host, path: `/etc/sensu/${stepId}`, action: 'created' });

describe('journal', () => {
  it('200 hosts recording at once: every line on disk once, each host in its own order', async () => {
    const journal = new Journal(dir, 'group-commit');
    const hosts = Array.from({ length: 200 }, (_, i) => `agent-${i}`);
    await Promise.all(
      hosts.map(async (host) => {
        await journal.record([change(host, 'dir'), change(host, 'ca')]);
        journal.note({ type: 'done', stepId: 'dir', host });
        await journal.record([{ type: 'not-made', stepId: 'ca', host }]);
      }),
    );
    journal.close();
    const entries = readJournal(journal.file);
    expect(entries).toHaveLength(800);
    for (const host of hosts) {
      expect(entries.filter((e) => 'host' in e && e.host === host).map((e) => `${e.type}:${'stepId' in e ? e.stepId : ''}`)).toEqual([
        'change:dir',
        'change:ca',
        'done:dir',
        'not-made:ca',
      ]);
    }
    // What a rollback would undo: the directories, not the refused CA files.
    expect(changesOf(entries).map((c) => c.stepId)).toEqual(hosts.map(() => 'dir'));
    expect(journal.changes.map((c) => c.stepId)).toEqual(hosts.map(() => 'dir'));
  });

  it('a line noted without waiting is on disk once the journal is closed', () => {
    const journal = new Journal(dir, 'note');
    journal.append(change('backend-1', 'cert'));
    journal.note({ type: 'done', stepId: 'cert', host: 'backend-1' });
    journal.close();
    expect(
      readFileSync(journal.file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type: string }).type),
    ).toEqual(['change', 'done']);
  });
});

describe('a journal rollback can trust', () => {
  const lines = (entries: object[]): string => entries.map((e) => `${JSON.stringify(e)}\n`).join('');
  const good = [
    { type: 'start', runId: 'r1', at: '2026-01-01T00:00:00Z' },
    {
      type: 'change',
      stepId: 's1',
      host: 'agent-01',
      path: '/etc/sensu/agent.yml',
      action: 'replaced',
      backup: '/etc/sensu/.rollout-backups/r1/s1--x',
      before: { mode: 0o640, owner: 'root', group: 'sensu' },
    },
    { type: 'done', stepId: 's1', host: 'agent-01' },
  ];
  const write = (name: string, text: string, mode = 0o600): string => {
    const file = join(dir, name);
    writeFileSync(file, text, { mode });
    chmodSync(file, mode);
    return file;
  };

  it('reads a whole journal, and one whose last line was torn by a crash', () => {
    expect(readJournal(write('run-ok.jsonl', lines(good)), 'r1')).toHaveLength(3);
    expect(readJournal(write('run-torn.jsonl', `${lines(good)}{"type":"change","st`), 'r1')).toHaveLength(3);
  });

  it('refuses a damaged line anywhere else, naming it, rather than replaying half a run', () => {
    const text = lines(good).split('\n');
    text[1] = text[1]?.slice(0, 30) ?? '';
    expect(() => readJournal(write('run-mid.jsonl', text.join('\n')), 'r1')).toThrow(/damaged at line 2: not JSON/);
  });

  it.each([
    ['a mode that is not a number', { mode: '0644; rm -rf /', owner: 'root', group: 'sensu' }, {}, /line 2: before\.mode/],
    ['an owner that is a command', { mode: 0o640, owner: 'root;id', group: 'sensu' }, {}, /line 2: before\.owner/],
    ['a relative path', undefined, { path: '../../etc/passwd', action: 'created' }, /line 2: path/],
    ['a path with ..', undefined, { path: '/etc/sensu/../passwd', action: 'created' }, /line 2: path: no \.\. in paths/],
    ['a backup outside the backups', undefined, { backup: '/etc/shadow' }, /line 2: backup/],
    ['a backup of another run', undefined, { backup: '/etc/sensu/.rollout-backups/other/s1--x' }, /line 2: a backup outside this run's directory/],
    ['an unknown key', undefined, { command: 'id' }, /line 2: entry/],
  ])('refuses %s', (_what, before, extra, message) => {
    const bad = { ...good[1], ...(before ? { before } : {}), ...extra };
    expect(() => readJournal(write('run-bad.jsonl', lines([good[0] ?? {}, bad, good[2] ?? {}])), 'r1')).toThrow(message);
  });

  it('refuses a journal or a state directory another user could have written', () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    expect(() => new Journal(shared, 'x')).toThrow(/state directory .* can be written by others \(mode 0777\)/);
    const file = write('run-world.jsonl', lines(good), 0o666);
    expect(() => readJournal(file, 'r1')).toThrow(/can be written by others/);
    const sensu = Number(execFileSync('id', ['-u', 'sensu']).toString().trim());
    const theirs = write('run-theirs.jsonl', lines(good));
    chownSync(theirs, sensu, sensu);
    expect(() => readJournal(theirs, 'r1')).toThrow(`belongs to uid ${sensu}`);
  });

  it('appends after a torn line on a line of its own, and the whole journal reads', () => {
    const sub = join(dir, 'append');
    mkdirSync(sub, { mode: 0o700 });
    writeFileSync(join(sub, 'run-r1.jsonl'), `${lines(good)}{"type":"cha`, { mode: 0o600 });
    const journal = new Journal(sub, 'r1');
    journal.append({ type: 'rolled-back', runId: 'r1', at: '2026-01-01T00:01:00Z' });
    journal.close();
    expect(readJournal(journal.file, 'r1').map((e) => e.type)).toEqual(['start', 'change', 'done', 'rolled-back']);
  });
});
