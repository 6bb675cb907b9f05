/**
 * The facts script (src/facts/script.ts) run by a real `sh` over real files: every kind of path
 * comes back right, odd names survive, a private key's content never leaves the host, and output
 * that does not add up is refused rather than misread.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { factsScript, firstInvalidUtf8, MAX_READ_BYTES, parseFacts, type PathRequest } from '../src/facts/script.js';
import { scratchDir } from './helpers/scratch.js';

const dir = scratchDir('rollout-facts-');
const tls = join(dir, 'tls');
mkdirSync(tls, { mode: 0o750 });
chmodSync(tls, 0o750);
const files: Record<string, string> = {
  'agent.yml': '# the operator\'s comment\nbackend-url:\n  - "ws://127.0.0.1:8081"\n',
  'tls/ca.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  // Made here, never committed.
  'tls/agent.key': generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  'tls/odd name\nwith newline.pem': 'odd\n',
  empty: '',
  'ünïcode.yml': 'name: "ü"\n',
};
for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
chmodSync(join(dir, 'tls/agent.key'), 0o400);
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

// The output's bytes as a string (latin1: one character a byte, so edits keep every other byte).
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

function gather(paths: PathRequest[], dirs: string[]): { output: string; facts: ReturnType<typeof parseFacts> } {
  const raw = execFileSync('sh', ['-c', factsScript(paths, dirs, 'no-such-unit')]);
  return { output: raw.toString('latin1'), facts: parseFacts('h', 'no-such-unit', raw) };
}

describe('the facts script', () => {
  const paths: PathRequest[] = [
    { path: join(dir, 'agent.yml'), want: 'content' },
    { path: join(dir, 'missing.yml'), want: 'content' },
    { path: tls, want: 'meta' },
    { path: join(dir, 'tls/agent.key'), want: 'content' },
    { path: join(dir, 'empty'), want: 'content' },
    { path: join(dir, 'ünïcode.yml'), want: 'meta' },
  ];
  const { output, facts } = gather(paths, [tls, join(dir, 'not-a-dir')]);

  it('reports files, directories and missing paths with mode, owner, size and hash', () => {
    const yml = facts.files[join(dir, 'agent.yml')];
    expect(yml).toMatchObject({
      exists: true,
      kind: 'file',
      owner: 'root',
      size: files['agent.yml']?.length,
      sha256: sha(files['agent.yml'] ?? ''),
      text: files['agent.yml'],
    });
    expect(facts.files[join(dir, 'missing.yml')]).toEqual({ path: join(dir, 'missing.yml'), exists: false });
    expect(facts.files[tls]).toMatchObject({ exists: true, kind: 'dir', mode: 0o750 });
    expect(facts.files[join(dir, 'empty')]).toMatchObject({ kind: 'file', size: 0, text: '' });
    // Asked for metadata only: hashed, not read.
    expect(facts.files[join(dir, 'ünïcode.yml')]).toMatchObject({ sha256: sha(files['ünïcode.yml'] ?? '') });
    expect(facts.files[join(dir, 'ünïcode.yml')]?.text).toBeUndefined();
    expect(facts.hostname).toBe(execFileSync('hostname').toString().trim());
    expect(facts.service.exists).toBe(false);
  });

  it('lists a managed directory, odd names included', () => {
    expect(facts.files[join(dir, 'tls/ca.pem')]?.text).toBe(files['tls/ca.pem']);
    expect(facts.files[join(dir, 'tls/odd name\nwith newline.pem')]).toMatchObject({ text: 'odd\n', sha256: sha('odd\n') });
  });

  it('never brings a private key back: only its hash, marked secret', () => {
    const key = facts.files[join(dir, 'tls/agent.key')];
    expect(key).toMatchObject({ secret: true, sha256: sha(files['tls/agent.key'] ?? ''), mode: 0o400 });
    expect(key?.text).toBeUndefined();
    const body = (files['tls/agent.key'] ?? '').split('\n')[1] ?? '';
    expect(body.length).toBeGreaterThan(20);
    expect(output).not.toContain(body);
    expect(output).not.toContain(
      Buffer.from(files['tls/agent.key'] ?? '')
        .toString('base64')
        .slice(0, 40),
    );
  });

  it('stops, rather than misread, when stat answers for fewer paths than it was given (one vanished)', () => {
    const shy = join(dir, 'shy-bin');
    mkdirSync(shy);
    // A stat whose last line is lost: what a path removed between the shell's look and stat's gives.
    writeFileSync(join(shy, 'stat'), '#!/bin/sh\n/usr/bin/stat "$@" | /usr/bin/head -n -1\n', { mode: 0o755 });
    let err: (Error & { status?: number; stderr?: Buffer }) | undefined;
    try {
      execFileSync('/bin/sh', ['-c', factsScript(paths, [], 'no-such-unit')], { env: { PATH: `${shy}:/usr/bin:/bin` }, stdio: 'pipe' });
    } catch (e) {
      err = e as Error & { status?: number; stderr?: Buffer };
    }
    expect(err?.status).toBe(3);
    expect(err?.stderr?.toString()).toContain('files changed while they were read: run again');
  });

  it('refuses output that was cut short or does not add up', () => {
    expect(() => parseFacts('h', 'u', bytes(output.replace(/END\n$/, '')))).toThrow('cut short');
    expect(() => parseFacts('h', 'u', bytes(output.slice(0, output.indexOf('\nB\n') + 10)))).toThrow('cut short');
    expect(() => parseFacts('h', 'u', bytes(output.replace(/^U$/m, 'U\n0000')))).toThrow('do not add up');
    // A file that changed between its hash and its read: its piece no longer matches the hash.
    const sum = sha(files['agent.yml'] ?? '');
    expect(() => parseFacts('h', 'u', bytes(output.replace(sum, sha('something else'))))).toThrow('changed while it was read');
    // More bytes than the files' sizes: a file grew after it was stat'ed.
    expect(() => parseFacts('h', 'u', bytes(output.replace(/\nEND\n$/, 'more\nEND\n')))).toThrow('changed while it was read');
  });
});

describe('what root does not read', () => {
  const sensu = Number(execFileSync('id', ['-u', 'sensu']).toString().trim());
  const hostile = join(dir, 'hostile');
  mkdirSync(join(hostile, 'sensu-owned'), { recursive: true });
  chmodSync(hostile, 0o755);
  writeFileSync(join(hostile, 'sensu-owned', 'ca.pem'), 'planted\n');
  chownSync(join(hostile, 'sensu-owned'), sensu, sensu);
  mkdirSync(join(hostile, 'group-writable'), { mode: 0o775 });
  chmodSync(join(hostile, 'group-writable'), 0o775);
  chownSync(join(hostile, 'group-writable'), 0, sensu);
  writeFileSync(join(hostile, 'group-writable', 'agent.yml'), 'name: x\n');
  writeFileSync(join(hostile, 'secret'), 'root:$6$hash:19000:0:99999:7:::\n', { mode: 0o600 });
  symlinkSync(join(hostile, 'secret'), join(hostile, 'linked.yml'));
  symlinkSync(join(hostile, 'secret'), join(hostile, 'sensu-owned', 'link.pem'));
  writeFileSync(join(hostile, 'latin1.yml'), Buffer.concat([Buffer.from('name: "caf'), Buffer.from([0xe9]), Buffer.from('"\n')]));
  writeFileSync(join(hostile, 'big.pem'), Buffer.alloc(MAX_READ_BYTES + 1, 0x41));
  const { output, facts } = gather(
    ['sensu-owned/ca.pem', 'sensu-owned/missing.pem', 'group-writable/agent.yml', 'linked.yml', 'latin1.yml', 'big.pem'].map((f) => ({
      path: join(hostile, f),
      want: 'content' as const,
    })),
    [join(hostile, 'sensu-owned')],
  );

  it('reads nothing in a directory another user owns or can write, and does not list it', () => {
    expect(facts.files[join(hostile, 'sensu-owned/ca.pem')]).toEqual({ path: join(hostile, 'sensu-owned/ca.pem'), exists: true, untrusted: true });
    expect(facts.files[join(hostile, 'sensu-owned/missing.pem')]).toEqual({ path: join(hostile, 'sensu-owned/missing.pem'), exists: false });
    expect(facts.files[join(hostile, 'group-writable/agent.yml')]).toMatchObject({ exists: true, untrusted: true });
    expect(facts.files[join(hostile, 'sensu-owned/link.pem')]).toBeUndefined();
    expect(output).not.toContain('planted');
  });

  it('never follows a link: its target is not read', () => {
    expect(facts.files[join(hostile, 'linked.yml')]).toEqual({ path: join(hostile, 'linked.yml'), exists: true, kind: 'link' });
    expect(output).not.toContain('$6$hash');
  });

  it('keeps no text of a file that is not UTF-8, and says where the first bad byte is', () => {
    expect(facts.files[join(hostile, 'latin1.yml')]).toMatchObject({ kind: 'file', notUtf8At: 10 });
    expect(facts.files[join(hostile, 'latin1.yml')]?.text).toBeUndefined();
    expect(firstInvalidUtf8(Buffer.from('ok ü'))).toBeUndefined();
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82]))).toBe(1);
  });

  it('neither hashes, searches nor brings back a file larger than any certificate', () => {
    expect(facts.files[join(hostile, 'big.pem')]).toMatchObject({ kind: 'file', size: MAX_READ_BYTES + 1, tooLarge: true });
    // Not hashed: the parser takes exactly one hash line per file within the limit, so a hash of it would not add up.
    expect(facts.files[join(hostile, 'big.pem')]?.sha256).toBeUndefined();
    expect(facts.files[join(hostile, 'latin1.yml')]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(facts.files[join(hostile, 'big.pem')]?.text).toBeUndefined();
    expect(output.length).toBeLessThan(MAX_READ_BYTES);
  });
});

describe('what the facts script costs a host', () => {
  // Every program started is a fork and an exec on the host (milliseconds of CPU each on a small
  // VM, times every host): the script starts a fixed handful, however many files it reads. Each
  // program it may use is a wrapper on PATH that logs its name, so a new one fails the run here.
  const bin = join(dir, 'bin');
  const log = join(dir, 'programs.log');
  mkdirSync(bin);
  for (const name of ['stat', 'sha256sum', 'grep', 'cat', 'base64', 'systemctl', 'hostname']) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho ${name} >> '${log}'\nexec /usr/bin/${name} "$@"\n`, { mode: 0o755 });
  }
  const programs = (paths: PathRequest[], dirs: string[]): string[] => {
    writeFileSync(log, '');
    const output = execFileSync('/bin/sh', ['-c', factsScript(paths, dirs, 'no-such-unit')], { env: { PATH: bin } });
    // The run was a real one: the facts still add up.
    expect(Object.keys(parseFacts('h', 'no-such-unit', output).files).length).toBeGreaterThanOrEqual(paths.length);
    return execFileSync('/usr/bin/cat', [log]).toString().trim().split('\n');
  };

  // Five: one `stat` for the directories above the files (root reads nothing through a directory
  // another user can change) and the files themselves, then hash, key count, contents, service.
  it('starts five programs for two files, and the same five for twenty', () => {
    const managed = join(dir, 'managed');
    mkdirSync(managed, { mode: 0o755 });
    for (let i = 0; i < 20; i++) writeFileSync(join(managed, `many-${i}.yml`), `n: ${i}\n`);
    const few = programs(
      [
        { path: join(dir, 'agent.yml'), want: 'content' },
        { path: join(dir, 'tls/ca.pem'), want: 'content' },
      ],
      [],
    );
    const asked = Array.from({ length: 20 }, (_, i) => ({ path: join(managed, `many-${i}.yml`), want: 'content' as const }));
    // A managed directory holding only what is asked for: listed, nothing more to stat.
    const many = programs(asked, [managed]);
    expect(few.sort()).toEqual(['cat', 'grep', 'sha256sum', 'stat', 'systemctl']);
    expect(many.sort()).toEqual(few);
    // Files nobody asked for in a managed directory: one more `stat`, for all of them.
    expect(programs(asked.slice(0, 2), [managed]).sort()).toEqual(['cat', 'grep', 'sha256sum', 'stat', 'stat', 'systemctl']);
  });
});
