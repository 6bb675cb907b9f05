/**
 * The root session (src/transport/root-session.ts) on the lab's real sshd hosts: one sudo per host
 * for many root commands, each command's result framed and checked under hostile output, stdin
 * that cannot reach the next command, the become failures worded as before, a killed root shell or
 * a dropped connection reopened, and a real `rollout secure` counted from the hosts' own logs.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RemoteCommandError } from '../src/errors.js';
import { SESSION_DRIVER } from '../src/transport/root-session.js';
import { connect, type SecretValue, type SshSettings, type SshTarget } from '../src/transport/ssh.js';
import { rollout } from './helpers/cli.js';
import { useLab } from './helpers/lab-fixture.js';
import { killSshd, startSshd } from './lab/host-faults.js';
import type { Lab } from './lab/lab.js';
import { failure } from './helpers/failure-checks.js';

const getLab = useLab({ backends: 1, agents: 2, net: 63, sudoPasswordHosts: ['agent-02'] });

const SUDO_LOG = '/var/log/sensu/session-sudo.log';

function target(name: string, extra: Partial<SshTarget> = {}): SshTarget {
  const lab = getLab();
  const h = lab.host(name);
  return { name, address: h.address, port: h.sshPort, user: lab.state.loginUser, privateKeyFile: lab.keyPath, ...extra };
}

function settings(extra: Partial<SshSettings> = {}): SshSettings {
  return { knownHostsFiles: [getLab().knownHostsPath], connectTimeoutMs: 5000, rootSession: 'always', ...extra };
}

function count(file: string, needle: string): number {
  try {
    return readFileSync(file, 'utf8').split(needle).length - 1;
  } catch {
    return 0;
  }
}

/** What each host logged so far: sudo invocations (sudo's log) and exec channels (sshd's, at VERBOSE). */
function hostCounts(lab: Lab): Map<string, { sudo: number; execs: number; logins: number }> {
  return new Map(
    lab.state.hosts.map((h) => [
      h.name,
      {
        sudo: count(join(h.dir, 'var-log-sensu', 'session-sudo.log'), 'COMMAND='),
        execs: count(join(h.dir, 'sshd.log'), 'Starting session: command'),
        logins: count(join(h.dir, 'sshd.log'), 'Accepted publickey'),
      },
    ]),
  );
}

function delta(before: ReturnType<typeof hostCounts>, after: ReturnType<typeof hostCounts>): Map<string, { sudo: number; execs: number; logins: number }> {
  return new Map(
    [...after].map(([name, a]) => {
      const b = before.get(name) ?? { sudo: 0, execs: 0, logins: 0 };
      return [name, { sudo: a.sudo - b.sudo, execs: a.execs - b.execs, logins: a.logins - b.logins }];
    }),
  );
}

/** Counts after `fn`, once sudo and sshd have written their lines. */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; per: ReturnType<typeof delta> }> {
  const before = hostCounts(getLab());
  const value = await fn();
  await new Promise((r) => setTimeout(r, 300));
  return { value, per: delta(before, hostCounts(getLab())) };
}

/** Root shells (the session driver) still running in any of the lab's hosts, by pid. */
function rootShellsLeft(lab: Lab): number[] {
  const mountNs = new Set(lab.state.hosts.map((h) => readlinkSync(`/proc/${h.holderPid}/ns/mnt`)));
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('IFS= read -r k') && mountNs.has(readlinkSync(`/proc/${pid}/ns/mnt`));
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

beforeAll(async () => {
  const lab = getLab();
  for (const h of lab.state.hosts) {
    // sudo's own log, through the host's mount namespace, counts root commands host-side.
    const file = `/proc/${h.holderPid}/root/etc/sudoers.d/zz-session-log`;
    writeFileSync(file, `Defaults logfile=${SUDO_LOG}\nDefaults loglinelen=0\n`, { mode: 0o440 });
    chmodSync(file, 0o440);
    // sshd at VERBOSE logs each exec channel ("Starting session: command …").
    const config = join(h.dir, 'sshd_config');
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^LogLevel .*$/m, 'LogLevel VERBOSE'));
    await killSshd(lab, h.name);
    await startSshd(lab, h.name);
  }
});

