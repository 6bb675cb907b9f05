/**
 * The bench's report, in Markdown (it goes into RESULTS.md as it is): the matrix of fleets × round
 * trip times with every tool's wall time and the ratios, rollout's --stats per run, what the
 * latency relay cost, and the targets of issues 10 and 20 as met / not met.
 */
import type { PerHost } from './proc.js';
import { ansibleKey, median, medianRun, secs, type CellResult, type RolloutRun, type Timed } from './results.js';

/** What the report needs to know of how the bench was run. */
export interface ReportOptions {
  header: string[];
  /** Ansible ran at its default forks only on fleets up to this many hosts. */
  defaultForksMax: number;
  ansibleDefaultForks: number;
}

const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');
}

const fmtPerHost = (p: PerHost | undefined): string => (!p ? '–' : p.min === p.max ? String(p.min) : `${p.mean.toFixed(1)} (${p.min}–${p.max})`);
const cpu = (s: number | undefined): string => (s === undefined ? '–' : s.toFixed(2));

/** A time to compare against: a finished run, or a stopped one as a lower bound. */
interface Bound {
  ms: number;
  bound: boolean;
}

/** The fastest finished run, or, when none finished, the longest stopped one as a lower bound. */
function best(ts: readonly (Timed | undefined)[]): Bound | undefined {
  const done = ts.filter((t): t is Timed => t?.ok === true).map((t) => t.ms);
  if (done.length > 0) return { ms: Math.min(...done), bound: false };
  const stopped = ts.filter((t): t is Timed => t?.stopped === true).map((t) => t.ms);
  return stopped.length > 0 ? { ms: Math.max(...stopped), bound: true } : undefined;
}

const vs = (b: Bound | undefined, ms: number | undefined): string => (b && ms ? `${b.bound ? '≥ ' : ''}${(b.ms / ms).toFixed(1)}×` : '–');
const timed = (t: Timed | undefined): string => (!t ? '–' : t.ok ? secs(t.ms) : t.stopped ? `> ${secs(t.ms)} (stopped)` : `${secs(t.ms)} FAILED`);
const asBound = (t: Timed | undefined): Bound | undefined => best([t]);
const ansibleOf = (c: CellResult, check: boolean, forks: number): Timed | undefined => c.ansible.get(ansibleKey(check, forks));

