/**
 * `npm run bench`: rollout against pyinfra and Ansible on the same lab fleets, measured, never
 * asserted, as a matrix of fleets × round trip times (one lab per cell, one at a time,
 * 127.60–69.x.y; a cell with an RTT reaches every sshd through the lab's latency relay).
 *
 * In each cell it measures:
 *   - the floor: one `ssh host true` per host, all at once, no connection sharing; the same with
 *     `sudo -n true`; and `rollout check` (one connection, one sudo command per host, rollout's SSH);
 *   - `rollout secure --check --diff --stats` (median of --reps): wall time, its stages, SSH
 *     connections and commands per host as the hosts saw them (sshd log, sudo log), bytes sent,
 *     the controller's peak RSS and CPU time;
 *   - `rollout secure --yes --stats`: wall time split into waiting on restarts and health gates
 *     vs rollout's own work, then the second, no-op run;
 *   - pyinfra with test/bench/pyinfra/deploy.py: `--dry --diff`, the real run, the no-op rerun;
 *   - `ansible-playbook` with test/bench/ansible/secure.yml, dry (`--check --diff`) and for real,
 *     at Ansible's default forks (5) and at forks = fleet size;
 *   - the latency relay's CPU time during each of those (it shares the cores with the tools).
 * The fleet is reset to plain ws:// before each real run of another tool. It prints the report in
 * Markdown (and writes it to --out). Exit 1 only when a tool did not do its job (a failed run),
 * never for a slow one.
 *
 *   npm run bench -- --sizes 3+20,3+50 --rtt 0,20,80 --reps 3 --out matrix.md
 *   npm run bench -- --sizes 3+200 --no-ansible-full
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ANSIBLE_DEFAULT_FORKS, ensureAnsible, runAnsible, type AnsibleRun } from './bench/ansible.js';
import { resetFleet, snapshotFleet } from './bench/fleet-reset.js';
import { childrenCpuSeconds, counted, enableSudoLog, lastLines, runProc, settle } from './bench/proc.js';
import { ensurePyinfra, runPyinfra, type PyinfraRun } from './bench/pyinfra.js';
import { report } from './bench/report.js';
import { ansibleKey, parseStats, secs, type CellResult, type RolloutRun, type Size, type Timed } from './bench/results.js';
import { startLab, stopLab, type Lab } from './lab/lab.js';
import { relayCpuSeconds } from './lab/relay-process.js';
import { dialPort } from './lab/state.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'src', 'cli', 'rollout.mjs');

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '3+10,3+50,3+200' },
    rtt: { type: 'string', default: '0' },
    reps: { type: 'string', default: '3' },
    'no-ansible': { type: 'boolean', default: false },
    'no-ansible-full': { type: 'boolean', default: false },
    'ansible-default-forks-max': { type: 'string', default: '60' },
    'ansible-timeout': { type: 'string', default: '60' },
    'no-pyinfra': { type: 'boolean', default: false },
    'pyinfra-timeout': { type: 'string', default: '60' },
    'no-full': { type: 'boolean', default: false },
    'settle-max': { type: 'string', default: '60' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  process.stdout.write(`npm run bench -- [options]
  --sizes 3+10,3+50,3+200        fleets (backends+agents)
  --rtt 0,20,80                  round trip times in ms to every sshd (default 0); each fleet is
                                 measured at each, one lab per cell, through the lab's latency relay
  --reps N                       repetitions of the floors and of rollout --check --diff (default 3)
  --no-full                      no real runs at all (rollout --yes, pyinfra and Ansible for real)
  --no-pyinfra                   leave pyinfra out (installed from PyPI into the bench cache when missing)
  --pyinfra-timeout MIN          stop a pyinfra run after MIN minutes and report it as a lower
                                 bound (default 60)
  --no-ansible                   leave Ansible out (it is installed from Debian when missing)
  --no-ansible-full              Ansible dry runs only
  --ansible-default-forks-max N  Ansible at its default 5 forks (dry and real runs) only on fleets
                                 up to N hosts (default 60: on 203 hosts it takes many minutes)
  --ansible-timeout MIN          stop an Ansible run after MIN minutes and report it as
                                 "> MIN" (a lower bound for the ratios; default 60)
  --settle-max S                 wait at most S seconds for the CPUs to be 80 % idle before each
                                 measurement (default 60; 3× that after a lab starts): on a machine
                                 others are using, waiting longer does not help
  --out FILE                     also write the Markdown report to FILE
`);
  process.exit(0);
}

function whole(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`bench: --${name} must be a whole number\n`);
    process.exit(2);
  }
  return n;
}

const sizes: Size[] = opts.sizes.split(',').map((s) => {
  const m = /^\s*(\d+)\+(\d+)\s*$/.exec(s);
  if (!m) {
    process.stderr.write(`bench: --sizes wants BACKENDS+AGENTS,… (e.g. 3+10,3+50), not '${s}'\n`);
    process.exit(2);
  }
  return { label: `${m[1]}+${m[2]}`, backends: Number(m[1]), agents: Number(m[2]) };
});
const rtts = [...new Set(opts.rtt.split(',').map((r) => whole('rtt', r.trim())))];
const reps = Math.max(1, whole('reps', opts.reps));
const defaultForksMax = whole('ansible-default-forks-max', opts['ansible-default-forks-max']);
const ansibleTimeoutMs = Math.max(1, whole('ansible-timeout', opts['ansible-timeout'])) * 60_000;
const settleMaxMs = whole('settle-max', opts['settle-max']) * 1000;
const pyinfraTimeoutMs = Math.max(1, whole('pyinfra-timeout', opts['pyinfra-timeout'])) * 60_000;

const benchStart = performance.now();
const say = (line: string): void => {
  process.stderr.write(`bench [${((performance.now() - benchStart) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
};

/** CPU seconds the lab's latency relay has used so far (0 without one). */
const relayCpu = (lab: Lab): number => (lab.state.relay ? relayCpuSeconds(lab.state.relay.pid) : 0);

