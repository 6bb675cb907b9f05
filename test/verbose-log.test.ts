/**
 * `-v`…`-vvv` and `--log FILE` on the lab: -v names each connection, -vv adds every command per
 * host with its exit code and time (a failed one with its error), -vvv adds the remote stderr; the log holds every event as a
 * JSON line with a timestamp whatever the verbosity, and no secret reaches stderr or the log.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Trace } from '../src/cli/trace.js';
import { rollout } from './helpers/cli.js';
import { useLab } from './helpers/lab-fixture.js';

const getLab = useLab({ backends: 1, agents: 2, net: 60, sudoPasswordHosts: ['agent-02'] });
const fleet = (): string[] => ['-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];

describe('verbosity', () => {
  it('-v connections, -vv commands with exit code and time, -vvv remote stderr', async () => {
    const lab = getLab();
    const v = await rollout(['check', ...fleet(), '-v']);
    expect(v.code).toBe(0);
    expect(v.stderr).toMatch(/^backend-1: connected to labops@127\.60\.0\.1:22 in \d+ ms$/m);
    expect(v.stderr).not.toContain('$ ');
    const vv = await rollout(['check', ...fleet(), '-vv']);
    expect(vv.stderr).toMatch(/^agent-01: sudo \$ echo "user=\$\(id -un\)".* → exit 0 in \d+ ms$/m);
    // A command that fails on the host: named with its error at -vv.
    const file = join(lab.dir, 'no-password.yml');
    writeFileSync(file, readFileSync(lab.inventoryPath, 'utf8').replace(/\n\s+ansible_become_password: .*/, ''));
    const failed = await rollout(['check', '-i', file, '--known-hosts', lab.knownHostsPath, '--limit', 'agent-02', '-vv']);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/^agent-02: sudo \$ .* → error: agent-02: sudo asks for a password in \d+ ms$/m);
  });
});

describe('-vvv', () => {
  it("prints a command's remote stderr line by line, from -vvv on, secrets swept out", () => {
    const printed = (verbosity: number): string[] => {
      const lines: string[] = [];
      const trace = new Trace((l) => lines.push(l));
      trace.start({ verbosity, argv: [], version: '0' });
      trace.redactSecrets(['hunter2']);
      trace.transport({
        type: 'command',
        host: 'agent-01',
        command: 'ls /nope',
        sudo: true,
        code: 2,
        ms: 5,
        stderr: 'ls: cannot access /nope\npassword hunter2 leaked\n',
      });
      return lines;
    };
    expect(printed(2)).toEqual(['agent-01: sudo $ ls /nope → exit 2 in 5 ms']);
    expect(printed(3)).toEqual([
      'agent-01: sudo $ ls /nope → exit 2 in 5 ms',
      'agent-01:   stderr: ls: cannot access /nope',
      'agent-01:   stderr: password [redacted] leaked',
    ]);
  });
});

describe('--log', () => {
  it('every event as a timestamped JSON line, whatever -v says, secrets redacted', async () => {
    const lab = getLab();
    const log = join(lab.dir, 'run.log');
    const r = await rollout(['secure', ...fleet(), '--check', '--diff', '--log', log]);
    expect(r.code).toBe(5);
    expect(r.stderr).not.toMatch(/connected to labops@/);
    const events = readFileSync(log, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { at: string; type: string; host?: string; code?: number });
    for (const e of events) expect(Date.parse(e.at)).not.toBeNaN();
    const types = new Set(events.map((e) => e.type));
    for (const t of ['start', 'inventory', 'connect', 'command', 'output', 'close', 'exit', 'end']) expect(types, t).toContain(t);
    expect(
      events
        .filter((e) => e.type === 'connect')
        .map((e) => e.host)
        .sort(),
    ).toEqual(['agent-01', 'agent-02', 'backend-1']);
    expect(events.find((e) => e.type === 'exit')?.code).toBe(5);
    const text = readFileSync(log, 'utf8');
    expect(text).toContain('+api-url: \\"https://');
    expect(lab.state.becomePassword).toBeTruthy();
    expect(text).not.toContain(lab.state.becomePassword);
    expect(text).not.toContain(lab.state.admin?.password ?? 'lab-admin-password');
    expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  });
});
