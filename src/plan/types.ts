/**
 * The Plan: plain data that says, per host, what a run will do and why. The dry run prints it;
 * the real run executes exactly it. Nothing here holds a secret: private keys appear as a
 * fingerprint and the local path they will be read from at execute time.
 */
import type { SensuEndpoints } from '../sensu/host-config.js';

/** Owner, group and mode of a file or directory. */
export interface Ownership {
  mode: number;
  owner: string;
  group: string;
}

/** A file as it is (before) or will be (after). */
export interface FileState extends Partial<Ownership> {
  exists: boolean;
  sha256?: string;
  /** Text content when it may be shown (configs, certificates); never for private keys. */
  text?: string;
  /** It exists in a directory that was not root's alone, so it was not read (replaced unread). */
  unread?: boolean;
}

/** A certificate summary line for display. */
export interface CertSummary {
  subject: string;
  sans: string[];
  issuer: string;
  notAfter: string;
  /** SHA-256 of the leaf's DER, lower-case hex. */
  sha256?: string;
}

interface StepBase {
  /** Stable id: `<phase>/<task index>/<host>`. */
  id: string;
  host: string;
  phase: string;
  /** Task name from the playbook. */
  task: string;
  module: string;
  /** `change` when the step will do something; `noop` with a reason otherwise. */
  status: 'change' | 'noop';
  reason?: string;
}

/** Where a host's Sensu service can be probed once a config step is applied (gates read it). */
export type EffectiveEndpoints = SensuEndpoints;

/** Write a file (upload or patched config). */
export interface FileStep extends StepBase {
  kind: 'file';
  path: string;
  before: FileState;
  after: FileState & Ownership & { sha256: string };
  /** Where the new content comes from at execute time when it is not in `after.text` (private keys). */
  source?: string;
  secret: boolean;
  cert?: CertSummary;
  /** For configs: the keys that change, for the summary. */
  changes?: { key: string; before: unknown; after: unknown }[];
  /** For Sensu configs: where the service can be probed afterwards. */
  effective?: EffectiveEndpoints;
  /** What the plan wants the operator to know about this file (e.g. the web UI falls back to cert-file). */
  notes?: string[];
}

/** Make sure a directory exists with this ownership. */
export interface DirStep extends StepBase {
  kind: 'dir';
  path: string;
  before: FileState;
  after: Ownership;
}

/** Restart a unit because files it reads changed. */
export interface RestartStep extends StepBase {
  kind: 'restart';
  unit: string;
  /** Ids of the steps whose change calls for the restart (resolved at execute time). */
  after: string[];
}

/** A health gate: the wave stands only if it passes. */
export interface GateStep extends StepBase {
  kind: 'gate';
  gate: 'backend_health' | 'agent_health';
  /** Step ids this gate verifies; when none of them changed, the gate has nothing to prove. */
  after: string[];
  tls: boolean;
  timeoutMs: number;
  /** Where to probe (backend: address and API port; agent: agent API host and port on the host). */
  probe: { address: string; port: number; scheme: 'http' | 'https' };
  /** Entity name and namespace the backend knows an agent by (keepalive check). */
  entity?: { name: string; namespace: string };
  /** Backends: the web UI must serve TLS with this certificate (leaf DER sha256, lower-case hex). */
  dashboard?: { address: string; port: number; certFile: string; sha256: string };
  /** Backends: every one of these agents must send a keepalive after the restart (they reconnected). */
  agents?: { name: string; namespace: string }[];
}

/**
 * Change one etcd member's peer URLs in the cluster's member list (`etcdctl member update`): from
 * then on its peers dial it there. Undone by updating it back to `before`.
 */
export interface EtcdMemberStep extends StepBase {
  kind: 'etcd_member';
  /** Member name (`etcd-name`) and ID (uint64, decimal) as the member list gave them. */
  member: string;
  memberId: string;
  before: string[];
  after: string[];
  /** etcd client ports to ask through (dialled from the host): its own member's first, then the others'. */
  endpoints: { address: string; port: number; scheme: 'http' | 'https' }[];
}

/** Something a step does. */
export type Step = FileStep | DirStep | RestartStep | GateStep | EtcdMemberStep;

/** One batch of hosts going through a phase together. */
export interface Batch {
  hosts: string[];
  steps: Step[];
  /**
   * The first agent batch of a phase under `--serial`: whatever the failure bounds allow, a
   * failure here rolls the whole run back (the canary says the change itself is wrong).
   */
  canary?: boolean;
}

/** A batch size of `--serial`: a number of hosts, or a percentage of the phase's hosts (rounded up). */
export type BatchSize = { count: number } | { percent: number };

/**
 * An agent the run leaves as it was, and why: left out at preflight (`--max-unreachable`), or put
 * back alone after failing in its wave (`--max-fail-percentage`). Named in the plan, the recap,
 * `--json` and the run's retry file.
 */
export interface LeftBehind {
  host: string;
  reason: string;
  /** `preflight`: never touched. `run`: failed, put back on its old files byte for byte. */
  stage: 'preflight' | 'run';
}

/** One phase of the playbook, planned. */
export interface PhasePlan {
  name: string;
  description: string;
  wave?: string;
  batches: Batch[];
}

/** A problem found while planning that stops the run before anything changes (exit 2). */
export interface PlanProblem {
  host: string;
  message: string;
  fix?: string;
}

/** The whole plan. */
export interface Plan {
  playbook: string;
  phases: PhasePlan[];
  problems: PlanProblem[];
  /** Hosts with at least one change. */
  changedHosts: string[];
  /** Number of steps that change something. */
  changes: number;
  /** Agents left out of this run at preflight, with why. */
  leftBehind: LeftBehind[];
  /** What the operator should know about the run as a whole (shown under the plan). */
  notes: string[];
}