export function report(cells: readonly CellResult[], options: ReportOptions): string {
  const out: string[] = ['', '## rollout bench', '', ...options.header.map((l) => `- ${l}`), ''];
  const f5 = options.ansibleDefaultForks;
  const a = ansibleOf;
  const a5 = (c: CellResult, check: boolean): string => (!a(c, check, f5) && c.hosts > options.defaultForksMax ? 'not run' : timed(a(c, check, f5)));
  const dryOf = (c: CellResult): number => median(c.check.map((r) => r.proc.ms));

  out.push(
    'Wall time in seconds; rollout dry run: median of the reps; "÷ rollout": how many times longer the other tool took (≥: it was stopped at its timeout).',
    '',
  );
  out.push(
    table(
      [
        'fleet',
        'RTT ms',
        'floor',
        'floor sudo',
        'rollout check',
        'rollout dry',
        'pyinfra dry',
        'Ansible dry -f5',
        'Ansible dry -fN',
        'pyinfra ÷ rollout',
        'best Ansible ÷ rollout',
        'rollout real',
        'pyinfra real',
        'Ansible real -f5',
        'Ansible real -fN',
        'pyinfra ÷ rollout',
        'best Ansible ÷ rollout',
        'rollout no-op',
        'pyinfra no-op',
      ],
      cells.map((c) => {
        const dry = dryOf(c);
        return [
          c.size.label,
          String(c.rttMs),
          secs(median(c.floor)),
          secs(median(c.floorSudo)),
          secs(median(c.rolloutCheck)),
          secs(dry),
          timed(c.pyinfra.dry),
          a5(c, true),
          timed(a(c, true, c.hosts)),
          vs(asBound(c.pyinfra.dry), dry),
          vs(best([a(c, true, f5), a(c, true, c.hosts)]), dry),
          c.full ? secs(c.full.proc.ms) : '–',
          timed(c.pyinfra.real),
          a5(c, false),
          timed(a(c, false, c.hosts)),
          vs(asBound(c.pyinfra.real), c.full?.proc.ms),
          vs(best([a(c, false, f5), a(c, false, c.hosts)]), c.full?.proc.ms),
          c.noop ? secs(c.noop.proc.ms) : '–',
          timed(c.pyinfra.noop),
        ];
      }),
    ),
    '',
  );

  out.push("rollout's own `--stats` (the dry run shown is the median one):", '');
  const detail: string[][] = [];
  for (const c of cells) {
    const runs: [string, RolloutRun | undefined][] = [
      ['dry', medianRun(c.check)],
      ['real', c.full],
      ['no-op', c.noop],
    ];
    for (const [what, run] of runs) {
      if (!run) continue;
      const s = run.stats;
      detail.push([
        c.size.label,
        String(c.rttMs),
        what,
        secs(run.proc.ms),
        secs(s?.stages.connect),
        secs(s?.stages.facts),
        secs(s ? (s.stages.plan ?? 0) + (s.stages.show ?? 0) : undefined),
        secs(s?.waitMs),
        secs(s?.ownMs),
        fmtPerHost(run.conns),
        fmtPerHost(run.sudo),
        s ? (s.commands / Math.max(1, s.connections)).toFixed(1) : '–',
        s ? `${s.sentKb.toFixed(0)} kB` : '–',
        s ? `${s.peakRssMb} MB` : '–',
        s ? secs(s.cpuMs) : '–',
        c.rttMs > 0 ? cpu(run.relayCpuS) : '–',
      ]);
    }
  }
  out.push(
    table(
      [
        'fleet',
        'RTT ms',
        'run',
        'wall',
        'connect',
        'facts',
        'plan+show',
        'wait',
        'own work',
        'conns/host',
        'sudo cmds/host',
        'cmds/conn (rollout)',
        'sent',
        'peak RSS',
        'CPU s',
        'relay CPU s',
      ],
      detail,
    ),
    '',
  );

  const relayed = cells.filter((c) => c.rttMs > 0);
  if (relayed.length > 0) {
    out.push(
      'CPU seconds the latency relay spent (one process for every host, on the same cores as the tools): subtract them to compare with a real network.',
      '',
    );
    out.push(
      table(
        [
          'fleet',
          'RTT ms',
          'whole cell',
          'floor',
          'floor sudo',
          'rollout check',
          'rollout dry',
          'rollout real',
          'pyinfra dry',
          'pyinfra real',
          'Ansible dry -fN',
          'Ansible real -fN',
        ],
        relayed.map((c) => [
          c.size.label,
          String(c.rttMs),
          cpu(c.relayCpuTotalS),
          cpu(c.floorRelayCpuS.floor),
          cpu(c.floorRelayCpuS.floorSudo),
          cpu(c.floorRelayCpuS.rolloutCheck),
          cpu(medianRun(c.check)?.relayCpuS),
          cpu(c.full?.relayCpuS),
          cpu(c.pyinfra.dry?.relayCpuS),
          cpu(c.pyinfra.real?.relayCpuS),
          cpu(a(c, true, c.hosts)?.relayCpuS),
          cpu(a(c, false, c.hosts)?.relayCpuS),
        ]),
      ),
      '',
    );
  }

  out.push('Machine state per cell:', '');
  for (const c of cells) {
    if (c.labError) out.push(`- ${c.size.label} at ${c.rttMs} ms: the lab did not start: ${c.labError}`);
    else if (c.loads.length)
      out.push(
        `- ${c.size.label} at ${c.rttMs} ms: load average ${Math.min(...c.loads).toFixed(1)}–${Math.max(...c.loads).toFixed(1)}, CPUs ${(Math.min(...c.idle) * 100).toFixed(0)}–${(Math.max(...c.idle) * 100).toFixed(0)} % idle before measuring; lab up in ${secs(c.labUpMs)} s`,
      );
  }
  out.push('', ...targets(cells, options), '');

  out.push(
    "- floor: system OpenSSH, `ssh host true` on every host at once, no connection sharing, curve25519-sha256 key exchange (as rollout); floor sudo: `ssh host sudo -n true` the same way; rollout check: `rollout check`, one connection and one sudo command per host through rollout's own SSH library.",
    "- RTT: the lab's latency relay (test/lab/delay-relay.ts) holds every chunk RTT/2 each way between the controller and each sshd; every tool, and the floors, go through it. Only SSH is delayed: probes the controller makes itself (rollout's HTTP health and TLS checks) dial the hosts directly.",
    "- rollout: stages and bytes from its own --stats; conns/host and sudo cmds/host from each host's sshd log and a sudo log the bench turns on.",
    "- wait: wall time with a restart or health gate in flight; own work: the rest of the real run's change stage (uploads, patches, rendering).",
    '- pyinfra: test/bench/pyinfra/deploy.py (pinned version, its default parallelism: every host at once), `--dry --diff` for the dry run, `-y` for the real run, then again for the no-op rerun.',
    '- Ansible: test/bench/ansible/secure.yml, test/bench/ansible/ansible.cfg (pipelining, ControlPersist, host keys checked); -f5 is its default forks, -fN forks = hosts.',
    '- the fleet is reset to plain ws:// (files as at lab start, services restarted, healthy) before each Ansible and pyinfra real run.',
  );
  return out.join('\n');
}

