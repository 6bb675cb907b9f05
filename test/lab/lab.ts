/**
 * The test lab: a fleet of real hosts on one machine. Each host is its own mount and UTS namespace
 * with its own hostname and 127.N.x.y address, a real OpenSSH sshd, its own /etc (an overlay of
 * the machine's), /var/lib/sensu and /var/log/sensu, a `systemctl` bound over the real path, and
 * a Sensu stand-in run as `sensu` by the lab supervisor. `startLab` writes everything a rollout
 * needs (inventory, known_hosts, keys, PKI) into the lab directory; `stopLab` leaves no process,
 * mount or namespace behind, from any process, using only `<dir>/lab.json`.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { planHosts, type LabHost } from './addresses.js';
import { agentConfig, backendConfig } from './configs.js';
import { writeLabInventory } from './inventory-writer.js';
import { writeLabExtraCerts, writeLabPki, type LabCertOptions } from './pki.js';
import { RELAY_PORT, startRelayProcess } from './relay-process.js';
import { buildStandins } from './sensu/build.js';
import type { LabHostState, LabState } from './state.js';
import { ensureSystem, idsOf, LOGIN_USER, SERVICE_USER } from './system.js';
import { systemctlClient } from './systemctl.js';
import type { UnitStatus } from './units.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

/** Options of `startLab`. */
export interface LabOptions {
  /** Directory for everything the lab writes (created; must not hold a running lab). */
  dir: string;
  backends?: number;
  agents?: number;
  /** Second octet of the lab's 127.N.0.0/16 range; labs running at once need different ones. */
  net?: number;
  /** Port every host's sshd listens on (on the host's own address). */
  sshPort?: number;
  /** Hosts on which sudo asks the login user for a password instead of NOPASSWD. */
  sudoPasswordHosts?: string[];
  /** Faults to switch on before the services first start (host → fault names). */
  faults?: Record<string, string[]>;
  /** Progress lines (the CLI prints them; tests stay quiet). */
  onProgress?: (line: string) => void;
  /** Do not wait for every service to be healthy (for tests of broken starts). */
  skipHealthWait?: boolean;
  /** Certificates the inventory gives besides the server ones (agent client, dashboard); none by default. */
  certs?: LabCertOptions;
  /**
   * Round trip time between the controller and every host's sshd, in ms: the lab then relays SSH
   * through one process that holds each chunk half of it each way (delay-relay.ts), and the
   * inventory and known_hosts point at the relay. 0 or absent: no relay, sshd dialled directly.
   */
  rttMs?: number;
}

