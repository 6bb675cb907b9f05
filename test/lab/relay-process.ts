/**
 * Starting, reading and stopping the lab's latency relay process (relay-main.ts). The lab runs it
 * when `--rtt` is given: every host's sshd is then reached at the host's own address on the relay
 * port, and the inventory and known_hosts the lab writes say so, so every tool goes through it.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RelayRoute } from './delay-relay.js';

/** Port the relay listens on, on each host's own address (sshd keeps its own port). */
export const RELAY_PORT = 2022;

/** Starts the relay for these routes; resolves with its pid once every route listens. */
export function startRelayProcess(dir: string, routes: readonly RelayRoute[], rttMs: number): Promise<number> {
  const configPath = join(dir, 'relay.json');
  writeFileSync(configPath, JSON.stringify({ rttMs, routes }));
  const log = openSync(join(dir, 'relay.log'), 'a');
  const child = spawn(process.execPath, [join(dir, 'bin', 'relay.mjs'), configPath], { stdio: ['ignore', 'pipe', log], detached: true });
  closeSync(log);
  const stdout = child.stdout;
  if (!stdout) throw new Error('the latency relay has no stdout');
  return new Promise((resolvePid, reject) => {
    let out = '';
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready') && child.pid) {
        // From here on its stdout is not read: it writes one line at exit, into a closed pipe
        // at worst, which is harmless.
        stdout.destroy();
        child.unref();
        resolvePid(child.pid);
      }
    });
    child.on('exit', (code) => reject(new Error(`the latency relay exited (status ${String(code)}): see ${join(dir, 'relay.log')}`)));
  });
}

/**
 * CPU seconds (user + system) the relay process has used so far, from /proc: the bench reads it
 * before and after a measured run and reports the difference, since the relay shares the cores
 * with the tools it measures. 0 when the process is gone.
 */
export function relayCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