/** Issue 10's and issue 20's targets, on the cells they name. */
function targets(cells: readonly CellResult[], options: ReportOptions): string[] {
  const out: string[] = [];
  const mark = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
  const measured = cells.filter((c) => c.check.length > 0);
  const biggest = Math.max(0, ...measured.map((c) => c.hosts));
  const big0 = measured.find((c) => c.hosts === biggest && c.rttMs === 0) ?? measured.filter((c) => c.hosts === biggest).at(0);
  if (!big0) return out;
  const f5 = options.ansibleDefaultForks;
  const a = ansibleOf;
  const dry = median(big0.check.map((r) => r.proc.ms));
  const sudoFloor = median(big0.floorSudo);
  const check = median(big0.rolloutCheck);
  const runsOf = (c: CellResult): RolloutRun[] => [...c.check, ...(c.full ? [c.full] : [])];
  const everyRun = measured.flatMap(runsOf);
  const conns = everyRun.every((r) => r.conns.min === 1 && r.conns.max === 1);
  const rss = Math.max(...runsOf(big0).map((r) => r.stats?.peakRssMb ?? Infinity));

  out.push(`Targets on ${big0.size.label} at ${big0.rttMs} ms unless said (issues 10 and 20):`, '');
  out.push(`- dry run ≤ 1.1× the sudo floor: ${secs(dry)} s ÷ ${secs(sudoFloor)} s = ${(dry / sudoFloor).toFixed(2)}×, ${mark(dry <= 1.1 * sudoFloor)}`);
  out.push(`- dry run ≤ 1.1× \`rollout check\`: ${secs(dry)} s ÷ ${secs(check)} s = ${(dry / check).toFixed(2)}×, ${mark(dry <= 1.1 * check)}`);
  for (const c of measured.filter((x) => x.hosts === biggest && x.rttMs > 0 && big0.rttMs === 0)) {
    const d = median(c.check.map((r) => r.proc.ms));
    out.push(`- dry run at ${c.rttMs} ms ≤ its time at 0 ms + 2 s: ${secs(d)} s vs ${secs(dry)} s + 2 s, ${mark(d <= dry + 2000)}`);
  }
  const realSudo = measured.filter((c) => c.full).map((c) => c.full?.sudo.max ?? Infinity);
  out.push(
    `- real run: at most 2 sudo invocations per host (every cell): ${realSudo.length ? `at most ${Math.max(...realSudo)}, ${mark(Math.max(...realSudo) <= 2)}` : 'not measured'}`,
  );
  const own = big0.full?.stats?.ownMs;
  out.push(
    `- real run: own work ≤ 1.5× the sudo floor: ${own !== undefined ? `${secs(own)} s vs ${secs(1.5 * sudoFloor)} s, ${mark(own <= 1.5 * sudoFloor)}` : 'not measured'}`,
  );
  const losses: string[] = [];
  let compared = 0;
  for (const c of measured) {
    const d = median(c.check.map((r) => r.proc.ms));
    const pairs: [string, number | undefined, Timed | undefined][] = [
      ['pyinfra dry', d, c.pyinfra.dry],
      ['Ansible dry -f5', d, a(c, true, f5)],
      ['Ansible dry -fN', d, a(c, true, c.hosts)],
      ['pyinfra real', c.full?.proc.ms, c.pyinfra.real],
      ['Ansible real -f5', c.full?.proc.ms, a(c, false, f5)],
      ['Ansible real -fN', c.full?.proc.ms, a(c, false, c.hosts)],
    ];
    for (const [what, mine, theirs] of pairs) {
      if (mine === undefined || !theirs || !(theirs.ok || theirs.stopped)) continue;
      compared += 1;
      if (theirs.ms <= mine) losses.push(`${what} on ${c.size.label} at ${c.rttMs} ms`);
    }
  }
  out.push(
    `- faster than pyinfra and Ansible in every cell, dry and real: ${compared === 0 ? 'not measured' : losses.length ? `NOT met (${losses.join('; ')})` : `met (${compared} comparisons)`}`,
  );
  const small = measured.find((c) => c.size.label === '3+20' && c.rttMs === 0);
  if (small) {
    const b = best([a(small, true, f5), a(small, true, small.hosts)]);
    const r = b ? b.ms / median(small.check.map((x) => x.proc.ms)) : undefined;
    out.push(
      `- ≥ 18× Ansible's best on 3+20 dry at 0 ms: ${r === undefined ? 'not measured' : `${vs(b, median(small.check.map((x) => x.proc.ms)))}, ${r >= 18 ? 'met' : b?.bound ? 'not shown (Ansible stopped)' : 'NOT met'}`}`,
    );
  }
  const far = measured.find((c) => c.hosts >= 200 && c.rttMs === 80);
  if (far) {
    const b = best([a(far, true, f5), a(far, true, far.hosts)]);
    const r = b ? b.ms / median(far.check.map((x) => x.proc.ms)) : undefined;
    out.push(
      `- ≥ 50× Ansible's best on ${far.size.label} dry at 80 ms: ${r === undefined ? 'not measured' : `${vs(b, median(far.check.map((x) => x.proc.ms)))}, ${r >= 50 ? 'met' : b?.bound ? 'not shown (Ansible stopped)' : 'NOT met'}`}`,
    );
  }
  out.push(`- controller peak RSS ≤ 200 MB: ${Number.isFinite(rss) ? `${rss} MB, ${mark(rss <= 200)}` : 'not measured'}`);
  out.push(`- exactly 1 SSH connection per host (every rollout run): ${mark(everyRun.length ? conns : undefined)}`);
  return out;
}
