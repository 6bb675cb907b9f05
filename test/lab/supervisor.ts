/**
 * The lab's systemd: one process per lab that runs every host's Sensu unit inside that host's
 * namespaces and answers each host's `systemctl` over a Unix socket. It behaves like systemd where
 * a rollout can tell the difference: User=sensu, EnvironmentFile, Restart=always (a crash-looping
 * unit looks active between crashes), the start limit that turns a crash loop into `failed` until
 * `reset-failed`, output appended to the unit's log, and whole-process-group stops.
 *
 * Usage: node supervisor.mjs LAB_DIR   (reads LAB_DIR/lab.json; SIGTERM stops every unit, then exits)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { unitFor, type UnitSpec, type UnitStatus } from './units.js';
import type { LabState, LabHostState } from './state.js';

interface Unit {
  spec: UnitSpec;
  host: LabHostState;
  status: UnitStatus;
  child: ChildProcess | undefined;
  /** Start times inside the start-limit window. */
  recentStarts: number[];
  /** True while a stop was asked for: the exit that follows is not a crash. */
  stopping: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  /** Resolves when the current main process has exited. */
  exited: Promise<void>;
}

interface Reply {
  code: number;
  stdout: string;
  stderr: string;
}

const labDir = process.argv[2];
if (!labDir) {
  process.stderr.write('usage: supervisor LAB_DIR\n');
  process.exit(2);
}
const state = JSON.parse(readFileSync(join(labDir, 'lab.json'), 'utf8')) as LabState;
const units = new Map<string, Unit>();
let shuttingDown = false;

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
}

/** Path of a file as the host sees it: /proc/<pid>/root walks the host's own mounts. */
function inHost(host: LabHostState, path: string): string {
  return join(`/proc/${host.holderPid}/root`, path);
}