describe('one root shell for many commands', () => {
  it('runs every sudo command of a connection through one sudo', async () => {
    const { value: t, per } = await counted(async () => {
      const t = await connect(target('agent-01'), settings());
      for (let i = 0; i < 5; i++) expect((await t.run('id -un', { sudo: true })).stdout.toString()).toBe('root\n');
      // The first sudo command alone under `auto`, the session from the second on.
      const auto = await connect(target('backend-1'), settings({ rootSession: 'auto' }));
      for (let i = 0; i < 4; i++) expect((await auto.run('id -un', { sudo: true })).stdout.toString()).toBe('root\n');
      await auto.close();
      return t;
    });
    expect(per.get('agent-01')).toEqual({ sudo: 1, execs: 1, logins: 1 });
    expect(per.get('backend-1')).toEqual({ sudo: 2, execs: 2, logins: 1 });
    expect(t.stats().commands).toBe(5);
    // The shell (and sudo above it) lives while the connection does, and ends with it.
    expect(rootShellsLeft(getLab()).length).toBeGreaterThan(0);
    await t.close();
    let left = rootShellsLeft(getLab());
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = rootShellsLeft(getLab());
    }
    expect(left).toEqual([]);
  });

  it('keeps exit statuses, stdout and stderr apart, output without a final newline, binary output', async () => {
    const t = await connect(target('agent-01'), settings());
    try {
      for (const code of [0, 1, 3, 66, 67, 127, 128]) expect((await t.run(`exit ${code}`, { sudo: true })).code).toBe(code);
      expect((await t.run('no-such-program-here', { sudo: true })).code).toBe(127);
      // Killed by a signal: no status, as an exec channel reports it.
      expect((await t.run("sh -c 'kill -9 $$'", { sudo: true })).code).toBeNull();
      const mixed = await t.run('echo out; echo err >&2; printf tail; printf errtail >&2; exit 5', { sudo: true });
      expect(mixed).toEqual({ code: 5, stdout: Buffer.from('out\ntail'), stderr: Buffer.from('err\nerrtail') });
      const blob = randomBytes(300_000);
      const echoed = await t.run('cat', { sudo: true, stdin: blob });
      expect(echoed.code).toBe(0);
      expect(echoed.stdout.equals(blob)).toBe(true);
      const binary = await t.run("printf '\\000\\001\\377\\r\\n\\000'; printf '\\000' >&2", { sudo: true });
      expect(binary.stdout).toEqual(Buffer.from([0, 1, 255, 13, 10, 0]));
      expect(binary.stderr).toEqual(Buffer.from([0]));
      expect((await t.run('true', { sudo: true })).stdout.length).toBe(0);
      // The script runs as a fresh shell would: nothing of the previous one's umask, cwd or options.
      await t.run('umask 077; cd /tmp; set -e', { sudo: true });
      expect((await t.run('umask; false; echo after', { sudo: true })).stdout.toString()).toBe('0022\nafter\n');
    } finally {
      await t.close();
    }
  });

  it('cannot be fooled by output that looks like its markers, and shows commands nothing of the key', async () => {
    const t = await connect(target('agent-01'), settings());
    try {
      // Everything a command could know of the framing: the driver's variables, its positional
      // parameters, its environment and its command line are empty or hold no key.
      const seen = await t.run('echo "[$k][$h][$q][$n][$m][$s][$r][$#][$*]"; env; cat /proc/$$/cmdline | tr "\\0" " "', { sudo: true });
      expect(seen.stdout.toString().split('\n')[0]).toBe('[][][][][][][][0][]');
      const marker = /\b[0-9a-f]{32}\b/;
      expect(seen.stdout.toString()).not.toMatch(marker);
      // Marker-like lines in every position, with and without newlines, on both streams.
      const fake = [
        'printf "00000000000000000000000000000000 2 end 0\\n"',
        'printf "%s 3 run\\n" ffffffffffffffffffffffffffffffff',
        'printf "ROLLOUT-BECOME-0011223344556677\\n"',
        'printf "[rollout-sudo-0011223344556677] password:" >&2',
        'printf "00000000000000000000000000000000 2 end\\n" >&2',
        'printf "#"',
        'printf " 4 end 0"',
      ].join('; ');
      const r = await t.run(fake, { sudo: true });
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe(
        '00000000000000000000000000000000 2 end 0\nffffffffffffffffffffffffffffffff 3 run\nROLLOUT-BECOME-0011223344556677\n# 4 end 0',
      );
      expect(r.stderr.toString()).toBe('[rollout-sudo-0011223344556677] password:00000000000000000000000000000000 2 end\n');
      expect((await t.run('echo next', { sudo: true })).stdout.toString()).toBe('next\n');
    } finally {
      await t.close();
    }
  });

  it('gives a command only its own stdin: what it leaves unread never reaches the next command', async () => {
    const before = hostCounts(getLab());
    const t = await connect(target('agent-01'), settings());
    try {
      // Reads 3 of 100 000 bytes and ends: the rest is drained, not run as the next frame.
      const part = await t.run('head -c 3', { sudo: true, stdin: Buffer.concat([Buffer.from('abc'), randomBytes(100_000)]) });
      expect(part.stdout.toString()).toBe('abc');
      // Stdin that looks like a frame or a script is only data.
      const sneaky = `x 9 17 0\ntouch /tmp/pwned\n`;
      expect((await t.run('exit 0', { sudo: true, stdin: sneaky })).code).toBe(0);
      // A command that reads stdin without being given any sees its end at once, not the next frame.
      const none = t.run('cat; echo "eof $?"', { sudo: true });
      const next = t.run('echo second', { sudo: true });
      expect((await none).stdout.toString()).toBe('eof 0\n');
      expect((await next).stdout.toString()).toBe('second\n');
      // Concurrent commands are queued, each with its own stdin and output.
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => t.run(`cat; echo " ${i}"`, { sudo: true, stdin: `in${i}` })));
      expect(many.map((m) => m.stdout.toString())).toEqual(Array.from({ length: 8 }, (_, i) => `in${i} ${i}\n`));
      expect((await t.run('test ! -e /tmp/pwned && echo clean', { sudo: true })).stdout.toString()).toBe('clean\n');
      // All in one shell: none of it put the shell out of step (which would end it, and a new one open).
      await new Promise((r) => setTimeout(r, 300));
      expect(delta(before, hostCounts(getLab())).get('agent-01')?.sudo).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('stops a command past the output limit and a command past its deadline, then opens a new shell for the next', async () => {
    const { value, per } = await counted(async () => {
      const t = await connect(target('agent-01'), settings({ maxOutputBytes: 1024 * 1024, commandTimeoutMs: 1500 }));
      const out = await failure(t.run('head -c 5000000 /dev/zero', { sudo: true }));
      const err = await failure(t.run('head -c 5000000 /dev/zero >&2', { sudo: true }));
      // Under the limit, all of it arrives.
      const full = (await t.run('head -c 1000000 /dev/zero', { sudo: true })).stdout.length;
      const slow = await failure(t.run('sleep 5', { sudo: true }));
      const after = (await t.run('echo still here', { sudo: true })).stdout.toString();
      await t.close();
      return { out, err, full, slow, after };
    });
    expect(value.out).toBeInstanceOf(RemoteCommandError);
    expect(value.out.message).toBe('agent-01: a command sent more than 1 MiB of output; it was stopped');
    expect(value.err.message).toBe('agent-01: a command sent more than 1 MiB of output; it was stopped');
    expect(value.full).toBe(1_000_000);
    expect(value.slow.message).toBe('agent-01: command did not finish within 1.5 s');
    expect(value.after).toBe('still here\n');
    // One shell, then one after each of the three commands it was given up for.
    expect(per.get('agent-01')?.sudo).toBe(4);
  });
});

