/**
 * `--help` as people and tools read it (no lab): paragraphs are not broken inside sentences (the
 * terminal, or $COLUMNS when piped, decides the width), every fleet command says why there is no
 * -e/--extra-vars, and giving one says the same instead of "unknown option".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { rollout } from './helpers/cli.js';

const COMMANDS = [[], ['check'], ['secure'], ['status'], ['certs'], ['rollback']];

/** Pairs of consecutive prose lines where the first stops mid-sentence and the second goes on. */
function brokenSentences(help: string): string[] {
  const lines = help.split('\n');
  const broken: string[] = [];
  lines.forEach((line, i) => {
    const next = lines[i + 1] ?? '';
    const prose = (l: string): boolean => l !== '' && !/^\s/.test(l) && !l.startsWith('Usage:');
    if (prose(line) && prose(next) && !/[.:)]$/.test(line) && /^[a-z(]/.test(next)) broken.push(`${line} ⏎ ${next}`);
  });
  return broken;
}

describe('--help', () => {
  it('breaks no sentence across lines when the width allows', async () => {
    for (const args of COMMANDS) {
      const r = await rollout([...args, '--help'], { env: { COLUMNS: '1000' } });
      expect(r.code).toBe(0);
      expect(brokenSentences(r.stdout), args.join(' ')).toEqual([]);
      // At 1000 columns, commander itself breaks no description either.
      expect(
        r.stdout.split('\n').filter((l) => /^\s{20,}\S/.test(l)),
        args.join(' '),
      ).toEqual([]);
    }
  });

  it('lists every exit code rollout can return, as the README does', async () => {
    const help = (await rollout(['--help'], { env: { COLUMNS: '200' } })).stdout;
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const code of [...Object.values(ExitCode), 130]) {
      expect(help, `exit ${code}`).toMatch(new RegExp(`^  ${code} +\\S`, 'm'));
      expect(readme, `exit ${code}`).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
    }
  });

  it('says why there is no -e/--extra-vars, in --help and when one is given', async () => {
    for (const command of ['check', 'secure', 'status', 'rollback']) {
      const help = await rollout([command, '--help']);
      expect(help.stdout, command).toContain('-e/--extra-vars is not offered: rollout runs one fixed playbook');
    }
    const r = await rollout(['secure', '-i', 'prod.yml', '-e', 'sensu_ca_file=x.pem', '--check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('every input is an inventory variable');
    expect(r.stderr).not.toContain('unknown option');
  });
});
