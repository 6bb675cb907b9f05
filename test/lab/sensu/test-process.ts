/**
 * Helpers for tests that run the bundled stand-ins directly (no lab namespaces): start a program
 * in its own process group, collect its JSON log lines, wait for conditions, kill everything.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown>;

/**
 * True while some process is still in group `pgid` (Linux /proc). Checked before signalling a
 * group whose leader is gone, so a recycled id is never hit.
 */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the parenthesised command: state, ppid, pgrp.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) return true;
    } catch {
      continue;
    }
  }
  return false;
}

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  if (pgid <= 0 || !groupAlive(pgid)) return;
  try {
    process.kill(-pgid, sig);
  } catch {
    // Already gone.
  }
}

/** Process groups started by this test process, killed if it exits without cleaning up. */
const groups = new Set<number>();
process.on('exit', () => {
  for (const pgid of groups) killGroup(pgid, 'SIGKILL');
});

/** A stand-in process under test. */
export class StandinProcess {
  private out = '';
  /** Settles when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => {
      this.out += c.toString('utf8');
    });
    child.stderr?.on('data', (c: Buffer) => {
      this.out += c.toString('utf8');
    });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Process id (also the process group id). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** True until the process exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Everything it printed so far. */
  get output(): string {
    return this.out;
  }

  /** Its JSON log lines so far. */
  lines(): LogLine[] {
    return this.out.split('\n').flatMap((l) => {
      if (!l.startsWith('{')) return [];
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return [];
      }
    });
  }

  /** Waits for a log line matching `pred`. */
  async waitForLine(pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    let found: LogLine | undefined;
    await waitFor(
      () => {
        found = this.lines().find(pred);
        return found !== undefined;
      },
      timeoutMs,
      () => `no matching log line; output so far:\n${this.out}`,
    );
    return found as LogLine;
  }

  /** Signals the whole process group (the stand-in and its etcd). */
  signal(sig: NodeJS.Signals): void {
    killGroup(this.pid, sig);
  }

  /** SIGTERM, then SIGKILL for the group after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.running) this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    // Reap anything left in the group (an etcd whose parent died first).
    this.signal('SIGKILL');
    groups.delete(this.pid);
  }
}

/** Starts `node <script> <args>` in its own process group. */
export function startStandin(script: string, args: string[], env: Record<string, string> = {}): StandinProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SENSU')));
  const child = spawn(process.execPath, [script, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pgid = child.pid ?? 0;
  if (pgid > 0) groups.add(pgid);
  return new StandinProcess(child);
}

/** Polls `check` until it returns true. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  describe: () => string = () => 'condition',
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A finished HTTP exchange. */
export interface HttpResult {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET (or another method) over http or https, with an optional CA and headers. */
export function request(
  url: string,
  opts: { ca?: string; method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: opts.method ?? 'GET', headers: opts.headers, ca: opts.ca, timeout: opts.timeoutMs ?? 10_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
