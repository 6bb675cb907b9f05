/**
 * Running and timing the programs the bench compares, and reading what each lab host saw of them:
 * sshd's accepted logins (connections) and a sudo log (commands run as root).
 */
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../lab/lab.js';

/** A finished program. */
export interface Proc {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Peak resident memory seen while it ran (VmHWM, polled), MB. */
  peakRssMb: number;
}

function vmHwmMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs a program to completion with a deadline. */
export function runProc(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; group?: boolean }): Promise<Proc> {
  return new Promise((resolveRun) => {
    const t0 = performance.now();
    // `group`: its own process group, so a timeout stops its workers too (Ansible's forks).
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.group === true });
    const kill = (signal: NodeJS.Signals): void => {
      try {
        if (options.group && child.pid) process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch {
        // already gone
      }
    };
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let peakRssMb = 0;
    const poll = setInterval(() => (peakRssMb = Math.max(peakRssMb, vmHwmMb(child.pid))), 100);
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 5000).unref();
    }, options.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => (stderr += String(err)));
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolveRun({ code, ms: performance.now() - t0, stdout, stderr, timedOut, peakRssMb });
    });
  });
}

/** The last lines of a text, indented, for a failure report. */
export function lastLines(text: string, n = 6): string {
  return text
    .trim()
    .split('\n')
    .slice(-n)
    .map((l) => `      ${l}`)
    .join('\n');
}

/** CPU seconds of this process's finished children (cutime + cstime): the tools' controller side. */
export function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** Per-host counters read from each lab host's logs. */
export interface Counts {
  conns: Map<string, number>;
  sudo: Map<string, number>;
}

const SUDO_LOG = '/var/log/sensu/bench-sudo.log';

function countLines(file: string, needle: string): number {
  try {
    return readFileSync(file, 'utf8').split(needle).length - 1;
  } catch {
    return 0;
  }
}

export function readCounts(lab: Lab): Counts {
  const conns = new Map<string, number>();
  const sudo = new Map<string, number>();
  for (const h of lab.state.hosts) {
    conns.set(h.name, countLines(join(h.dir, 'sshd.log'), 'Accepted publickey'));
    sudo.set(h.name, countLines(join(h.dir, 'var-log-sensu', 'bench-sudo.log'), 'COMMAND='));
  }
  return { conns, sudo };
}

/** Min, mean and max over hosts of what changed between two readings. */
export interface PerHost {
  mean: number;
  min: number;
  max: number;
}

export function perHost(before: Map<string, number>, after: Map<string, number>): PerHost {
  const d = [...after.entries()].map(([h, n]) => n - (before.get(h) ?? 0));
  return { mean: d.reduce((a, b) => a + b, 0) / Math.max(1, d.length), min: Math.min(...d), max: Math.max(...d) };
}

/**
 * Turns on sudo's own log in every lab host (a sudoers.d drop-in written through
 * /proc/<holder>/root, which resolves paths in the host's mount namespace), so commands run as
 * root can be counted on the host side, whatever the tool says of itself.
 */
export function enableSudoLog(lab: Lab): void {
  for (const h of lab.state.hosts) {
    const file = `/proc/${h.holderPid}/root/etc/sudoers.d/zz-bench-log`;
    writeFileSync(file, `Defaults logfile=${SUDO_LOG}\nDefaults loglinelen=0\n`, { mode: 0o440 });
    chmodSync(file, 0o440);
  }
}

/** Runs `fn` and returns what each host saw during it. */
export async function counted<T>(lab: Lab, fn: () => Promise<T>): Promise<{ value: T; conns: PerHost; sudo: PerHost }> {
  const before = readCounts(lab);
  const value = await fn();
  // sshd and sudo write their lines a moment after the fact.
  await new Promise((r) => setTimeout(r, 300));
  const after = readCounts(lab);
  return { value, conns: perHost(before.conns, after.conns), sudo: perHost(before.sudo, after.sudo) };
}

/** Share of CPU time idle across all cores over `ms` (from /proc/stat). */
export async function idleShare(ms: number): Promise<number> {
  const read = (): { idle: number; total: number } => {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    // idle + iowait count as idle.
    return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return b.total > a.total ? (b.idle - a.idle) / (b.total - a.total) : 1;
}

/**
 * Waits until the machine is quiet: a freshly started lab keeps the cores busy for a while (agents
 * connecting, first keepalives, etcd compacting) and a measurement taken then measures the lab.
 * Returns the last idle share seen, and how long it waited.
 */
export async function settle(options: { idle: number; maxMs: number; windowMs?: number }): Promise<{ idle: number; waitedMs: number }> {
  const t0 = performance.now();
  let quiet = 0;
  let idle = 0;
  while (performance.now() - t0 < options.maxMs) {
    idle = await idleShare(options.windowMs ?? 2000);
    quiet = idle >= options.idle ? quiet + 1 : 0;
    if (quiet >= 2) break;
  }
  return { idle, waitedMs: performance.now() - t0 };
}