describe('sudo with a password', () => {
  it('sends the password once for the whole session, never where it shows', async () => {
    const lab = getLab();
    const password = lab.state.becomePassword;
    let reveals = 0;
    const secret: SecretValue = {
      reveal: () => {
        reveals += 1;
        return password;
      },
    };
    const { per } = await counted(async () => {
      const t = await connect(target('agent-02', { becomePassword: secret }), settings());
      for (let i = 0; i < 4; i++) expect((await t.run('id -un', { sudo: true })).stdout.toString()).toBe('root\n');
      // Neither the password nor the session's scripts are in the process list: look from
      // another channel while a root command runs.
      const token = `rollout-token-${randomBytes(6).toString('hex')}`;
      const running = t.run(`: ${token}; sleep 1`, { sudo: true });
      await new Promise((r) => setTimeout(r, 400));
      const ps = (await t.run('ps -eo args')).stdout.toString();
      expect((await running).code).toBe(0);
      expect(ps).toContain('sleep 1');
      expect(ps).not.toContain(password);
      expect(ps).not.toContain(token);
      await t.close();
    });
    expect(reveals).toBe(1);
    expect(per.get('agent-02')?.sudo).toBe(1);
  });

  it('words a wrong or missing password as before, and does not try it again for each command', async () => {
    const { per } = await counted(async () => {
      const wrong = await connect(target('agent-02', { becomePassword: { reveal: () => 'not-the-password' } }), settings());
      const e1 = await failure(wrong.run('id -un', { sudo: true }));
      expect(e1).toBeInstanceOf(RemoteCommandError);
      expect(e1.message).toBe('agent-02: sudo rejected the become password');
      expect((e1 as RemoteCommandError).hint).toBe('check ansible_become_password (or the password typed for --ask-become-pass)');
      expect(e1.message + String((e1 as RemoteCommandError).hint)).not.toContain('not-the-password');
      const e1again = await failure(wrong.run('id -un', { sudo: true }));
      expect(e1again.message).toBe('agent-02: sudo rejected the become password');
      await wrong.close();

      // Under `auto` too: a refused first command is not followed by a root shell asking again.
      const auto = await connect(target('agent-02', { becomePassword: { reveal: () => 'not-the-password' } }), settings({ rootSession: 'auto' }));
      expect((await failure(auto.run('id -un', { sudo: true }))).message).toBe('agent-02: sudo rejected the become password');
      expect((await failure(auto.run('id -un', { sudo: true }))).message).toBe('agent-02: sudo rejected the become password');
      await auto.close();

      const none = await connect(target('agent-02'), settings());
      const e2 = await failure(none.run('id -un', { sudo: true }));
      expect(e2.message).toBe('agent-02: sudo asks for a password');
      expect((e2 as RemoteCommandError).hint).toBe('pass --ask-become-pass, or set ansible_become_password for this host');
      await none.close();
    });
    // One sudo per connection, whatever was asked of it: no second try.
    expect(per.get('agent-02')?.sudo).toBeLessThanOrEqual(3);
    expect(per.get('agent-02')?.execs).toBe(3);
  });
});

