/**
 * `rollout rollback` asks like `secure` does: it shows what it will undo (hosts, files, restarts),
 * asks on a terminal (No leaves the fleet as it is), refuses without a terminal unless --yes (exit
 * 2, nothing touched), and with --yes undoes the run: every file byte-identical again. A second
 * rollback finds nothing to do, without asking.
 */
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { fileSnapshot } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { scratchDir } from './helpers/scratch.js';
import { Terminal } from './helpers/terminal.js';

const getLab = useLab({ backends: 1, agents: 2, net: 58 });
const stateDir = scratchDir('rollout-state-58-');
const env = { ROLLOUT_STATE_DIR: stateDir };
const fleet = (): string[] => ['-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];

describe('rollout rollback asks first', () => {
  it('shows what it will undo, asks on a terminal, refuses without one, and undoes with --yes', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const secured = await rollout(['secure', ...fleet(), '--yes'], { env });
    expect(secured.code, secured.stderr).toBe(0);
    const after = await fileSnapshot(lab);
    expect(after).not.toEqual(before);

    // No terminal, no --yes: the undo is shown, nothing is touched.
    const refused = await rollout(['rollback', ...fleet()], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('no terminal to confirm on, and --yes not given');
    expect(refused.stdout).toMatch(/^run \S+ changed \d+ file\(s\) on 3 host\(s\); rolling it back will:$/m);
    expect(refused.stdout).toMatch(/^ {2}backend-1: restore \/etc\/sensu\/backend\.yml; remove .*\/etc\/sensu\/tls\/backend-1\.key.*; restart sensu-backend$/m);
    expect(refused.stdout).toMatch(/^ {2}agent-01: restore \/etc\/sensu\/agent\.yml; remove .*; restart sensu-agent$/m);
    expect(await fileSnapshot(lab)).toEqual(after);

    // A terminal: the same lines, then a question; No changes nothing.
    const t = await Terminal.start(['rollback', ...fleet()], { env });
    try {
      await t.expect('rolling it back will:');
      await t.expect('agent-02: restore /etc/sensu/agent.yml');
      await t.expect(/^\? Roll back run \S+ on 3 host\(s\)\? \(y\/N\)/);
      await t.answer('n');
      expect(await t.exited(60_000)).toBe(0);
      expect(await t.transcript()).toContain('nothing rolled back');
    } finally {
      await t.kill();
    }
    expect(await fileSnapshot(lab)).toEqual(after);

    // --yes, no terminal: rolled back, every file as it was before the run.
    const undone = await rollout(['rollback', '--yes', ...fleet()], { env });
    expect(undone.code, undone.stderr).toBe(0);
    expect(undone.stdout).toContain('rolled back; every host verified healthy');
    expect(await fileSnapshot(lab)).toEqual(before);

    // Nothing left to undo: said at once, no question, no --yes needed.
    const again = await rollout(['rollback', ...fleet()], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('was already rolled back: nothing to do');
  });
});