function saveStatus(unit: Unit): void {
  const dir = join(unit.host.dir, 'units');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${unit.spec.name}.json.tmp`);
  writeFileSync(tmp, JSON.stringify(unit.status, null, 2));
  renameSync(tmp, join(dir, `${unit.spec.name}.json`));
}

/** Parses an EnvironmentFile the way systemd does for the simple cases packages use. */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m?.[1]) continue;
    let value = m[2] ?? '';
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    }
    env[m[1]] = value;
  }
  return env;
}

function unitEnvironment(unit: Unit): Record<string, string> {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    HOME: '/var/lib/sensu',
    USER: unit.spec.user,
    LOGNAME: unit.spec.user,
    SHELL: '/usr/sbin/nologin',
    SENSU_LAB_DIR: unit.host.dir,
  };
  if (unit.host.role === 'backend' && state.admin) {
    // What `sensu-backend init` would have been given once: lab credentials, never in Sensu's files.
    env.SENSU_BACKEND_CLUSTER_ADMIN_USERNAME = state.admin.username;
    env.SENSU_BACKEND_CLUSTER_ADMIN_PASSWORD = state.admin.password;
    env.SENSU_BACKEND_CLUSTER_ADMIN_API_KEY = state.admin.apiKey;
  }
  for (const entry of unit.spec.environmentFiles) {
    const optional = entry.startsWith('-');
    const path = optional ? entry.slice(1) : entry;
    try {
      Object.assign(env, parseEnvFile(readFileSync(inHost(unit.host, path), 'utf8')));
    } catch (err) {
      if (!optional) throw err;
    }
  }
  return env;
}

function setState(unit: Unit, active: UnitStatus['activeState'], sub: UnitStatus['subState'], result?: string): void {
  unit.status.activeState = active;
  unit.status.subState = sub;
  if (result !== undefined) unit.status.result = result;
  saveStatus(unit);
}

/** Starts the main process; refuses (like systemd) when the start limit was hit. */
function startUnit(unit: Unit, automatic: boolean): boolean {
  if (unit.child) return true;
  const now = Date.now();
  unit.recentStarts = unit.recentStarts.filter((t) => now - t < unit.spec.startLimitIntervalMs);
  if (unit.recentStarts.length >= unit.spec.startLimitBurst) {
    unit.status.mainPid = 0;
    unit.status.startedAt = 0;
    setState(unit, 'failed', 'failed', 'start-limit-hit');
    log(`${unit.host.name}/${unit.spec.name}: start request repeated too quickly, refusing to start`);
    return false;
  }
  unit.recentStarts.push(now);
  const logPath = inHost(unit.host, `/var/log/sensu/${unit.spec.name}.log`);
  let out: number;
  try {
    out = openSync(logPath, 'a');
  } catch {
    out = openSync('/dev/null', 'a');
  }
  const child = spawn(
    '/usr/bin/nsenter',
    [
      `--target=${unit.host.holderPid}`,
      '--mount',
      '--uts',
      '--wd=/',
      '--',
      '/usr/bin/setpriv',
      `--reuid=${unit.spec.user}`,
      `--regid=${unit.spec.user}`,
      '--init-groups',
      '--',
      ...unit.spec.exec,
    ],
    { env: unitEnvironment(unit), stdio: ['ignore', out, out], detached: true },
  );
  closeSync(out);
  unit.child = child;
  unit.stopping = false;
  unit.status.mainPid = child.pid ?? 0;
  unit.status.startedAt = now;
  unit.status.starts += 1;
  if (automatic) unit.status.nRestarts += 1;
  setState(unit, 'active', 'running', 'success');
  unit.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      unit.child = undefined;
      unit.status.mainPid = 0;
      unit.status.startedAt = 0;
      unit.status.lastExitStatus = code ?? (signal ? 128 : null);
      // Whatever the main process left behind in its group (etcd) goes with it, as with cgroups.
      killGroup(child.pid, 'SIGKILL');
      if (unit.stopping || shuttingDown) {
        setState(unit, 'inactive', 'dead');
      } else {
        const result = signal ? 'signal' : 'exit-code';
        setState(unit, 'activating', 'auto-restart', result);
        unit.restartTimer = setTimeout(() => {
          unit.restartTimer = undefined;
          if (!unit.stopping && !shuttingDown) startUnit(unit, true);
        }, unit.spec.restartSec);
      }
      resolve();
    });
  });
  return true;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

async function stopUnit(unit: Unit): Promise<void> {
  unit.stopping = true;
  if (unit.restartTimer) {
    clearTimeout(unit.restartTimer);
    unit.restartTimer = undefined;
  }
  const child = unit.child;
  if (!child) {
    if (unit.status.activeState !== 'failed') setState(unit, 'inactive', 'dead');
    return;
  }
  setState(unit, 'deactivating', 'stop-sigterm');
  killGroup(child.pid, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), unit.spec.stopTimeoutMs);
  await unit.exited;
  clearTimeout(timer);
}

function unitsOf(host: LabHostState): Unit[] {
  return [...units.values()].filter((u) => u.host.name === host.name);
}

function findUnit(host: LabHostState, arg: string): Unit | undefined {
  const name = arg.replace(/\.service$/, '');
  return units.get(`${host.name}/${name}`);
}

function timestamp(ms: number): string {
  if (!ms) return '';
  const d = new Date(ms);
  const day = d.toUTCString().slice(0, 3);
  return `${day} ${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function showUnit(unit: Unit): Record<string, string> {
  const s = unit.status;
  return {
    Id: `${unit.spec.name}.service`,
    Names: `${unit.spec.name}.service`,
    Description: unit.spec.description,
    LoadState: 'loaded',
    ActiveState: s.activeState,
    SubState: s.subState,
    Result: s.result,
    MainPID: String(s.mainPid),
    ExecMainPID: String(s.mainPid),
    ExecMainStatus: String(s.lastExitStatus ?? 0),
    ExecMainStartTimestamp: timestamp(s.startedAt),
    ActiveEnterTimestamp: timestamp(s.startedAt),
    NRestarts: String(s.nRestarts),
    Restart: 'always',
    User: unit.spec.user,
    Group: unit.spec.user,
    UnitFileState: s.enabled ? 'enabled' : 'disabled',
    FragmentPath: `/lib/systemd/system/${unit.spec.name}.service`,
    StartLimitBurst: String(unit.spec.startLimitBurst),
    StartLimitIntervalUSec: `${unit.spec.startLimitIntervalMs / 1000}s`,
  };
}

function tail(path: string, lines: number): string {
  try {
    const all = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    return all.slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function statusText(unit: Unit): string {
  const s = unit.status;
  const since = s.startedAt ? ` since ${timestamp(s.startedAt)}; ${Math.round((Date.now() - s.startedAt) / 1000)}s ago` : '';
  const sub = s.subState === 'auto-restart' ? 'auto-restart' : s.subState;
  const active = s.activeState === 'failed' ? `failed (Result: ${s.result})` : `${s.activeState} (${sub})${since}`;
  const dot = s.activeState === 'active' ? '●' : s.activeState === 'failed' ? '×' : '○';
  const lines = [
    `${dot} ${unit.spec.name}.service - ${unit.spec.description}`,
    `     Loaded: loaded (/lib/systemd/system/${unit.spec.name}.service; ${s.enabled ? 'enabled' : 'disabled'}; preset: enabled)`,
    `     Active: ${active}`,
  ];
  if (s.mainPid) lines.push(`   Main PID: ${s.mainPid} (${unit.spec.name})`);
  const logText = tail(inHost(unit.host, `/var/log/sensu/${unit.spec.name}.log`), 10);
  return `${lines.join('\n')}\n${logText ? `\n${logText}\n` : ''}`;
}

const exitForState = (u: Unit): number => (u.status.activeState === 'active' ? 0 : 3);

/** Runs one `systemctl` command line for a host. */
async function systemctl(host: LabHostState, argv: string[], uid: number): Promise<Reply> {
  const flags = argv.filter((a) => a.startsWith('-'));
  const args = argv.filter((a) => !a.startsWith('-'));
  // `-p X`, `--property X` take a value: pull it out of args.
  const props: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-p' || a === '--property') {
      props.push(...(argv[i + 1] ?? '').split(','));
      const idx = args.indexOf(argv[i + 1] ?? '');
      if (idx >= 0) args.splice(idx, 1);
    } else if (a.startsWith('--property=')) props.push(...a.slice(11).split(','));
    else if (a.startsWith('-p') && a.length > 2) props.push(...a.slice(2).split(','));
  }
  const quiet = flags.includes('-q') || flags.includes('--quiet');
  const valueOnly = flags.includes('--value');
  const [verb = 'list-units', ...names] = args;
  const mutating = ['start', 'stop', 'restart', 'try-restart', 'reload-or-restart', 'reset-failed', 'enable', 'disable', 'kill', 'daemon-reload'];
  if (mutating.includes(verb) && uid !== 0) {
    return {
      code: 1,
      stdout: '',
      stderr: `Failed to ${verb} ${names.join(' ')}: Interactive authentication required.\nSee system logs and 'systemctl status ${names.join(' ')}' for details.\n`,
    };
  }
  const resolve = (name: string): Unit | Reply => {
    const unit = findUnit(host, name);
    if (unit) return unit;
    const id = name.endsWith('.service') ? name : `${name}.service`;
    return { code: verb === 'status' ? 4 : 5, stdout: '', stderr: `Unit ${id} could not be found.\n` };
  };
  const each = async (fn: (u: Unit) => Promise<Reply | undefined> | Reply | undefined): Promise<Reply> => {
    let out = '';
    let errText = '';
    let code = 0;
    if (names.length === 0) return { code: 1, stdout: '', stderr: `Too few arguments.\n` };
    for (const name of names) {
      const u = resolve(name);
      if (!('spec' in u)) {
        errText += u.stderr;
        code = code || u.code;
        continue;
      }
      const r = await fn(u);
      if (r) {
        out += r.stdout;
        errText += r.stderr;
        code = code || r.code;
      }
    }
    return { code, stdout: out, stderr: errText };
  };
  const refused = (u: Unit): Reply => ({
    code: 1,
    stdout: '',
    stderr: `Job for ${u.spec.name}.service failed because start of the service was attempted too often.\nSee "systemctl status ${u.spec.name}.service" and "journalctl -xeu ${u.spec.name}.service" for details.\nTo force a start use "systemctl reset-failed ${u.spec.name}.service"\nfollowed by "systemctl start ${u.spec.name}.service" again.\n`,
  });
  switch (verb) {
    case 'start':
      return each((u) => (u.child || startUnit(u, false) ? undefined : refused(u)));
    case 'stop':
      return each(async (u) => {
        await stopUnit(u);
        return undefined;
      });
    case 'restart':
    case 'reload-or-restart':
    case 'try-restart':
      return each(async (u) => {
        if (verb === 'try-restart' && !u.child) return undefined;
        if (u.status.result === 'start-limit-hit' && u.status.activeState === 'failed') return refused(u);
        await stopUnit(u);
        return startUnit(u, false) ? undefined : refused(u);
      });
    case 'kill':
      return each((u) => {
        const sigFlag = argv.find((a) => a.startsWith('--signal=') || a.startsWith('-s'));
        const sig = (sigFlag?.replace(/^--signal=|^-s/, '') || 'SIGTERM') as NodeJS.Signals;
        const normalized = (sig.startsWith('SIG') ? sig : `SIG${sig}`) as NodeJS.Signals;
        // systemctl kill signals the whole group; the unit then restarts as after any crash.
        killGroup(u.child?.pid, normalized);
        return undefined;
      });
    case 'reset-failed':
      if (names.length === 0) {
        for (const u of unitsOf(host)) {
          u.recentStarts = [];
          if (u.status.activeState === 'failed') setState(u, 'inactive', 'dead', 'success');
        }
        return { code: 0, stdout: '', stderr: '' };
      }
      return each((u) => {
        u.recentStarts = [];
        if (u.status.activeState === 'failed') setState(u, 'inactive', 'dead', 'success');
        return undefined;
      });
    case 'is-active':
    case 'is-failed':
      return each((u) => {
        const st = u.status.activeState;
        const ok = verb === 'is-active' ? st === 'active' : st === 'failed';
        return { code: ok ? 0 : verb === 'is-active' ? 3 : 1, stdout: quiet ? '' : `${st}\n`, stderr: '' };
      });
    case 'is-enabled':
      return each((u) => ({ code: u.status.enabled ? 0 : 1, stdout: quiet ? '' : u.status.enabled ? 'enabled\n' : 'disabled\n', stderr: '' }));
    case 'enable':
    case 'disable':
      return each((u) => {
        u.status.enabled = verb === 'enable';
        saveStatus(u);
        return undefined;
      });
    case 'status':
      return each((u) => ({ code: exitForState(u), stdout: statusText(u), stderr: '' }));
    case 'show':
      return each((u) => {
        const all = showUnit(u);
        const keys = props.length > 0 ? props : Object.keys(all);
        const lines = keys.map((k) => (valueOnly ? (all[k] ?? '') : `${k}=${all[k] ?? ''}`));
        return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
      });
    case 'daemon-reload':
      return { code: 0, stdout: '', stderr: '' };
    case 'list-units': {
      const rows = unitsOf(host).map((u) => `  ${u.spec.name}.service loaded ${u.status.activeState} ${u.status.subState} ${u.spec.description}`);
      return { code: 0, stdout: `${rows.join('\n')}\n`, stderr: '' };
    }
    default:
      return { code: 1, stdout: '', stderr: `Unknown command verb '${verb}'.\n` };
  }
}

function serveHost(host: LabHostState): net.Server {
  const sock = join(host.dir, 'systemd.sock');
  rmSync(sock, { force: true });
  const server = net.createServer((conn) => {
    let buf = '';
    conn.on('data', (chunk) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const req = JSON.parse(buf.slice(0, nl)) as { argv: string[]; uid: number; raw?: boolean };
      // `raw` (the Perl client, test/lab/systemctl.ts): lengths first, then the bytes.
      const send = (reply: Reply): void => {
        if (!req.raw) return void conn.end(`${JSON.stringify(reply)}\n`);
        const out = Buffer.from(reply.stdout);
        const err = Buffer.from(reply.stderr);
        conn.end(Buffer.concat([Buffer.from(`${reply.code} ${out.length} ${err.length}\n`), out, err]));
      };
      systemctl(host, req.argv, req.uid).then(send, (err: unknown) => send({ code: 1, stdout: '', stderr: `${String(err)}\n` }));
    });
    conn.on('error', () => undefined);
  });
  // Anyone on the host may ask (`systemctl status` works unprivileged); changes check the uid.
  server.listen(sock, () => chmodSync(sock, 0o666));
  return server;
}

async function shutdown(): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log('stopping every unit');
  await Promise.all([...units.values()].map((u) => stopUnit(u)));
  for (const host of state.hosts) rmSync(join(host.dir, 'systemd.sock'), { force: true });
  log('stopped');
  process.exit(0);
}

for (const host of state.hosts) {
  const spec = unitFor(host.role);
  const unit: Unit = {
    spec,
    host,
    child: undefined,
    recentStarts: [],
    stopping: false,
    restartTimer: undefined,
    exited: Promise.resolve(),
    status: {
      unit: spec.name,
      activeState: 'inactive',
      subState: 'dead',
      result: 'success',
      mainPid: 0,
      nRestarts: 0,
      starts: 0,
      startedAt: 0,
      lastExitStatus: null,
      enabled: true,
    },
  };
  units.set(`${host.name}/${spec.name}`, unit);
  serveHost(host);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
// Boot: every enabled unit starts, as at multi-user.target.
for (const unit of units.values()) {
  if (existsSync(join(unit.host.dir, 'no-autostart'))) continue;
  startUnit(unit, false);
}
log(`supervising ${units.size} units`);