describe('a session that ends', () => {
  it('reopens the root shell after it was killed, idle or under a command', async () => {
    const lab = getLab();
    const { value, per } = await counted(async () => {
      const t = await connect(target('backend-1'), settings());
      // `$$` in the command's subshell is the root shell's own pid.
      const pid = (await t.run('echo $$', { sudo: true })).stdout.toString().trim();
      expect(pid).toMatch(/^\d+$/);
      await lab.exec('backend-1', 'kill', ['-9', pid]);
      const idle = await t.run('id -un', { sudo: true });
      // Killed under a command: its outcome is unknown (no status), the next one runs.
      const under = await t.run('kill -9 $$; sleep 0.2; echo late', { sudo: true });
      const next = await t.run('echo next', { sudo: true });
      await t.close();
      return { idle, under, next };
    });
    expect(value.idle).toMatchObject({ code: 0, stdout: Buffer.from('root\n') });
    expect(value.under.code).toBeNull();
    expect(value.next).toMatchObject({ code: 0, stdout: Buffer.from('next\n') });
    expect(per.get('backend-1')).toMatchObject({ sudo: 3, logins: 1 });
  });

  it('reopens the connection and the root shell after the connection dropped', async () => {
    const lab = getLab();
    const t = await connect(target('agent-01'), settings({ reconnectMs: 10_000 }));
    try {
      expect((await t.run('id -un', { sudo: true })).stdout.toString()).toBe('root\n');
      await killSshd(lab, 'agent-01');
      await startSshd(lab, 'agent-01');
      const { value, per } = await counted(() => t.run('cat; id -un', { sudo: true, stdin: 'again ' }));
      expect(value).toMatchObject({ code: 0, stdout: Buffer.from('again root\n') });
      expect(per.get('agent-01')).toMatchObject({ sudo: 1, logins: 1 });
    } finally {
      await t.close();
    }
  });
});

