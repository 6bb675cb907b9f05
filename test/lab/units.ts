/**
 * The systemd units of the Sensu packages, as data the lab's supervisor runs. Values follow the
 * packaged unit files: User=sensu, Restart=always with systemd's default RestartSec (100 ms) and
 * start limit (5 starts in 10 s), EnvironmentFile from /etc/default and /etc/sysconfig.
 */

/** One unit the supervisor knows how to run. */
export interface UnitSpec {
  /** Unit name without `.service`. */
  name: 'sensu-backend' | 'sensu-agent';
  description: string;
  /** ExecStart, as on a real host. */
  exec: string[];
  /** EnvironmentFile= entries; a leading `-` means "ignore when missing", as in systemd. */
  environmentFiles: string[];
  user: string;
  /** Restart=always delay. */
  restartSec: number;
  /** StartLimitIntervalSec / StartLimitBurst. */
  startLimitIntervalMs: number;
  startLimitBurst: number;
  /** TimeoutStopSec before SIGKILL (systemd's default is 90 s; the lab does not wait that long). */
  stopTimeoutMs: number;
}

/** The unit a host of this role runs. */
export function unitFor(role: 'backend' | 'agent'): UnitSpec {
  const name = role === 'backend' ? 'sensu-backend' : 'sensu-agent';
  return {
    name,
    description: role === 'backend' ? 'The Sensu Backend service.' : 'The Sensu Agent process.',
    exec: [`/usr/sbin/${name}`, 'start', '-c', `/etc/sensu/${role}.yml`],
    environmentFiles: [`-/etc/default/${name}`, `-/etc/sysconfig/${name}`],
    user: 'sensu',
    restartSec: 100,
    startLimitIntervalMs: 10_000,
    startLimitBurst: 5,
    stopTimeoutMs: 10_000,
  };
}

/** What `systemctl show` reports and tests read (also written to `<host>/units/<unit>.json`). */
export interface UnitStatus {
  unit: string;
  /** systemd ActiveState. */
  activeState: 'active' | 'inactive' | 'failed' | 'activating' | 'deactivating';
  /** systemd SubState. */
  subState: 'running' | 'dead' | 'failed' | 'auto-restart' | 'stop-sigterm';
  /** systemd Result (`success`, `exit-code`, `signal`, `start-limit-hit`). */
  result: string;
  mainPid: number;
  /** Automatic restarts (systemd's NRestarts counts only those). */
  nRestarts: number;
  /** Every start, manual or automatic: what the lab's tests count. */
  starts: number;
  /** ms since epoch of the current main process start, 0 when not running. */
  startedAt: number;
  /** Exit status of the last main process, when it exited. */
  lastExitStatus: number | null;
  enabled: boolean;
}
