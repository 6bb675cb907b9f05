/**
 * Terminal manners (no lab): colour is decided per stream (stderr redirected to a file gets none
 * while stdout is a terminal, and the other way round), FORCE_COLOR wins over NO_COLOR as in Node,
 * and `rollout completion bash|zsh` prints scripts that complete commands, options and paths.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { scratchDir } from './helpers/scratch.js';

const BIN = join(import.meta.dirname, '..', 'src', 'cli', 'rollout.mjs');
const dir = scratchDir('rollout-manners-');
const ESC = '\u001b[';
// An error is the one coloured line every command prints without a fleet.
const failing = ['status', '-i', '/nonexistent/inventory.yml'];

/** Runs rollout under a pseudo-terminal (script(1)) with `redirect` appended to its command line. */
function onTerminal(redirect: string): string {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  const command = [process.execPath, BIN, ...failing].map((w) => `'${w}'`).join(' ');
  const r = spawnSync('script', ['-qec', `${command} ${redirect}`, '/dev/null'], { env, encoding: 'utf8' });
  // -e: script exits as rollout did (2: the inventory is missing).
  expect(r.status).toBe(2);
  return r.stdout;
}

describe('colour', () => {
  it('follows each stream: a redirected stderr is plain while stdout is a terminal, and the other way round', () => {
    const errFile = join(dir, 'stderr.txt');
    onTerminal(`2>${errFile}`);
    expect(readFileSync(errFile, 'utf8')).toContain('error:');
    expect(readFileSync(errFile, 'utf8')).not.toContain(ESC);
    const outFile = join(dir, 'stdout.txt');
    const screen = onTerminal(`>${outFile}`);
    expect(screen).toContain(`${ESC}31merror:`);
  });

  it('FORCE_COLOR wins over NO_COLOR; FORCE_COLOR=0 turns colour off; neither on a pipe: none', async () => {
    expect((await rollout(failing, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } })).stderr).toContain(`${ESC}31merror:`);
    expect((await rollout(failing, { env: { NO_COLOR: '', FORCE_COLOR: '0' } })).stderr).not.toContain(ESC);
    expect((await rollout(failing, { env: { NO_COLOR: '' } })).stderr).not.toContain(ESC);
  });
});

describe('rollout completion', () => {
  it("bash: commands, each command's options, and paths after a path option", async () => {
    const r = await rollout(['completion', 'bash']);
    expect(r.code).toBe(0);
    const script = join(dir, 'rollout.bash');
    writeFileSync(script, r.stdout);
    writeFileSync(join(dir, 'prod.yml'), '');
    const complete = (...line: string[]): string => {
      const words = line.map((w) => `'${w}'`).join(' ');
      const out = spawnSync(
        'bash',
        ['-c', `source '${script}'; COMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _rollout; printf '%s\\n' "\${COMPREPLY[@]}"`],
        { encoding: 'utf8', cwd: dir },
      );
      return out.stdout.trim();
    };
    expect(complete('rollout', 'ro')).toBe('rollback');
    expect(complete('rollout', 'secure', '--ch').split('\n')).toEqual(['--check']);
    expect(complete('rollout', 'check', '--li').split('\n').sort()).toEqual(['--limit', '--list-hosts']);
    expect(complete('rollout', 'status', '-i', 'pro')).toBe('prod.yml');
    // Hidden options are not offered.
    expect(complete('rollout', 'check', '--ext')).toBe('');
  });

  it('zsh through bashcompinit; another shell is bad input', async () => {
    const zsh = await rollout(['completion', 'zsh']);
    expect(zsh.stdout.split('\n')[0]).toBe('#compdef rollout');
    expect(zsh.stdout).toContain('bashcompinit');
    expect(zsh.stdout).toContain('complete -o default -F _rollout rollout');
    const fish = await rollout(['completion', 'fish']);
    expect(fish.code).toBe(2);
    expect(fish.stderr).toContain('no completion for "fish": bash or zsh');
  });
});
