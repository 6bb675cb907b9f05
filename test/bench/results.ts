/**
 * What one bench cell (a fleet at one round trip time) measured, and the small number helpers
 * the runner and the report share. Plain data: the runner fills it, report.ts renders it.
 */
import type { PerHost, Proc } from './proc.js';

/** A fleet: backends + agents. */
export interface Size {
  label: string;
  backends: number;
  agents: number;
}

/** What `rollout secure --stats` printed, in numbers. */
export interface Stats {
  stages: Record<string, number>;
  waitMs?: number;
  ownMs?: number;
  connections: number;
  commands: number;
  sentKb: number;
  peakRssMb: number;
  cpuMs: number;
}

const toMs = (n: string): number => Number(n) * 1000;
const toKb = (n: string, unit: string): number => Number(n) * (unit === 'MB' ? 1024 : unit === 'kB' ? 1 : 1 / 1024);

/** Reads rollout's `--stats` lines from its stderr. */
export function parseStats(stderr: string): Stats | undefined {
  const all = /stats: [\d.]+ s in all: (.*)/.exec(stderr);
  const wire = /stats: (\d+) SSH connection\(s\), (\d+) command\(s\).*?, ([\d.]+) (B|kB|MB) sent.*peak memory (\d+) MB, CPU ([\d.]+) s/.exec(stderr);
  if (!all?.[1] || !wire) return undefined;
  const stages = Object.fromEntries(
    all[1]
      .split(', ')
      .map((p) => p.split(' '))
      .map(([k, v]) => [k ?? '', toMs(v ?? 'NaN')]),
  );
  const run = /stats: run = ([\d.]+) s waiting on restarts and health gates \+ ([\d.]+) s/.exec(stderr);
  return {
    stages,
    ...(run?.[1] && run[2] ? { waitMs: toMs(run[1]), ownMs: toMs(run[2]) } : {}),
    connections: Number(wire[1]),
    commands: Number(wire[2]),
    sentKb: toKb(wire[3] ?? '0', wire[4] ?? 'B'),
    peakRssMb: Number(wire[5]),
    cpuMs: toMs(wire[6] ?? '0'),
  };
}

/** One `rollout secure` run, with what the hosts saw of it. */
export interface RolloutRun {
  proc: Proc;
  ok: boolean;
  stats?: Stats;
  conns: PerHost;
  sudo: PerHost;
  /** CPU seconds the latency relay spent during this run (0 without a relay). */
  relayCpuS: number;
}

/** A run of another tool (or a floor), timed. */
export interface Timed {
  ms: number;
  ok: boolean;
  note: string;
  /** Stopped at its timeout: `ms` is a lower bound. */
  stopped?: boolean;
  /** CPU seconds the latency relay spent during this run. */
  relayCpuS: number;
  /** CPU seconds of the tool's own processes on the controller. */
  ctlCpuS?: number;
}

/** Everything one cell measured. */
export interface CellResult {
  size: Size;
  /** Round trip time between controller and every sshd (0: no relay). */
  rttMs: number;
  hosts: number;
  labUpMs?: number;
  labError?: string;
  /** `ssh host true` to every host at once, per rep. */
  floor: number[];
  /** The same with `sudo -n true`: one connection and one root command, what a dry run needs at least. */
  floorSudo: number[];
  /** `rollout check`: rollout's own SSH stack, one connection and one sudo command per host. */
  rolloutCheck: number[];
  /** Relay CPU of the last rep of each floor and of `rollout check`. */
  floorRelayCpuS: { floor: number; floorSudo: number; rolloutCheck: number };
  check: RolloutRun[];
  full?: RolloutRun;
  noop?: RolloutRun;
  /** Ansible by (dry|real, forks). */
  ansible: Map<string, Timed>;
  /** pyinfra's dry run, real run and the no-op rerun after it. */
  pyinfra: { dry?: Timed; real?: Timed; noop?: Timed };
  /** Relay CPU over the whole cell, lab start to stop. */
  relayCpuTotalS: number;
  failures: string[];
  loads: number[];
  /** Idle share of the CPUs right before each measurement (after settling). */
  idle: number[];
}

export const ansibleKey = (check: boolean, forks: number): string => `${check ? 'dry' : 'real'}@${forks}`;

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

/** Seconds with two decimals below 10 s, one above: the figures' precision is no better. */
export const secs = (ms: number | undefined): string =>
  ms === undefined || Number.isNaN(ms) ? '–' : ms < 10_000 ? (ms / 1000).toFixed(2) : (ms / 1000).toFixed(1);

/** The dry run whose wall time is the median of the reps (the one whose --stats are shown). */
export const medianRun = (runs: readonly RolloutRun[]): RolloutRun | undefined =>
  runs.slice().sort((x, y) => x.proc.ms - y.proc.ms)[Math.floor(runs.length / 2)];
