/**
 * `rollout secure --stats`: where a run's time went and what it cost, measured in the process:
 * wall time per stage (from process start), the time spent waiting on restarts and health gates
 * against rollout's own work, SSH connections, commands and bytes, peak memory and CPU time.
 * `npm run bench` reads it; operators can too, to see whether a slow run was the fleet or the tool.
 */
import type { BatchApiCalls } from '../execute/run.js';
import type { Transport } from '../transport/transport.js';

/** Stages of `rollout secure`, in order. */
export type Stage = 'start' | 'connect' | 'facts' | 'plan' | 'show' | 'run';

/** What `--stats` reports (and `--json` carries as `stats`). */
export interface RunStatsReport {
  /** Process start to the report, ms. */
  totalMs: number;
  /** Wall time of each stage that ran, ms: start = node and module loading, run = the changes. */
  stages: Partial<Record<Stage, number>>;
  /** Of `run`: wall time with a restart or health gate in flight (hosts wait in parallel). */
  waitMs?: number;
  connections: number;
  commands: number;
  bytesSent: number;
  bytesReceived: number;
  /** Peak resident memory of the controller process, MB. */
  peakRssMb: number;
  /** CPU time of the controller process (user + system), ms. */
  cpuMs: number;
  /** Per agent batch: Sensu API requests its keepalive checks made, and the batch's wall time. */
  keepalive?: BatchApiCalls[];
}

/** Marks stage ends as a run goes. */
export class RunStats {
  private last = 0;
  private readonly stages: Partial<Record<Stage, number>> = {};

  constructor() {
    this.end('start');
  }

  /** Ends `stage` now: its time is what passed since the previous stage ended. */
  end(stage: Stage): void {
    const now = performance.now();
    this.stages[stage] = (this.stages[stage] ?? 0) + now - this.last;
    this.last = now;
  }

  report(transports: Iterable<Transport>, waitMs?: number, keepalive?: BatchApiCalls[]): RunStatsReport {
    let connections = 0;
    let commands = 0;
    let bytesSent = 0;
    let bytesReceived = 0;
    for (const t of transports) {
      const s = t.stats();
      connections += 1;
      commands += s.commands;
      bytesSent += s.bytesSent;
      bytesReceived += s.bytesReceived;
    }
    const usage = process.resourceUsage();
    return {
      totalMs: performance.now(),
      stages: { ...this.stages },
      ...(waitMs !== undefined ? { waitMs } : {}),
      connections,
      commands,
      bytesSent,
      bytesReceived,
      peakRssMb: usage.maxRSS / 1024,
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
      ...(keepalive && keepalive.length > 0 ? { keepalive } : {}),
    };
  }
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The report as lines for a terminal. */
export function statsLines(r: RunStatsReport): string[] {
  const order: Stage[] = ['start', 'connect', 'facts', 'plan', 'show', 'run'];
  const stages = order.flatMap((s) => (r.stages[s] === undefined ? [] : [`${s} ${secs(r.stages[s])}`]));
  const lines = [`stats: ${secs(r.totalMs)} in all: ${stages.join(', ')}`];
  if (r.waitMs !== undefined && r.stages.run !== undefined) {
    lines.push(`stats: run = ${secs(r.waitMs)} waiting on restarts and health gates + ${secs(Math.max(0, r.stages.run - r.waitMs))} rollout's own work`);
  }
  const perHost = r.connections > 0 ? ` (${(r.commands / r.connections).toFixed(1)} per host)` : '';
  lines.push(
    `stats: ${r.connections} SSH connection(s), ${r.commands} command(s)${perHost}, ${bytes(r.bytesSent)} sent, ${bytes(r.bytesReceived)} received; peak memory ${r.peakRssMb.toFixed(0)} MB, CPU ${secs(r.cpuMs)}`,
  );
  for (const k of r.keepalive ?? []) {
    lines.push(
      `stats: ${k.phase} batch ${k.batch}: ${k.calls} Sensu API request(s) (${bytes(k.bytes)}) for the keepalives of ${k.hosts} host(s), batch ${secs(k.ms)}`,
    );
  }
  return lines;
}
