/**
 * The backend's "embedded" etcd: a real etcd member run as a child process with the flags
 * sensu-backend would hand to `embed.StartEtcd`. Its output is appended to `<state-dir>/etcd.log`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import type { EtcdSettings } from './backend-config.js';

/** The etcd binary: `SENSU_LAB_ETCD_BIN`, else Debian's. */
export function etcdBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.SENSU_LAB_ETCD_BIN || '/usr/bin/etcd';
}

/** Where the member keeps its data, as sensu-go lays it out under the state dir. */
export function etcdDirs(stateDir: string): { data: string; wal: string; log: string } {
  return { data: join(stateDir, 'etcd', 'data'), wal: join(stateDir, 'etcd', 'wal'), log: join(stateDir, 'etcd.log') };
}

/** etcd's command line for the backend's settings (flag for flag what sensu-go's embed config sets). */
export function etcdArgs(e: EtcdSettings, stateDir: string): string[] {
  const dirs = etcdDirs(stateDir);
  const args = [
    `--name=${e.name}`,
    `--data-dir=${dirs.data}`,
    `--wal-dir=${dirs.wal}`,
    `--listen-client-urls=${e.listenClientUrls.join(',')}`,
    `--advertise-client-urls=${e.advertiseClientUrls.join(',')}`,
    `--listen-peer-urls=${e.listenPeerUrls.join(',')}`,
    `--initial-advertise-peer-urls=${e.initialAdvertisePeerUrls.join(',')}`,
    `--initial-cluster=${e.initialCluster}`,
    `--initial-cluster-state=${e.initialClusterState}`,
    // sensu-go prunes old revisions the same way.
    '--auto-compaction-mode=revision',
    '--auto-compaction-retention=2',
    '--logger=zap',
    '--log-outputs=stderr',
    // The lab's etcd.log is for people debugging a run: keep etcd's own info lines.
    `--log-level=${e.logLevel || 'info'}`,
  ];
  if (e.initialClusterToken) args.push(`--initial-cluster-token=${e.initialClusterToken}`);
  if (e.heartbeatInterval > 0) args.push(`--heartbeat-interval=${e.heartbeatInterval}`);
  if (e.electionTimeout > 0) args.push(`--election-timeout=${e.electionTimeout}`);
  if (e.quotaBackendBytes > 0) args.push(`--quota-backend-bytes=${e.quotaBackendBytes}`);
  if (e.maxRequestBytes > 0) args.push(`--max-request-bytes=${Math.trunc(e.maxRequestBytes)}`);
  if (e.client.certFile) args.push(`--cert-file=${e.client.certFile}`);
  if (e.client.keyFile) args.push(`--key-file=${e.client.keyFile}`);
  if (e.client.trustedCaFile) args.push(`--trusted-ca-file=${e.client.trustedCaFile}`);
  if (e.client.clientCertAuth) args.push('--client-cert-auth');
  if (e.peer.certFile) args.push(`--peer-cert-file=${e.peer.certFile}`);
  if (e.peer.keyFile) args.push(`--peer-key-file=${e.peer.keyFile}`);
  if (e.peer.trustedCaFile) args.push(`--peer-trusted-ca-file=${e.peer.trustedCaFile}`);
  if (e.peer.clientCertAuth) args.push('--peer-client-cert-auth');
  // sensu-go hands these to embed.Config too (backend/etcd/etcd.go): CipherSuites, Durl, DNSCluster, UnsafeNoFsync.
  if (e.cipherSuites.length > 0) args.push(`--cipher-suites=${e.cipherSuites.join(',')}`);
  if (e.discovery) args.push(`--discovery=${e.discovery}`);
  if (e.discoverySrv) args.push(`--discovery-srv=${e.discoverySrv}`);
  if (e.unsafeNoFsync) args.push('--unsafe-no-fsync');
  return args;
}

/** How the etcd child ended. */
export interface EtcdExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** etcd's own reason, from the last error/fatal line it logged (Go text, e.g. `listen tcp …: bind: …`). */
  reason: string;
}

function lastErrorSince(logPath: string, offset: number): string {
  let fd: number;
  try {
    fd = openSync(logPath, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(offset, size - 256 * 1024);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    let reason = '';
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string };
        if (entry.level === 'fatal' || entry.level === 'panic' || entry.level === 'error') {
          reason = entry.error ?? entry.msg ?? reason;
        }
      } catch {
        continue;
      }
    }
    return reason;
  } finally {
    closeSync(fd);
  }
}

function logContainsSince(logPath: string, offset: number, needle: string): boolean {
  let fd: number;
  try {
    fd = openSync(logPath, 'r');
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    readSync(fd, buf, 0, buf.length, offset);
    return buf.includes(needle);
  } finally {
    closeSync(fd);
  }
}

/** A running etcd member. */
export class EtcdProcess {
  private child: ChildProcess | undefined;
  private exitInfo: EtcdExit | undefined;
  /** Settles when etcd exits, for whatever reason. */
  readonly exited: Promise<EtcdExit>;
  private resolveExit: (e: EtcdExit) => void = () => undefined;
  /** Size of etcd.log when this run started: only what follows belongs to this member. */
  private logOffset = 0;

  constructor(
    private readonly settings: EtcdSettings,
    private readonly stateDir: string,
    private readonly bin: string = etcdBinary(),
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /**
   * Spawns etcd. It stays in the backend's process group, so the supervisor's group kill
   * reaches it even if the backend dies without cleaning up.
   * @throws Error with Go's `fork/exec` text when the binary cannot be run.
   */
  start(): void {
    const dirs = etcdDirs(this.stateDir);
    mkdirSync(dirs.data, { recursive: true, mode: 0o700 });
    mkdirSync(dirs.wal, { recursive: true, mode: 0o700 });
    const out = openSync(dirs.log, 'a');
    const offset = fstatSync(out).size;
    this.logOffset = offset;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')));
    try {
      this.child = spawn(this.bin, etcdArgs(this.settings, this.stateDir), { stdio: ['ignore', out, out], env });
    } finally {
      closeSync(out);
    }
    const child = this.child;
    child.on('error', (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'ENOENT' ? `fork/exec ${this.bin}: no such file or directory` : `fork/exec ${this.bin}: ${err.message}`;
      this.finish({ code: null, signal: null, reason });
    });
    child.on('exit', (code, signal) => {
      this.finish({ code, signal, reason: lastErrorSince(dirs.log, offset) || `etcd exited (${signal ?? `status ${code}`})` });
    });
  }

  private finish(e: EtcdExit): void {
    if (this.exitInfo) return;
    this.exitInfo = e;
    this.child = undefined;
    this.resolveExit(e);
  }

  /**
   * True once this run of etcd logged that it serves clients (logged after its ReadyNotify, the
   * signal sensu-go waits for); undefined when its log level hides info lines.
   */
  servingClients(): boolean | undefined {
    const level = this.settings.logLevel || 'info';
    if (level !== 'info' && level !== 'debug') return undefined;
    return logContainsSince(etcdDirs(this.stateDir).log, this.logOffset, '"msg":"serving client traffic');
  }

  /** True while the child runs. */
  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once etcd is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || this.exitInfo) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Last-resort kill for synchronous exit paths. */
  killNow(): void {
    if (this.child && !this.exitInfo) this.child.kill('SIGKILL');
  }
}