async function rollout(lab: Lab, args: string[], stateDir: string, okCodes: number[]): Promise<RolloutRun> {
  const env = { ...process.env, ROLLOUT_STATE_DIR: stateDir, NO_COLOR: '1', CI: '1' };
  const relay0 = relayCpu(lab);
  const r = await counted(lab, () =>
    runProc(process.execPath, [BIN, 'secure', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--stats', ...args], { env, timeoutMs: 1_200_000 }),
  );
  const proc = r.value;
  const stats = parseStats(proc.stderr);
  return {
    proc,
    ok: !proc.timedOut && proc.code !== null && okCodes.includes(proc.code),
    ...(stats ? { stats } : {}),
    conns: r.conns,
    sudo: r.sudo,
    relayCpuS: relayCpu(lab) - relay0,
  };
}

// ── one cell: a fleet at one round trip time ──────────────────────────────────────────────

async function floor(lab: Lab, command = 'true'): Promise<number> {
  const t0 = performance.now();
  const results = await Promise.all(
    lab.state.hosts.map((h) =>
      // The key exchange rollout's SSH library negotiates: OpenSSH's default (sntrup761x25519) costs
      // the client ~3× the CPU, and 200 of them at once would measure that, not the hosts.
      runProc(
        'ssh',
        [
          '-F',
          '/dev/null',
          '-o',
          'KexAlgorithms=curve25519-sha256',
          '-o',
          'ControlMaster=no',
          '-o',
          'ControlPath=none',
          '-o',
          'BatchMode=yes',
          '-o',
          `UserKnownHostsFile=${lab.knownHostsPath}`,
          '-o',
          'GlobalKnownHostsFile=/dev/null',
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'ConnectTimeout=60',
          '-i',
          lab.keyPath,
          '-p',
          String(dialPort(lab.state, h)),
          `${lab.state.loginUser}@${h.address}`,
          command,
        ],
        { timeoutMs: 120_000 },
      ),
    ),
  );
  const failed = results.filter((r) => r.code !== 0).length;
  if (failed > 0) throw new Error(`the floor: ssh failed on ${failed} host(s): ${results.find((r) => r.code !== 0)?.stderr.trim() ?? ''}`);
  return performance.now() - t0;
}

function freeNet(preferred: number): number {
  for (let n = preferred; n <= 69; n++) {
    const marker = `/run/rollout-lab/net-${n}`;
    if (!existsSync(marker) || !existsSync(join(readFileSync(marker, 'utf8').trim(), 'lab.json'))) return n;
  }
  // Past 69 (more cells than ranges): the ranges of the cells already measured are free again.
  for (let n = 60; n < preferred && n <= 69; n++) {
    const marker = `/run/rollout-lab/net-${n}`;
    if (!existsSync(marker) || !existsSync(join(readFileSync(marker, 'utf8').trim(), 'lab.json'))) return n;
  }
  throw new Error('every range 127.60–69.0.0/16 holds a running lab');
}

let activeLab: Lab | undefined;
/** The directory of the lab being started or measured: a Ctrl-C while it starts must stop it too. */
let activeDir: string | undefined;

interface Tools {
  ansible: boolean;
  pyinfra: boolean;
}

async function benchCell(size: Size, rttMs: number, index: number, work: string, tools: Tools): Promise<CellResult> {
  const hosts = size.backends + size.agents;
  const result: CellResult = {
    size,
    rttMs,
    hosts,
    floor: [],
    floorSudo: [],
    rolloutCheck: [],
    floorRelayCpuS: { floor: 0, floorSudo: 0, rolloutCheck: 0 },
    check: [],
    ansible: new Map(),
    pyinfra: {},
    relayCpuTotalS: 0,
    failures: [],
    loads: [],
    idle: [],
  };
  const name = `${size.label} at ${rttMs} ms`;
  /** A run that did not do its job: said at once (a long bench may be cut short), reported at the end. */
  const fail = (what: string): void => {
    result.failures.push(what);
    say(`FAILED: ${what}`);
  };
  const net = freeNet(60 + (index % 10));
  const dir = join(work, `lab-${size.label}-rtt${rttMs}`);
  say(`${name}: starting the lab (${hosts} hosts on 127.${net}.0.0/16${rttMs ? `, ${rttMs} ms round trip through the relay` : ''})…`);
  const t0 = performance.now();
  let lab: Lab;
  activeDir = dir;
  try {
    lab = await startLab({ dir, backends: size.backends, agents: size.agents, net, rttMs, onProgress: (l) => say(`  lab: ${l}`) });
  } catch (err) {
    result.labError = (err as Error).message;
    fail(`${name}: the lab did not start: ${result.labError}`);
    return result;
  }
  activeLab = lab;
  const stateDir = join(work, `state-${size.label}-rtt${rttMs}`);
  const cellWork = join(work, `cell-${size.label}-rtt${rttMs}`);
  try {
    result.labUpMs = performance.now() - t0;
    say(`${name}: lab up in ${secs(result.labUpMs)} s`);
    enableSudoLog(lab);
    const snapshot = snapshotFleet(lab);
    // Builds the CLI bundle if sources changed, so no measured run pays for it.
    await runProc(process.execPath, [BIN, '--version'], { timeoutMs: 120_000 });

    // Measure a quiet machine, not the lab's own start-up.
    const quiet = async (maxMs: number): Promise<void> => {
      const s = await settle({ idle: 0.8, maxMs });
      result.idle.push(s.idle);
      if (s.waitedMs > 5000 || s.idle < 0.8) say(`${name}: waited ${secs(s.waitedMs)} s for the machine to settle (CPUs ${(s.idle * 100).toFixed(0)} % idle)`);
    };
    /** Runs fn and returns its result with the relay's CPU during it. */
    const withRelay = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
      const c0 = relayCpu(lab);
      const value = await fn();
      return [value, relayCpu(lab) - c0];
    };
    await quiet(3 * settleMaxMs);
    for (let rep = 0; rep < reps; rep++) {
      if (rep > 0) await quiet(settleMaxMs);
      result.loads.push(loadavg()[0] ?? 0);
      const [f, fCpu] = await withRelay(() => floor(lab));
      const [fs, fsCpu] = await withRelay(() => floor(lab, 'sudo -n true'));
      const [c, cCpu] = await withRelay(() =>
        runProc(process.execPath, [BIN, 'check', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath], {
          env: { ...process.env, NO_COLOR: '1' },
          timeoutMs: 600_000,
        }),
      );
      result.floor.push(f);
      result.floorSudo.push(fs);
      result.rolloutCheck.push(c.ms);
      result.floorRelayCpuS = { floor: fCpu, floorSudo: fsCpu, rolloutCheck: cCpu };
      if (c.code !== 0) fail(`${name} rollout check: exit ${String(c.code)}\n${lastLines(c.stdout + c.stderr)}`);
      const r = await rollout(lab, ['--check', '--diff'], stateDir, [5]);
      result.check.push(r);
      say(
        `${name}: floor ${secs(f)} s (with sudo ${secs(fs)} s), rollout check ${secs(c.ms)} s, rollout --check --diff ${secs(r.proc.ms)} s${r.ok ? '' : ` FAILED (exit ${String(r.proc.code)})`}`,
      );
      if (!r.ok) fail(`${name} rollout --check --diff: exit ${String(r.proc.code)}\n${lastLines(r.proc.stderr)}`);
    }

    const ansibleRun = async (check: boolean, forks: number): Promise<void> => {
      await quiet(settleMaxMs);
      const cpu0 = childrenCpuSeconds();
      say(`${name}: ansible-playbook ${check ? '--check --diff' : '(real run)'} -f ${forks}…`);
      const [r, relayCpuS]: [AnsibleRun, number] = await withRelay(() => runAnsible(lab, work, { check, forks, timeoutMs: ansibleTimeoutMs }));
      const stopped = r.proc.timedOut;
      result.ansible.set(ansibleKey(check, forks), {
        ms: r.proc.ms,
        ok: r.ok,
        note: r.summary,
        ctlCpuS: childrenCpuSeconds() - cpu0,
        relayCpuS,
        ...(stopped ? { stopped } : {}),
      });
      say(
        `${name}: ansible ${check ? 'dry' : 'real'} -f ${forks}: ${stopped ? `stopped unfinished after ${secs(r.proc.ms)} s` : `${secs(r.proc.ms)} s, ${r.summary}`}`,
      );
      // Slow is a figure, not a failure.
      if (!r.ok && !stopped)
        fail(`${name} ansible ${check ? 'dry' : 'real'} -f ${forks}: exit ${String(r.proc.code)}: ${r.summary}\n${lastLines(r.proc.stdout)}`);
    };
    const pyinfraRun = async (what: 'dry' | 'real' | 'noop'): Promise<Timed> => {
      await quiet(settleMaxMs);
      const cpu0 = childrenCpuSeconds();
      say(`${name}: pyinfra ${what === 'dry' ? '--dry --diff' : what === 'real' ? '(real run)' : '(again, nothing to change)'}…`);
      const [r, relayCpuS]: [PyinfraRun, number] = await withRelay(() => runPyinfra(lab, cellWork, { dry: what === 'dry', timeoutMs: pyinfraTimeoutMs }));
      const stopped = r.proc.timedOut;
      const t: Timed = { ms: r.proc.ms, ok: r.ok, note: r.summary, ctlCpuS: childrenCpuSeconds() - cpu0, relayCpuS, ...(stopped ? { stopped } : {}) };
      result.pyinfra[what] = t;
      say(`${name}: pyinfra ${what}: ${stopped ? `stopped unfinished after ${secs(r.proc.ms)} s` : `${secs(r.proc.ms)} s, ${r.summary}`}`);
      // pyinfra ends with its results table: the lines that say what went wrong come before it.
      const errors = (r.proc.stdout + r.proc.stderr).split('\n').filter((l) => /error|fail/i.test(l) && !/Grand total|Operation\s+Hosts/.test(l));
      if (!r.ok && !stopped) fail(`${name} pyinfra ${what}: ${r.summary}\n${lastLines(errors.slice(0, 12).join('\n'), 12)}`);
      return t;
    };
    // Ansible at its default forks takes many minutes on a large fleet: only up to --ansible-default-forks-max hosts.
    const forksList = [...new Set([ANSIBLE_DEFAULT_FORKS, hosts])].filter(
      (forks) => forks !== ANSIBLE_DEFAULT_FORKS || hosts <= defaultForksMax || forks === hosts,
    );
    if (tools.pyinfra) await pyinfraRun('dry');
    if (tools.ansible) for (const forks of forksList) await ansibleRun(true, forks);

    if (!opts['no-full']) {
      await quiet(settleMaxMs);
      say(`${name}: rollout secure --yes, then again (no-op)`);
      result.full = await rollout(lab, ['--yes'], stateDir, [0]);
      say(`${name}: real run ${secs(result.full.proc.ms)} s${result.full.ok ? '' : ` FAILED (exit ${String(result.full.proc.code)})`}`);
      if (!result.full.ok) fail(`${name} rollout --yes: exit ${String(result.full.proc.code)}\n${lastLines(result.full.proc.stderr, 12)}`);
      else {
        result.noop = await rollout(lab, ['--yes'], stateDir, [0]);
        say(`${name}: second run ${secs(result.noop.proc.ms)} s`);
      }
      if (tools.pyinfra) {
        say(`${name}: resetting the fleet to plain ws://`);
        await resetFleet(lab, snapshot);
        const real = await pyinfraRun('real');
        // A no-op rerun only means something on a fleet the real run finished.
        if (real.ok) await pyinfraRun('noop');
      }
      if (tools.ansible && !opts['no-ansible-full']) {
        for (const forks of forksList) {
          say(`${name}: resetting the fleet to plain ws://`);
          await resetFleet(lab, snapshot);
          await ansibleRun(false, forks);
        }
      }
    }
  } catch (err) {
    fail(`${name}: ${(err as Error).message}`);
  } finally {
    // The relay started with this lab: all it used is this cell's, settling included.
    result.relayCpuTotalS = relayCpu(lab);
    say(`${name}: stopping the lab`);
    await lab.stop();
    activeLab = undefined;
    activeDir = undefined;
    rmSync(dir, { recursive: true, force: true });
    rmSync(cellWork, { recursive: true, force: true });
  }
  return result;
}

// ── main ──────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: the lab needs root (namespaces, sshd)\n');
    return 2;
  }
  const a = opts['no-ansible'] ? { why: '--no-ansible' } : ensureAnsible(say);
  const p = opts['no-pyinfra'] ? { why: '--no-pyinfra' } : ensurePyinfra(say);
  const ssh = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' }).trim().split(',')[0] ?? 'ssh';
  const header = [
    `machine: ${cpus().length} CPU(s), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at the start; node ${process.version}; ${ssh}`,
    `tools: ${a.version ?? `Ansible not run (${a.why ?? ''})`}; ${p.version ?? `pyinfra not run (${p.why ?? ''})`}`,
    `fleets ${sizes.map((s) => s.label).join(', ')} × RTT ${rtts.join(', ')} ms; ${reps} rep(s) of the floors and the dry run`,
  ];
  const work = mkdtempSync(join(tmpdir(), 'rollout-bench-'));
  // mkdtemp makes it 0700; the lab's services run as `sensu` and must reach their programs inside.
  chmodSync(work, 0o755);
  const results: CellResult[] = [];
  const render = (extra: string[]): string => report(results, { header: [...header, ...extra], defaultForksMax, ansibleDefaultForks: ANSIBLE_DEFAULT_FORKS });
  const emit = (text: string): void => {
    process.stdout.write(`${text}\n`);
    if (opts.out) writeFileSync(opts.out, `${text}\n`);
  };
  let stopping = false;
  const stop = (signal: string): void => {
    // A Ctrl-C reaches this process twice (from the terminal, and relayed by tsx): clean up once.
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping the lab`);
    void (activeLab?.stop() ?? (activeDir ? stopLab(activeDir) : Promise.resolve())).finally(() => {
      rmSync(work, { recursive: true, force: true });
      // The cells already measured are not lost with the one cut short.
      if (results.length > 0) emit(render([`interrupted (${signal}) after ${secs(performance.now() - benchStart)} s: cells finished so far`]));
      process.exit(130);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const tools: Tools = { ansible: a.version !== undefined, pyinfra: p.version !== undefined };
  try {
    let index = 0;
    for (const size of sizes) for (const rtt of rtts) results.push(await benchCell(size, rtt, index++, work, tools));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  emit(
    render([
      `bench total: ${secs(performance.now() - benchStart)} s, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at the end`,
    ]),
  );
  const failures = results.flatMap((r) => r.failures);
  if (failures.length) {
    process.stdout.write(`\n${failures.length} run(s) did not do their job:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await activeLab?.stop().catch(() => undefined);
    process.exit(1);
  },
);
