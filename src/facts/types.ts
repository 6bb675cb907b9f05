/**
 * Facts: what a host looks like before anything changes, as plain data. The planner reads only
 * these (and the inventory and playbook), never a host.
 */
import type { EtcdMember } from '../sensu/etcd-urls.js';

/** A file or directory on a host. */
export interface FileFact {
  path: string;
  exists: boolean;
  /** What lstat saw: a link is never followed, `other` is a device, socket or pipe. */
  kind?: 'file' | 'dir' | 'link' | 'other';
  /** Permission bits, e.g. 0o640. */
  mode?: number;
  owner?: string;
  group?: string;
  size?: number;
  sha256?: string;
  /**
   * Content as text, when it was asked for and is not secret. Private keys never come back from
   * a host: only their hash, so the controller can tell whether they match.
   */
  text?: string;
  /** True when the file holds a private key (its content was not read). */
  secret?: boolean;
  /**
   * True when the path lies in a directory root must not read through (owned by or writable by
   * another user, or reached through a link): it exists, and nothing else of it was looked at.
   */
  untrusted?: boolean;
  /** Larger than any config or certificate can be (src/facts/script.ts MAX_READ_BYTES): hashed, not read. */
  tooLarge?: boolean;
  /** Not UTF-8: the offset of the first bad byte (the content was not kept). */
  notUtf8At?: number;
}

/** A systemd unit as `systemctl show` reports it. */
export interface ServiceFact {
  unit: string;
  /** False when the unit does not exist on the host. */
  exists: boolean;
  activeState: string;
  subState: string;
  mainPid: number;
  nRestarts: number;
}

/** Health as seen right now (backends: /health; agents: /healthz). */
export interface HealthFact {
  ok: boolean;
  /** `https` when the backend API answered over TLS. */
  scheme?: 'http' | 'https';
  /** One line saying what was seen, for messages. */
  detail: string;
  /**
   * Backends: whether anything answered on the web UI's port before the run. The open-source
   * build serves no web UI (it accepts the dashboard keys, nothing listens on 3000), so its gate
   * must not wait for one.
   */
  webUi?: boolean;
  /**
   * Agents: `connected` (/healthz 200), `disconnected` (the agent runs, /healthz says it holds no
   * backend connection: e.g. cut off on ws:// since its backends went to TLS) or `down` (nothing
   * answers on its API: the agent is not running).
   */
  agent?: 'connected' | 'disconnected' | 'down';
}

/** Everything gathered from one host. */
export interface HostFacts {
  host: string;
  /** The host's own hostname (an agent's default entity name). */
  hostname: string;
  files: Record<string, FileFact>;
  /** Directories above the files that another user owns or can write (their files are `untrusted`). */
  untrustedDirs?: string[];
  service: ServiceFact;
  health?: HealthFact;
  /** Backends, with `--etcd-tls`: the etcd cluster's members. */
  etcd?: EtcdFact;
}

/** A backend's embedded etcd as its own member sees it (gathered only for `--etcd-tls`). */
export interface EtcdFact {
  /** Every member of the cluster, as `member list` gives them; empty when unreadable. */
  members: EtcdMember[];
  /** This backend's member (matched by `etcd-name`). */
  self?: EtcdMember;
  /** Why the member list could not be read. */
  error?: string;
}
