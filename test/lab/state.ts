/**
 * What a running lab records in `<dir>/lab.json`: enough for `down` (from any process, even after
 * the one that ran `up` died) to find and stop everything, and for tests to reach each host.
 */

/** One running host. */
export interface LabHostState {
  name: string;
  role: 'backend' | 'agent';
  address: string;
  sshPort: number;
  /** The process that holds the host's mount and UTS namespaces (the host's "init"). */
  holderPid: number;
  sshdPid: number;
  /** The host's lab directory (on the controller): keys, sshd config, faults/, units/. */
  dir: string;
  /** True when sudo asks this host's login user for a password. */
  sudoPassword: boolean;
}

/** The whole lab. */
export interface LabState {
  dir: string;
  net: number;
  sshPort: number;
  loginUser: string;
  /** Password of the login user on hosts where sudo asks for one. */
  becomePassword: string;
  supervisorPid: number;
  hosts: LabHostState[];
  /** Cluster admin created on first backend start (what `sensu-backend init` would be given). */
  admin?: { username: string; password: string; apiKey: string };
  /**
   * The latency relay, when the lab was started with a round trip time: every host's sshd is then
   * reached at the host's address on `port`, through one process (`pid`) that delays each chunk
   * by half of `rttMs` each way.
   */
  relay?: { pid: number; port: number; rttMs: number };
  /** Certificates the inventory gives besides the server ones (client, dashboard). */
  certs?: { clientCerts?: boolean; dashboardCerts?: boolean };
  startedAt: string;
}

/** The port a controller dials for a host's sshd: the relay's when there is one, so every tool pays the round trips. */
export function dialPort(state: LabState, host: LabHostState): number {
  return state.relay ? state.relay.port : host.sshPort;
}
