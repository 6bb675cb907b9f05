/**
 * `--json` prints exactly one JSON document per invocation, valid against the command's schema
 * in src/cli/schemas/ (generated from the zod types, and checked here to be current): dry run with
 * --stats, a real run (plan and result together), check with an unreachable host (booleans and
 * nulls), status, rollback, certs, and errors, which are JSON on stdout with the exit code unchanged.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { schemaFiles } from '../src/cli/json-schema-files.js';
import { rollout, type CliResult } from './helpers/cli.js';
import { useLab } from './helpers/lab-fixture.js';
import { scratchDir } from './helpers/scratch.js';

const ROOT = join(import.meta.dirname, '..');
const getLab = useLab({ backends: 1, agents: 2, net: 59 });
const stateDir = scratchDir('rollout-state-59-');
const certsOut = scratchDir('rollout-certs-59-');
const env = { ROLLOUT_STATE_DIR: stateDir };
const fleet = (): string[] => ['-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];
const ajv = new Ajv2020({ allErrors: true, strict: true });

/** The lab's inventory plus agent-ghost, a host nobody answers for (127.59.9.9 has no sshd). */
function ghostInventory(): string {
  const lab = getLab();
  const file = join(lab.dir, 'with-ghost.yml');
  writeFileSync(file, readFileSync(lab.inventoryPath, 'utf8').replace(/^(\s+)agent-01:\n/m, '$1agent-ghost:\n$1  ansible_host: 127.59.9.9\n$1agent-01:\n'));
  return file;
}

/** The one document on stdout, validated against src/cli/schemas/<command>.schema.json. */
function documentOf(command: string, r: CliResult): Record<string, unknown> {
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  const schema = JSON.parse(readFileSync(join(ROOT, 'src', 'cli', 'schemas', `${command}.schema.json`), 'utf8')) as object;
  const validate = ajv.compile(schema);
  expect(validate(doc), JSON.stringify(validate.errors, null, 2)).toBe(true);
  return doc;
}

describe('the shipped schemas', () => {
  it('are what the zod types generate (npm run schemas)', () => {
    for (const [name, text] of Object.entries(schemaFiles())) expect(readFileSync(join(ROOT, 'src', 'cli', 'schemas', name), 'utf8'), name).toBe(text);
  });
});

describe('--json on the lab', () => {
  it('check: booleans and nulls, an unreachable host included', async () => {
    const lab = getLab();
    const r = await rollout(['check', '-i', ghostInventory(), '--known-hosts', lab.knownHostsPath, '--connect-timeout', '3', '--json']);
    expect(r.code).toBe(2);
    const doc = documentOf('check', r) as {
      ok: boolean;
      hosts: { host: string; connected: boolean; sudo: boolean | null; service: string | null; ready: boolean; error: string | null }[];
    };
    expect(doc.ok).toBe(false);
    expect(doc.hosts.find((h) => h.host === 'agent-ghost')).toMatchObject({ connected: false, sudo: null, service: null, ready: false });
    expect(doc.hosts.find((h) => h.host === 'agent-01')).toMatchObject({ connected: true, sudo: true, service: 'active', ready: true, error: null });
  });

  it('secure --check --stats: plan and stats in one document', async () => {
    const r = await rollout(['secure', ...fleet(), '--check', '--json', '--stats'], { env });
    expect(r.code).toBe(5);
    const doc = documentOf('secure', r) as { plan: { changes: number }; stats: { commands: number } };
    expect(doc.plan.changes).toBeGreaterThan(0);
    expect(doc.stats.commands).toBeGreaterThan(0);
  });

  it('a real run: plan and result in one document; without --yes it refuses in JSON', async () => {
    const refused = await rollout(['secure', ...fleet(), '--json'], { env });
    expect(refused.code).toBe(2);
    expect(documentOf('secure', refused).error).toMatchObject({ exitCode: 2, message: expect.stringContaining('--yes not given') as unknown });
    const r = await rollout(['secure', ...fleet(), '--yes', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = documentOf('secure', r) as { plan: { changes: number }; result: { outcome: string } };
    expect(doc.plan.changes).toBeGreaterThan(0);
    expect(doc.result.outcome).toBe('ok');
  });

  it('status; a host not reached is exit 6 (state unknown), not 5 (not secured), and named', async () => {
    const r = await rollout(['status', ...fleet(), '--json'], { env });
    expect(r.code).toBe(0);
    expect(documentOf('status', r)).toMatchObject({ secured: true, unreachable: [] });
    const lab = getLab();
    const ghost = await rollout(['status', '-i', ghostInventory(), '--known-hosts', lab.knownHostsPath, '--connect-timeout', '3', '--json'], { env });
    expect(ghost.code).toBe(6);
    expect(ghost.stderr).toContain('not reached, state unknown: agent-ghost');
    expect(documentOf('status', ghost)).toMatchObject({ secured: false, unreachable: ['agent-ghost'] });
  });

  it('rollback: what it undoes and how each host came out; then nothing to do', async () => {
    const r = await rollout(['rollback', ...fleet(), '--yes', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = documentOf('rollback', r) as { rolledBack: boolean; undo: { host: string }[]; hosts: { ok: boolean }[] };
    expect(doc.rolledBack).toBe(true);
    expect(doc.undo.map((u) => u.host).sort()).toEqual(['agent-01', 'agent-02', 'backend-1']);
    expect(doc.hosts.every((h) => h.ok)).toBe(true);
    const again = await rollout(['rollback', ...fleet(), '--json'], { env });
    expect(again.code).toBe(0);
    expect(documentOf('rollback', again)).toMatchObject({ rolledBack: false, message: expect.stringContaining('already rolled back') as unknown });
  });

  it('certs', async () => {
    const r = await rollout(['certs', '-i', getLab().inventoryPath, '--out', certsOut, '--json']);
    expect(r.code).toBe(0);
    expect(documentOf('certs', r).hosts).toHaveLength(1);
  });

  it('errors: bad input and bad usage are JSON on stdout, exit code unchanged', async () => {
    const missing = await rollout(['status', '-i', '/nonexistent/inventory.yml', '--json']);
    expect(missing.code).toBe(2);
    expect(documentOf('status', missing).error).toMatchObject({ exitCode: 2 });
    const usage = await rollout(['check', '--json']);
    expect(usage.code).toBe(2);
    expect(documentOf('check', usage).error).toMatchObject({ exitCode: 2, message: expect.stringContaining('--inventory') as unknown });
    // "--json" as the value of --limit is a pattern, not the option: no JSON document.
    const limit = await rollout(['check', ...fleet(), '--limit', '--json']);
    expect(limit.code).toBe(2);
    expect(limit.stdout).toBe('');
    expect(limit.stderr).toContain('"--json" matches no host');
  });
});
