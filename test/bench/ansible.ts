/**
 * The same job done the way operators do it today: test/bench/ansible/secure.yml with
 * ansible-playbook from Debian's ansible-core, against the same lab fleet, host keys checked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Lab } from '../lab/lab.js';
import { runProc, type Proc } from './proc.js';

const HERE = resolve(import.meta.dirname, 'ansible');
const PLAYBOOK = join(HERE, 'secure.yml');
const CONFIG = join(HERE, 'ansible.cfg');
/** Ansible's own default (`forks = 5`). */
export const ANSIBLE_DEFAULT_FORKS = 5;

function version(): string | undefined {
  try {
    return execFileSync('ansible-playbook', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      ?.trim();
  } catch {
    return undefined;
  }
}

/** Installs Debian's ansible-core when missing (only the bench needs it); its version, or why not. */
export function ensureAnsible(say: (line: string) => void): { version?: string; why?: string } {
  const have = version();
  if (have) return { version: have };
  if (process.getuid?.() !== 0) return { why: 'Ansible is not installed and this is not root (apt-get install ansible-core)' };
  say("installing Debian's ansible-core for the comparison (the tests never need it)…");
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ansible-core'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  } catch (err) {
    return { why: `installing ansible-core failed: ${(err as Error).message.split('\n')[0] ?? ''}` };
  }
  const v = version();
  return v ? { version: v } : { why: 'ansible-playbook still missing after the install' };
}

/** One ansible-playbook run and what its recap says. */
export interface AnsibleRun {
  proc: Proc;
  ok: boolean;
  summary: string;
}

/** Closes the ControlPersist masters a run left, so the next run starts from nothing, as rollout does. */
async function closeMasters(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await Promise.all(readdirSync(dir).map((s) => runProc('ssh', ['-o', `ControlPath=${join(dir, s)}`, '-O', 'exit', 'lab-host'], { timeoutMs: 10_000 })));
}

export async function runAnsible(lab: Lab, work: string, options: { check: boolean; forks: number; timeoutMs: number }): Promise<AnsibleRun> {
  const controlDir = join(work, `ansible-cp-${Date.now()}`);
  mkdirSync(controlDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ANSIBLE_CONFIG: CONFIG,
    ANSIBLE_SSH_COMMON_ARGS: `-o UserKnownHostsFile=${lab.knownHostsPath} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes`,
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
    ANSIBLE_LOCAL_TEMP: join(work, 'ansible-tmp'),
    ANSIBLE_NOCOLOR: '1',
  };
  const args = ['-i', lab.inventoryPath, ...(options.check ? ['--check', '--diff'] : []), '-f', String(options.forks), PLAYBOOK];
  // From the lab directory: Ansible resolves the inventory's relative key path against it.
  const proc = await runProc('ansible-playbook', args, { cwd: lab.dir, env, timeoutMs: options.timeoutMs, group: true });
  await closeMasters(controlDir);
  rmSync(controlDir, { recursive: true, force: true });
  let hosts = 0;
  let changed = 0;
  let failed = 0;
  for (const m of proc.stdout.matchAll(/^\S+\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
    hosts += 1;
    changed += Number(m[1]);
    failed += Number(m[2]) + Number(m[3]);
  }
  const ok = !proc.timedOut && proc.code === 0 && hosts === lab.state.hosts.length && failed === 0;
  return { proc, ok, summary: `${hosts} host(s), ${changed} changed task(s), ${failed} failed/unreachable` };
}
