/**
 * The layering src/README.md promises, read from the source itself (no lab): one file imports ssh2;
 * the executor and the stages run without listr2 or prompts (they emit events; src/ui/run-view.ts
 * shows them); the planner and the modules are pure (nothing they load, followed through every
 * value import, touches the network, the disk or a process); only the CLI prints or exits.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '..', 'src');

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A file's imports that exist at run time: `import type` and `export type` are erased. */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^;]*?)from\s+'([^']+)'/gms)) {
    if (m[2]) continue;
    // node:net's address parsers are pure functions: named as such, they are not network access.
    const pureNet = m[4] === 'node:net' && /^\{\s*(isIP|isIPv4|isIPv6)(\s*,\s*(isIP|isIPv4|isIPv6))*\s*\}\s*$/.test((m[3] as string).trim());
    found.push(pureNet ? 'node:net (isIP)' : (m[4] as string));
  }
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) found.push(m[1] as string);
  for (const m of text.matchAll(/import\('([^']+)'\)/g)) found.push(m[1] as string);
  return found;
}

const rel = (file: string): string => relative(SRC, file);
const local = (from: string, spec: string): string | undefined => (spec.startsWith('.') ? resolve(dirname(from), spec.replace(/\.js$/, '.ts')) : undefined);

/** Every module a file loads, followed through src's own files. */
function closure(file: string, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(file)) return seen;
  const imports = valueImports(file);
  seen.set(file, imports);
  for (const spec of imports) {
    const next = local(file, spec);
    if (next) closure(next, seen);
  }
  return seen;
}

describe('layers', () => {
  const files = sources();

  it('finds the source (the checks below would pass on nothing)', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(valueImports(join(SRC, 'transport', 'ssh.ts'))).toContain('ssh2');
  });

  it('one file imports ssh2: src/transport/ssh.ts', () => {
    const importers = files.filter((f) => /from 'ssh2'/.test(readFileSync(f, 'utf8')));
    expect(importers.map(rel)).toEqual(['transport/ssh.ts']);
  });

  it('the executor, the stages, the planner and the modules load no listr2, no prompt and no ui', () => {
    const runSide = files.filter((f) => /^(execute|stages|plan|modules)\//.test(rel(f)));
    expect(runSide.length).toBeGreaterThan(20);
    for (const f of runSide) {
      for (const [loaded, imports] of closure(f)) {
        const bad = imports.filter((s) => /^(listr2|@listr2\/|@inquirer\/)/.test(s) || local(loaded, s)?.startsWith(join(SRC, 'ui')));
        expect(bad, `${rel(f)} loads ${rel(loaded)}`).toEqual([]);
      }
    }
  });

  it('the planner and the modules are pure: no network, disk, process or host access anywhere they lead', () => {
    const pure = files.filter((f) => /^(plan|modules)\//.test(rel(f)));
    for (const f of pure) {
      for (const [loaded, imports] of closure(f)) {
        const bad = imports.filter(
          (s) =>
            /^(node:)?(net|tls|http|https|dgram|fs|fs\/promises|child_process|worker_threads)$/.test(s) ||
            s === 'ssh2' ||
            /\/(transport|execute|facts|stages|cli)\//.test(local(loaded, s) ?? ''),
        );
        expect(bad, `${rel(f)} loads ${rel(loaded)}`).toEqual([]);
      }
    }
  });

  it('only the CLI prints or exits', () => {
    const offenders = files
      .filter((f) => !rel(f).startsWith('cli/'))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${rel(f)}:${i + 1}` }))
          .filter(({ line }) => !/^\s*(\*|\/\/)/.test(line) && /process\.exit\(|console\.(log|error|warn)\(|process\.std(out|err)\.write\(/.test(line))
          .map(({ at }) => at),
      );
    expect(offenders).toEqual([]);
  });
});