describe('the driver', () => {
  /** Runs SESSION_DRIVER in this machine's /bin/sh with `input` as its whole stdin. */
  function drive(input: Buffer): Promise<{ code: number | null; stdout: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', SESSION_DRIVER], { stdio: ['pipe', 'pipe', 'ignore'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout }));
      child.stdin.end(input);
    });
  }
  const key = 'ab'.repeat(16);
  const frame = (script: string, header = key): Buffer => {
    const body = Buffer.from(`${script}\n#${key}`);
    return Buffer.concat([Buffer.from(`${header} 1 ${body.length} 0\n`), body]);
  };

  it('runs nothing of a script cut short (the stream ended mid-frame), nor a frame without the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollout-driver-'));
    try {
      const script = `touch ${dir}/first; touch ${dir}/second`;
      const whole = frame(script);
      const cut = await drive(Buffer.concat([Buffer.from(`${key}\n`), whole.subarray(0, whole.length - 10)]));
      expect(cut.code).toBe(71);
      expect(cut.stdout).toBe('');
      expect(existsSync(`${dir}/first`)).toBe(false);
      const forged = await drive(Buffer.concat([Buffer.from(`${key}\n`), frame(script, 'cd'.repeat(16))]));
      expect(forged.code).toBe(70);
      expect(existsSync(`${dir}/first`)).toBe(false);
      // The same frame whole runs, and the shell ends cleanly when its stdin does.
      const ok = await drive(Buffer.concat([Buffer.from(`${key}\n`), whole]));
      expect(ok).toEqual({ code: 0, stdout: `${key} 1 run\n${key} 1 end 0\n` });
      expect(existsSync(`${dir}/second`)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rollout secure on the lab', () => {
  it('a dry run costs one sudo per host, a real run at most two, a second run one (counted on the hosts)', async () => {
    const lab = getLab();
    const args = ['secure', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath];
    const dry = await counted(() => rollout([...args, '--check']));
    expect(dry.value.code).toBe(5);
    const real = await counted(() => rollout([...args, '--yes', '--stats']));
    expect(real.value.code, real.value.stderr).toBe(0);
    // The run closed its root shells: none is left on any host once it exited.
    let left = rootShellsLeft(lab);
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = rootShellsLeft(lab);
    }
    expect(left).toEqual([]);
    const again = await counted(() => rollout([...args, '--check']));
    expect(again.value.code).toBe(0);
    for (const h of lab.state.hosts) {
      expect(dry.per.get(h.name)).toMatchObject({ sudo: 1, logins: 1 });
      expect(real.per.get(h.name)?.logins).toBe(1);
      expect(real.per.get(h.name)?.sudo).toBeLessThanOrEqual(2);
      expect(again.per.get(h.name)).toMatchObject({ sudo: 1, logins: 1 });
    }
    // For the record (the bench reports the same from the same logs).
    console.log(
      `per host (sudo invocations / exec channels): dry ${[...dry.per].map(([n, c]) => `${n} ${c.sudo}/${c.execs}`).join(', ')}; real ${[...real.per].map(([n, c]) => `${n} ${c.sudo}/${c.execs}`).join(', ')}`,
    );
  });
});
