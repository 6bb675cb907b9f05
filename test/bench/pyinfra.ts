/**
 * pyinfra beside Ansible: test/bench/pyinfra/deploy.py, run by a pinned pyinfra installed from
 * PyPI into a virtualenv in the bench's cache (made once, reused by every later bench run), on the
 * same lab fleet, with an inventory written from the lab's own state.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { dialPort } from '../lab/state.js';
import { idsOf } from '../lab/system.js';
import type { Lab } from '../lab/lab.js';
import { runProc, type Proc } from './proc.js';

/** The pyinfra the bench measures: the newest 3.x on PyPI for Python 3.11 when this was written. */
export const PYINFRA_VERSION = '3.10.0';
const DEPLOY = resolve(import.meta.dirname, 'pyinfra', 'deploy.py');

/** The bench's cache: virtualenvs live here between runs, so only the first run downloads. */
function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'rollout-bench');
}

function venvDir(): string {
  return join(cacheDir(), `pyinfra-${PYINFRA_VERSION}`);
}

function pyinfraBin(): string {
  return join(venvDir(), 'bin', 'pyinfra');
}

function installedVersion(): string | undefined {
  try {
    return execFileSync(pyinfraBin(), ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Makes the virtualenv with the pinned pyinfra when it is not in the cache yet (needs PyPI: run the
 * bench once outside any network namespace, or call this first). Its version line, or why not.
 */
export function ensurePyinfra(say: (line: string) => void): { version?: string; why?: string } {
  const have = installedVersion();
  if (have) return { version: have };
  const python = process.env.BENCH_PYTHON ?? 'python3';
  say(`installing pyinfra ${PYINFRA_VERSION} from PyPI into ${venvDir()} (once; the tests never need it)…`);
  try {
    rmSync(venvDir(), { recursive: true, force: true });
    mkdirSync(cacheDir(), { recursive: true });
    execFileSync(python, ['-m', 'venv', venvDir()], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync(join(venvDir(), 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', `pyinfra==${PYINFRA_VERSION}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch (err) {
    rmSync(venvDir(), { recursive: true, force: true });
    return { why: `installing pyinfra failed: ${(err as Error).message.split('\n')[0] ?? ''}` };
  }
  const v = installedVersion();
  return v ? { version: v } : { why: 'pyinfra still missing after the install' };
}

/**
 * pyinfra's inventory for the lab: the two groups, each host's SSH data as the lab's Ansible
 * inventory gives it (through the latency relay when there is one), host keys checked strictly
 * against the lab's known_hosts, sudo, and the certificate paths as absolute controller paths.
 */
export function writePyinfraInventory(lab: Lab, path: string, work: string): void {
  const s = lab.state;
  const login = idsOf(s.loginUser);
  const host = (h: (typeof s.hosts)[number]): string => {
    // The lab's hosts share the machine's /tmp, and pyinfra names its upload temp files after the
    // destination: 23 hosts uploading /etc/sensu/tls/ca.pem at once wrote one file, and the uploads
    // failed ("size mismatch in put! 0 != 562"). A real host has its own /tmp; so does each lab
    // host here, for pyinfra.
    const tmp = join(work, 'tmp', h.name);
    // Only the host's own directory is private: the login user must pass through its parent.
    mkdirSync(dirname(tmp), { recursive: true, mode: 0o755 });
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    chownSync(tmp, login.uid, login.gid);
    const data: Record<string, string | number | boolean> = {
      ssh_hostname: h.address,
      ssh_port: dialPort(s, h),
      ssh_user: s.loginUser,
      ssh_key: lab.keyPath,
      ssh_known_hosts_file: lab.knownHostsPath,
      ssh_strict_host_key_checking: 'yes',
      _sudo: true,
      _temp_dir: tmp,
      ...(h.sudoPassword ? { _sudo_password: s.becomePassword } : {}),
      sensu_ca_file: join(s.dir, 'pki', 'ca.pem'),
      sensu_cert_file: join(s.dir, 'pki', `${h.name}.pem`),
      sensu_key_file: join(s.dir, 'pki', `${h.name}.key`),
    };
    return `    (${JSON.stringify(h.name)}, ${JSON.stringify(data).replace(/\btrue\b/g, 'True')}),`;
  };
  const group = (role: 'backend' | 'agent'): string =>
    s.hosts
      .filter((h) => h.role === role)
      .map(host)
      .join('\n');
  writeFileSync(
    path,
    `# pyinfra inventory of the lab in ${s.dir}, written by the bench (test/bench/pyinfra.ts).\nbackends = [\n${group('backend')}\n]\nagents = [\n${group('agent')}\n]\n`,
    { mode: 0o600 },
  );
}

/** One pyinfra run and what it said of itself. */
export interface PyinfraRun {
  proc: Proc;
  ok: boolean;
  summary: string;
}

export async function runPyinfra(lab: Lab, work: string, options: { dry: boolean; timeoutMs: number }): Promise<PyinfraRun> {
  mkdirSync(work, { recursive: true });
  const inventory = join(work, 'pyinfra-inventory.py');
  if (!existsSync(inventory)) writePyinfraInventory(lab, inventory, work);
  // -y skips pyinfra's change detection, and that detection is what --dry shows: no -y for it.
  const args = [...(options.dry ? ['--dry', '--diff'] : ['-y']), inventory, DEPLOY];
  const env = { ...process.env, PYINFRA_PROGRESS: 'off', NO_COLOR: '1', TERM: 'dumb' };
  const proc = await runProc(pyinfraBin(), args, { cwd: work, env, timeoutMs: options.timeoutMs, group: true });
  // pyinfra prints "[host] Connected" per host, and after a real run a results table whose last
  // line is "Grand total  OPS  SUCCESS  ERROR  NO-CHANGE" (a dash for none).
  const out = proc.stdout + proc.stderr;
  const connected = (out.match(/\]\s+Connected/g) ?? []).length;
  const total = /Grand total\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  const n = (v: string | undefined): number => (v === undefined || v === '-' ? 0 : Number(v));
  const errors = n(total?.[3]);
  const ok = !proc.timedOut && proc.code === 0 && connected === lab.state.hosts.length && errors === 0;
  const ops = total ? `, ${n(total[2])} operation(s) ran, ${n(total[4])} unchanged, ${errors} failed` : '';
  return { proc, ok, summary: `exit ${String(proc.code)}, ${connected} host(s) connected${ops}` };
}
