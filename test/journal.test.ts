/**
 * The journal on disk: what `rollout rollback` reads after a crash. Group commit must lose no line
 * and keep each caller's lines in its order; `not-made` takes a change out of what a rollback undoes.
 */
import { readFileSync } from 'node:fs';
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
      expect(entries.filter((e) => 'host' in e && e.host === host).map((e) => `${e.type}:${'stepId' in e ? e.stepId : ''}`)).toEqual(['change:dir', 'change:ca', 'done:dir', 'not-made:ca']);
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
    expect(readFileSync(journal.file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(['change', 'done']);
  });
});