/** A running lab, with helpers tests use to look inside hosts the way an operator on the host would. */
export interface Lab {
  state: LabState;
  dir: string;
  inventoryPath: string;
  knownHostsPath: string;
  keyPath: string;
  host(name: string): LabHostState;
  /** Runs a command inside a host as root (nsenter), for assertions and fault setup. */
  exec(name: string, command: string, args?: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Reads a file as the host sees it. */
  readFile(name: string, path: string): string;
  /** Switches a lab fault on or off (takes effect at the service's next start). */
  setFault(name: string, fault: string, on: boolean): void;
  /** The supervisor's view of a host's unit (restart count, state). */
  unitStatus(name: string): UnitStatus;
  stop(): Promise<void>;
}

async function bundleLabRuntime(outDir: string): Promise<void> {
  await build({
    entryPoints: { supervisor: join(here, 'supervisor.ts'), relay: join(here, 'relay-main.ts') },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  await buildStandins(outDir);
}

function hostsFile(self: LabHost, all: readonly LabHost[]): string {
  const lines = [
    `# ${self.name}: localhost and the host's own name dial this host's own address, as on a real machine`,
    `${self.address}\tlocalhost ${self.name}`,
    ...all.filter((h) => h.name !== self.name).map((h) => `${h.address}\t${h.name}`),
    '',
  ];
  return lines.join('\n');
}

function sshdConfig(host: LabHost, hostDir: string, port: number): string {
  return `# sshd of lab host ${host.name}
ListenAddress ${host.address}:${port}
HostKey ${hostDir}/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile /etc/ssh/lab_authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
MaxSessions 64
MaxStartups 200:30:400
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel INFO
`;
}

/** Writes a host's own files before its namespace exists (they become its /etc via overlay). */
function prepareHost(host: LabHost, all: readonly LabHost[], labDir: string, opts: { sshPort: number; sudoPassword: boolean; authorizedKeys: string }): string {
  const hostDir = join(labDir, 'hosts', host.name);
  const sensu = idsOf(SERVICE_USER);
  for (const d of ['etc', 'etc-work', 'var-lib-sensu', 'var-log-sensu', 'faults', 'units', 'etc/sensu', 'etc/ssh', 'etc/sudoers.d', 'etc/default']) {
    mkdirSync(join(hostDir, d), { recursive: true });
  }
  chmodSync(hostDir, 0o755);
  const backends = all.filter((h) => h.role === 'backend');
  const config = host.role === 'backend' ? backendConfig(host, backends) : agentConfig(host, backends);
  const configPath = join(hostDir, 'etc/sensu', `${host.role}.yml`);
  writeFileSync(configPath, config, { mode: 0o640 });
  chownSync(configPath, 0, sensu.gid);
  chownSync(join(hostDir, 'etc/sensu'), 0, 0);
  writeFileSync(join(hostDir, 'etc/hosts'), hostsFile(host, all));
  writeFileSync(join(hostDir, 'etc/hostname'), `${host.name}\n`);
  writeFileSync(join(hostDir, 'etc/ssh/lab_authorized_keys'), opts.authorizedKeys, { mode: 0o644 });
  const sudoers = opts.sudoPassword
    ? `# ${host.name}: sudo asks for the login user's password\nDefaults:${LOGIN_USER} lecture=never\n${LOGIN_USER} ALL=(ALL:ALL) ALL\n`
    : `${LOGIN_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n`;
  writeFileSync(join(hostDir, 'etc/sudoers.d/lab'), sudoers, { mode: 0o440 });
  for (const d of ['var-lib-sensu', 'var-log-sensu']) {
    chownSync(join(hostDir, d), sensu.uid, sensu.gid);
    chmodSync(join(hostDir, d), 0o750);
  }
  writeFileSync(join(hostDir, 'sshd_config'), sshdConfig(host, hostDir, opts.sshPort));
  // The host's systemctl: the lab's client, pointed at this host's supervisor socket.
  writeFileSync(join(hostDir, 'systemctl'), systemctlClient(join(hostDir, 'systemd.sock')), { mode: 0o755 });
  return hostDir;
}

/** The script the namespace holder runs: mounts the host's view, then sleeps as the host's "init". */
const HOLDER_SCRIPT = `set -e
hostname "$LAB_HOSTNAME"
mount -t overlay lab-etc -o "lowerdir=/etc,upperdir=$LAB_HOST_DIR/etc,workdir=$LAB_HOST_DIR/etc-work" /etc
mount --bind "$LAB_HOST_DIR/var-lib-sensu" /var/lib/sensu
mount --bind "$LAB_HOST_DIR/var-log-sensu" /var/log/sensu
mount --bind "$LAB_HOST_DIR/systemctl" /usr/bin/systemctl
mount -t overlay lab-sbin -o "lowerdir=$LAB_DIR/sbin:/usr/sbin" /usr/sbin
echo ready
exec sleep infinity
`;

function startHolder(host: LabHost, hostDir: string, labDir: string): Promise<number> {
  return new Promise((resolvePid, reject) => {
    const child = spawn('/usr/bin/unshare', ['--mount', '--uts', '--propagation', 'private', '/bin/sh', '-c', HOLDER_SCRIPT], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LAB_HOSTNAME: host.name, LAB_HOST_DIR: hostDir, LAB_DIR: labDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready') && child.pid) {
        child.stdout.destroy();
        child.stderr.destroy();
        child.unref();
        resolvePid(child.pid);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => reject(new Error(`${host.name}: namespace setup failed (status ${code}): ${err.trim()}`)));
  });
}

function startSshd(holderPid: number, hostDir: string): number {
  const logFd = openSync(join(hostDir, 'sshd.log'), 'a');
  const child = spawn(
    '/usr/bin/nsenter',
    [`--target=${holderPid}`, '--mount', '--uts', '--', '/usr/sbin/sshd', '-D', '-e', '-f', join(hostDir, 'sshd_config')],
    {
      stdio: ['ignore', logFd, logFd],
      detached: true,
    },
  );
  closeSync(logFd);
  child.unref();
  if (!child.pid) throw new Error('sshd did not start');
  return child.pid;
}

async function waitFor(what: string, deadlineMs: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`lab: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether a TCP port answers (sshd up). */
export function tcpOpen(address: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.connect({ host: address, port, timeout: 1000 });
    s.on('connect', () => {
      s.destroy();
      res(true);
    });
    s.on('error', () => res(false));
    s.on('timeout', () => {
      s.destroy();
      res(false);
    });
  });
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return { status: res.status, body: await res.text() };
}

/** Starts a lab fleet and returns once every sshd answers and every Sensu service is healthy. */
export async function startLab(options: LabOptions): Promise<Lab> {
  const t0 = Date.now();
  const say = options.onProgress ?? (() => undefined);
  const dir = resolve(options.dir);
  const netOctet = options.net ?? 30;
  const sshPort = options.sshPort ?? 22;
  if (existsSync(join(dir, 'lab.json'))) {
    throw new Error(`${dir} already holds a lab; run 'npm run lab -- down --dir ${dir}' first`);
  }
  ensureSystem();
  // Leftovers of a lab that was stopped: its keys and host dirs would clash with the new ones.
  for (const sub of ['ssh', 'hosts', 'pki', 'bin', 'sbin', 'inventory.yml', 'known_hosts']) rmSync(join(dir, sub), { recursive: true, force: true });
  const hosts = planHosts({ backends: options.backends ?? 3, agents: options.agents ?? 5, net: netOctet });
  await assertRangeFree(netOctet, say);
  mkdirSync(join(dir, 'ssh'), { recursive: true });
  mkdirSync(join(dir, 'sbin'), { recursive: true });
  chmodSync(dir, 0o755);

  // Login key for every host, and what sshd will accept.
  const keyPath = join(dir, 'ssh', 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rollout-lab', '-f', keyPath]);
  const authorizedKeys = readFileSync(`${keyPath}.pub`, 'utf8');

  const [, pki] = await Promise.all([
    bundleLabRuntime(join(dir, 'bin')),
    writeLabPki(
      join(dir, 'pki'),
      hosts.map((h) => ({ name: h.name, address: h.address })),
    ),
  ]);
  if (options.certs) await writeLabExtraCerts(join(dir, 'pki'), pki.ca, hosts, options.certs);
  for (const name of ['sensu-backend', 'sensu-agent']) {
    writeFileSync(join(dir, 'sbin', name), `#!/bin/sh\nexec /usr/bin/node ${join(dir, 'bin', `${name}.mjs`)} "$@"\n`, { mode: 0o755 });
  }
  say(`prepared ${hosts.length} hosts, keys and certificates (${Date.now() - t0} ms)`);

  const sudoPasswordHosts = new Set(options.sudoPasswordHosts ?? []);
  const becomePassword = randomBytes(12).toString('base64url');
  const hostDirs = new Map<string, string>();
  await Promise.all(
    hosts.map(async (h) => {
      const hostDir = prepareHost(h, hosts, dir, { sshPort, sudoPassword: sudoPasswordHosts.has(h.name), authorizedKeys });
      hostDirs.set(h.name, hostDir);
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', h.name, '-f', join(hostDir, 'ssh_host_ed25519_key')]);
      for (const fault of options.faults?.[h.name] ?? []) writeFileSync(join(hostDir, 'faults', fault), '');
    }),
  );

  const state: LabState = {
    dir,
    net: netOctet,
    sshPort,
    loginUser: LOGIN_USER,
    becomePassword,
    supervisorPid: 0,
    hosts: [],
    admin: { username: 'admin', password: randomBytes(12).toString('base64url'), apiKey: randomUUID() },
    ...(options.certs ? { certs: options.certs } : {}),
    startedAt: new Date().toISOString(),
  };
  // Record pids as they appear, so a failure half-way can still be cleaned up by stopLab.
  const save = (): void => writeFileSync(join(dir, 'lab.json'), JSON.stringify(state, null, 2), { mode: 0o600 });
  try {
    for (const h of hosts) {
      const hostDir = hostDirs.get(h.name) ?? '';
      const holderPid = await startHolder(h, hostDir, dir);
      state.hosts.push({
        name: h.name,
        role: h.role,
        address: h.address,
        sshPort,
        holderPid,
        sshdPid: 0,
        dir: hostDir,
        sudoPassword: sudoPasswordHosts.has(h.name),
      });
    }
    save();
    for (const hs of state.hosts) {
      if (hs.sudoPassword) {
        await run('/usr/bin/nsenter', [`--target=${hs.holderPid}`, '--mount', '--', '/bin/sh', '-c', `echo '${LOGIN_USER}:${becomePassword}' | chpasswd`]);
      }
      hs.sshdPid = startSshd(hs.holderPid, hs.dir);
    }
    save();
    say(`started ${hosts.length} namespaces and sshds (${Date.now() - t0} ms)`);

    const supLog = openSync(join(dir, 'supervisor.log'), 'a');
    const sup = spawn(process.execPath, [join(dir, 'bin', 'supervisor.mjs'), dir], { stdio: ['ignore', supLog, supLog], detached: true });
    closeSync(supLog);
    sup.unref();
    state.supervisorPid = sup.pid ?? 0;
    save();

    const rttMs = options.rttMs ?? 0;
    if (rttMs > 0) {
      const routes = state.hosts.map((hs) => ({ listen: { address: hs.address, port: RELAY_PORT }, target: { address: hs.address, port: sshPort } }));
      state.relay = { pid: await startRelayProcess(dir, routes, rttMs), port: RELAY_PORT, rttMs };
      save();
      say(`latency relay: ${rttMs} ms round trip to every sshd, port ${RELAY_PORT} (${Date.now() - t0} ms)`);
    }

    await writeLabInventory(state);
    await Promise.all(state.hosts.map((hs) => waitFor(`sshd on ${hs.name}`, 20_000, () => tcpOpen(hs.address, sshPort))));
    if (!options.skipHealthWait) {
      await waitForHealthy(state, 90_000);
      say(`every backend and agent is healthy (${Date.now() - t0} ms)`);
    }
  } catch (err) {
    save();
    await stopLab(dir).catch(() => undefined);
    throw err;
  }
  return attach(dir);
}

/** Waits until every backend reports all etcd members healthy and every agent's /healthz is 200. */
export async function waitForHealthy(state: LabState, deadlineMs: number): Promise<void> {
  const backends = state.hosts.filter((h) => h.role === 'backend');
  await Promise.all([
    ...backends.map((b) =>
      waitFor(`backend ${b.name} /health`, deadlineMs, async () => {
        const { body } = await httpGet(`http://${b.address}:8080/health`);
        const health = JSON.parse(body) as { ClusterHealth?: { Healthy: boolean }[] };
        return (health.ClusterHealth ?? []).length === backends.length && (health.ClusterHealth ?? []).every((m) => m.Healthy);
      }),
    ),
    ...state.hosts
      .filter((h) => h.role === 'agent')
      .map((a) => waitFor(`agent ${a.name} /healthz`, deadlineMs, async () => (await httpGet(`http://${a.address}:3031/healthz`)).status === 200)),
  ]);
}

/**
 * Finds the range's in-use marker: a second lab on the same 127.N would steal addresses. A lab whose
 * processes are all gone (its test runner was killed, the machine's CI stopped it) only left files
 * behind: those are cleared and the range taken, or one killed run would fail every later one.
 */
async function assertRangeFree(netOctet: number, say: (line: string) => void): Promise<void> {
  const marker = `/run/rollout-lab/net-${netOctet}`;
  if (!existsSync(marker)) return;
  const owner = readFileSync(marker, 'utf8').trim();
  if (!existsSync(join(owner, 'lab.json'))) return;
  if (labIsLive(owner)) throw new Error(`127.${netOctet}.0.0/16 is used by the lab in ${owner}; pick another --net or stop that lab`);
  say(`127.${netOctet}.0.0/16: clearing the leftovers of ${owner}, whose processes are gone`);
  await stopLab(owner);
}

/** Whether anything of a lab still runs: its supervisor or any process inside one of its hosts. */
function labIsLive(dir: string): boolean {
  const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState;
  if (state.supervisorPid && alive(state.supervisorPid) && readCmdline(state.supervisorPid).includes(dir)) return true;
  if (state.relay && alive(state.relay.pid) && readCmdline(state.relay.pid).includes(dir)) return true;
  return readdirSync('/proc').some((entry) => /^\d+$/.test(entry) && inLab(entry, dir));
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Re-attaches to a running lab from its directory. */
export function attach(dirArg: string): Lab {
  const dir = resolve(dirArg);
  const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState;
  mkdirSync('/run/rollout-lab', { recursive: true });
  writeFileSync(`/run/rollout-lab/net-${state.net}`, dir);
  const host = (name: string): LabHostState => {
    const h = state.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no lab host named ${name}`);
    return h;
  };
  return {
    state,
    dir,
    inventoryPath: join(dir, 'inventory.yml'),
    knownHostsPath: join(dir, 'known_hosts'),
    keyPath: join(dir, 'ssh', 'id_ed25519'),
    host,
    async exec(name, command, args = []) {
      const h = host(name);
      const r = await run('/usr/bin/nsenter', [`--target=${h.holderPid}`, '--mount', '--uts', '--', command, ...args], { maxBuffer: 64 * 1024 * 1024 });
      return { stdout: r.stdout, stderr: r.stderr };
    },
    readFile(name, path) {
      return readFileSync(join(`/proc/${host(name).holderPid}/root`, path), 'utf8');
    },
    setFault(name, fault, on) {
      const p = join(host(name).dir, 'faults', fault);
      if (on) writeFileSync(p, '');
      else rmSync(p, { force: true });
    },
    unitStatus(name) {
      const h = host(name);
      const unit = h.role === 'backend' ? 'sensu-backend' : 'sensu-agent';
      return JSON.parse(readFileSync(join(h.dir, 'units', `${unit}.json`), 'utf8')) as UnitStatus;
    },
    stop: () => stopLab(dir),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function mountNamespaceOf(pid: number | string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Every process living in one of these mount namespaces (sshd, sessions, services, holders). */
/**
 * Whether a process lives in one of this lab's hosts: its mounts name the lab's directory. The
 * namespace id alone is not enough: the kernel hands a destroyed namespace's id to the next one
 * made, and another lab may be starting hosts while this one stops (tests run two files at once).
 */
function inLab(pid: number | string, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(`upperdir=${dir}/hosts/`);
  } catch {
    return false;
  }
}

function processesIn(namespaces: Set<string>, dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ns = mountNamespaceOf(entry);
    if (ns && namespaces.has(ns) && inLab(entry, dir)) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Stops a lab from its directory: the supervisor first (so nothing is restarted), then every
 * process in every host namespace. A namespace and its mounts vanish with its last process.
 */
export async function stopLab(dirArg: string): Promise<void> {
  const dir = resolve(dirArg);
  const statePath = join(dir, 'lab.json');
  if (!existsSync(statePath)) return;
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as LabState;
  // A holder that died long ago may have left its pid to a process of another lab.
  const namespaces = new Set(
    state.hosts
      .filter((h) => inLab(h.holderPid, dir))
      .map((h) => mountNamespaceOf(h.holderPid))
      .filter((x): x is string => x !== undefined),
  );
  if (state.supervisorPid && alive(state.supervisorPid)) {
    process.kill(state.supervisorPid, 'SIGTERM');
    const end = Date.now() + 15_000;
    while (alive(state.supervisorPid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    if (alive(state.supervisorPid)) process.kill(state.supervisorPid, 'SIGKILL');
  }
  // The relay lives outside the hosts' namespaces; its command line names the lab's directory,
  // so a pid reused by another process since is left alone.
  if (state.relay && alive(state.relay.pid) && readCmdline(state.relay.pid).includes(dir)) {
    process.kill(state.relay.pid, 'SIGTERM');
    const end = Date.now() + 5_000;
    while (alive(state.relay.pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    if (alive(state.relay.pid)) process.kill(state.relay.pid, 'SIGKILL');
  }
  for (let round = 0; round < 50; round++) {
    const pids = processesIn(namespaces, dir);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, round < 10 ? 'SIGTERM' : 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const left = processesIn(namespaces, dir);
  if (left.length > 0) throw new Error(`lab ${dir}: processes ${left.join(', ')} would not stop`);
  rmSync(statePath, { force: true });
  const marker = `/run/rollout-lab/net-${state.net}`;
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === dir) rmSync(marker, { force: true });
}

/** Size of a directory tree in bytes (for the CLI's summary). */
export function dirSize(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, e) => sum + dirSize(join(path, e)), 0);
}
