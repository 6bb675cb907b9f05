/**
 * The stages of `rollout secure`, outside the CLI: connect → facts → preflight → plan → execute
 * (the executor given what this fleet needs: where to probe each host, where to read keepalives,
 * whether backends roll back one at a time) and what the recap reads after it (the retry file,
 * every selected host in inventory order). `runSecure` (src/cli/commands/secure.ts) calls them in
 * order and does the talking: showing the plan, asking, the recap, the exit code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { caBundle } from '../certs/ca-bundle.js';
import type { InputError } from '../errors.js';
import { UnreachableError } from '../errors.js';
import type { RunListener } from '../execute/events.js';
import type { KeepaliveCheck } from '../execute/gates.js';
import { fleetStateDir, Journal, newRunId } from '../execute/journal.js';
import type { ExecuteResult, HostOutcome, StepHooks } from '../execute/run.js';
import type { ProbeTarget } from '../execute/rollback.js';
import { assertPrivate } from '../execute/state-dir.js';
import { currentHealth, trustedCaText } from '../facts/current-health.js';
import { gatherHostFacts, gatherLocalFiles } from '../facts/gather.js';
import type { HostFacts } from '../facts/types.js';
import type { HostSpec } from '../inventory/types.js';
import { allowedOf, healthVerdict, type Unreachable } from '../plan/health-preflight.js';
import { plan as makePlan } from '../plan/plan.js';
import type { BatchSize, FileStep, LeftBehind, Plan, PlanProblem } from '../plan/types.js';
import type { Feature, Playbook } from '../playbook/schema.js';
import { endpointsOf, hostSettings, SENSU_PORTS } from '../sensu/host-config.js';
import { closeAll, connectAll, forEachLimited } from '../transport/pool.js';
import type { Transport } from '../transport/transport.js';
import { certificateProblems } from './certificates.js';

/** What gathering produced: connections, facts, and the problems found on the way. */
export interface Gathered {
  transports: Map<string, Transport>;
  facts: Map<string, HostFacts>;
  problems: PlanProblem[];
  /** Hosts nothing answered for (refused, no route, timed out): agents among them may be left out. */
  unreachable: Unreachable[];
}

/** Options of the connect and facts stages. */
export interface GatherOptions {
  forks: number;
  playbook: Playbook;
  /** The inventory's CA (health probes verify against it and what each host trusts). */
  ca: string | undefined;
  progress: (line: string) => void;
  /** Marks the ends of the connect and facts stages. */
  stats: { end(stage: 'connect' | 'facts'): void };
}

/** Stages connect and facts: one connection per host, one facts command per host, health before the run. */
export async function connectAndGather(
  hosts: readonly HostSpec[],
  open: (h: HostSpec) => Promise<Transport>,
  options: GatherOptions,
): Promise<Gathered & { closeAll: () => Promise<void> }> {
  const { forks, playbook, ca, progress, stats } = options;
  const connections = await connectAll(hosts, open, { forks });
  stats.end('connect');
  const transports = new Map<string, Transport>();
  const problems: PlanProblem[] = [];
  const unreachable: Unreachable[] = [];
  for (const c of connections) {
    if (c.transport) transports.set(c.host, c.transport);
    else {
      const problem = { host: c.host, message: c.error.message.replace(new RegExp(`^${c.host}:? ?`), ''), ...(c.error.hint ? { fix: c.error.hint } : {}) };
      (c.error instanceof UnreachableError ? unreachable : problems).push(problem);
    }
  }
  progress(`connected to ${transports.size}/${hosts.length} hosts`);
  const facts = new Map<string, HostFacts>();
  await forEachLimited([...transports.entries()], forks, async ([name, t]) => {
    const host = hosts.find((h) => h.name === name) as HostSpec;
    try {
      const f = await gatherHostFacts(host, t, playbook);
      // A backend may still serve a certificate of the CA being rotated out: what it trusts verifies it.
      f.health = await currentHealth(host, f, t, ca === undefined ? undefined : caBundle(ca, trustedCaText(host, f)));
      facts.set(name, f);
    } catch (err) {
      const e = err as InputError;
      problems.push({ host: name, message: e.message.replace(new RegExp(`^${name}: `), ''), ...(e.hint ? { fix: e.hint } : {}) });
    }
  });
  // Hosts answered in any order: problems are listed in the inventory's.
  const order = new Map(hosts.map((h, i) => [h.name, i]));
  problems.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
  progress(`gathered facts from ${facts.size} hosts`);
  stats.end('facts');
  return { transports, facts, problems, unreachable, closeAll: () => closeAll(connections) };
}

/** The plan, the hosts it runs on (agents left out at preflight are not), and what rollback verifies against. */
export interface Planned {
  plan: Plan;
  runHosts: HostSpec[];
  trust: string | undefined;
}

/** What the preflight and plan stages read. */
export interface PlanStageInput {
  fleet: { hosts: readonly HostSpec[]; inventory: { hosts: readonly HostSpec[]; dir: string } };
  playbook: Playbook;
  gathered: Gathered;
  ca: string | undefined;
  maxUnreachable?: BatchSize;
  minValidityDays: number;
  features: ReadonlySet<Feature>;
  forks: number;
  gateTimeoutMs?: number;
  agentSerial?: BatchSize[];
}

/**
 * Stages preflight and plan: which hosts stop the run and which agents are left out, the
 * certificates checked (where the playbook asks), then the plan. Returns the hosts the run is for
 * and what rollback verifies against (the new CA and whatever the fleet trusted before).
 */
export async function preflightAndPlan(input: PlanStageInput): Promise<Planned> {
  const { fleet, gathered, ca, playbook } = input;
  // Agents unreachable or not running may be left out (--max-unreachable); backends never.
  const verdict = healthVerdict({
    hosts: fleet.hosts,
    facts: gathered.facts,
    unreachable: gathered.unreachable,
    ...(input.maxUnreachable ? { maxUnreachable: input.maxUnreachable } : {}),
  });
  const leftOut = new Set(verdict.leftBehind.map((l) => l.host));
  const runHosts = fleet.hosts.filter((h) => !leftOut.has(h.name));
  const local = await gatherLocalFiles(runHosts);
  // Gates and rollback verify against the new CA and whatever the fleet trusted before (a rotation).
  const trust =
    ca === undefined
      ? undefined
      : caBundle(
          ca,
          ...runHosts.map((h) => {
            const f = gathered.facts.get(h.name);
            return f ? trustedCaText(h, f) : undefined;
          }),
        );
  // The playbook's cert_preflight task is where certificates are checked; a playbook without one does not ask for it.
  const checksCerts = playbook.phases.some((p) => p.tasks.some((t) => t.module === 'cert_preflight'));
  const certProblems = checksCerts
    ? await certificateProblems(runHosts, fleet.inventory.dir, { minValidityDays: input.minValidityDays, features: input.features, facts: gathered.facts })
    : [];
  const order = new Map(fleet.hosts.map((h, i) => [h.name, i]));
  const preflight = [...gathered.problems, ...verdict.problems].sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
  const plan = makePlan({
    hosts: runHosts,
    allHosts: fleet.inventory.hosts,
    playbook,
    facts: gathered.facts,
    local,
    preflight: [...preflight, ...certProblems],
    forks: input.forks,
    ...(input.gateTimeoutMs ? { gateTimeoutMs: input.gateTimeoutMs } : {}),
    features: input.features,
    ...(input.agentSerial ? { agentSerial: input.agentSerial } : {}),
    leftBehind: verdict.leftBehind,
    notes: verdict.notes,
  });
  return { plan, runHosts, trust };
}

export async function caText(hosts: readonly HostSpec[]): Promise<string | undefined> {
  const file = hosts.find((h) => h.sensu.caFile)?.sensu.caFile;
  return file ? readFile(file, 'utf8') : undefined;
}

/** Where gates read keepalives: every inventory backend's API (its configured port), with the inventory's credentials. */
function keepaliveCheck(hosts: readonly HostSpec[], ca: string | undefined, facts: ReadonlyMap<string, HostFacts>): KeepaliveCheck | undefined {
  const apiPortOf = (b: HostSpec): number => {
    const f = facts.get(b.name);
    try {
      return f ? endpointsOf(hostSettings(b, f), 'backend').apiPort : SENSU_PORTS.backendApi;
    } catch {
      return SENSU_PORTS.backendApi; // its unreadable config stopped the plan already
    }
  };
  const any = hosts.find((h) => h.sensu.apiKey ?? (h.sensu.apiUser && h.sensu.apiPassword));
  if (!any) return undefined;
  const credentials = any.sensu.apiKey
    ? { apiKey: any.sensu.apiKey }
    : { user: any.sensu.apiUser ?? '', password: any.sensu.apiPassword as NonNullable<typeof any.sensu.apiPassword> };
  const backends = hosts.filter((h) => h.role === 'backend');
  // Each backend's API where its config puts it (the default port when its config was not gathered: not in --limit).
  return { baseUrls: backends.map((b) => `https://${b.address}:${apiPortOf(b)}`), credentials, ca };
}

/** Where rollback verifies each host on its old settings (the ports its config had before the run). */
function probesOf(hosts: readonly HostSpec[], plan: Plan, facts: ReadonlyMap<string, HostFacts>): ProbeTarget[] {
  const steps = plan.phases.flatMap((p) => p.batches.flatMap((b) => b.steps));
  return hosts.map((host) => {
    const eff = steps.find((s): s is FileStep => s.host === host.name && s.kind === 'file' && s.effective !== undefined)?.effective;
    // An agent cut off before the run is "as it was" when it runs again on its old files, connected or not.
    const cutOff = facts.get(host.name)?.health?.agent === 'disconnected';
    const at = eff ?? endpointsOf({}, host.role);
    return host.role === 'backend'
      ? { host, apiPort: at.apiPort }
      : { host, apiPort: at.agentApiPort, agentApiHost: at.agentApiHost, ...(cutOff ? { connected: false } : {}) };
  });
}

/**
 * The agents left behind, one name a line (Ansible's .retry format), next to the run's journal:
 * `rollout secure --limit @FILE` runs on exactly those.
 */
export function writeRetryFile(stateDir: string, runId: string, left: readonly LeftBehind[]): string {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  assertPrivate(stateDir, 'directory');
  const file = join(stateDir, `run-${runId}.retry`);
  writeFileSync(file, left.map((l) => `${l.host}\n`).join(''), { mode: 0o600 });
  return file;
}

/** What the execute stage reads besides the plan. */
export interface ExecuteStageInput {
  fleet: { hosts: readonly HostSpec[]; inventory: { hosts: readonly HostSpec[]; file: string } };
  planned: Planned;
  gathered: Gathered;
  ca: string | undefined;
  features: ReadonlySet<Feature>;
  forks: number;
  keepBackups?: number;
  /** `--max-fail-percentage`. */
  maxFailPercentage?: number;
  step?: StepHooks;
  listener?: RunListener;
  signal: AbortSignal;
}

/**
 * Stage execute: the run's journal around the executor, then the result as the recap reads it:
 * agents left behind (at preflight, or put back alone in a run that stood) in a retry file, and
 * every selected host in inventory order, those left out at preflight too.
 */
export async function executeStage(input: ExecuteStageInput): Promise<{ result: ExecuteResult; runId: string }> {
  const { fleet, gathered, ca } = input;
  const { plan, runHosts, trust } = input.planned;
  const stateDir = fleetStateDir(fleet.inventory.file);
  const runId = newRunId();
  const journal = new Journal(stateDir, runId);
  journal.append({ type: 'start', runId, at: new Date().toISOString(), inventory: fleet.inventory.file });
  let result: ExecuteResult;
  try {
    // The executor loads only for a real run: a dry run skips it.
    const { execute } = await import('../execute/run.js');
    result = await execute({
      plan,
      hosts: new Map(runHosts.map((h) => [h.name, h])),
      transports: gathered.transports,
      journal,
      runId,
      ...(input.keepBackups ? { keepBackups: input.keepBackups } : {}),
      ca,
      trust,
      // Keepalive reads carry the API credentials: verified against the inventory's CA alone, never
      // a CA a host's files added (by the time agents are gated, every backend serves the new CA's).
      // Every backend of the inventory, selected or not: a retry of agents alone still reads their keepalives.
      keepalive: keepaliveCheck(fleet.inventory.hosts, ca, gathered.facts),
      forks: input.forks,
      ...(input.listener ? { listener: input.listener } : {}),
      signal: input.signal,
      probes: probesOf(runHosts, plan, gathered.facts),
      // With etcd TLS in the run, members mid-switch need their peers' certificates: one member at a time.
      serialBackends: input.features.has('etcd_tls'),
      restartsBefore: new Map([...gathered.facts.entries()].map(([name, f]) => [name, f.service.nRestarts])),
      ...(input.step ? { step: input.step } : {}),
      maxAgentFailures: allowedOf({ percent: input.maxFailPercentage ?? 0 }, runHosts.filter((h) => h.role === 'agent').length),
    });
  } finally {
    journal.close();
  }
  // Left behind: never touched at preflight, or put back alone in the run; only a run that stood leaves anyone.
  const leftBehind = result.outcome === 'ok' ? [...plan.leftBehind, ...result.leftBehind] : [];
  const retryFile = leftBehind.length > 0 ? writeRetryFile(stateDir, runId, leftBehind) : undefined;
  const order = new Map(fleet.hosts.map((h, i) => [h.name, i]));
  const leftOutRows = plan.leftBehind.map((l): HostOutcome => ({ host: l.host, role: 'agent', changed: 0, status: 'left behind', ms: 0, detail: l.reason }));
  const hosts = [...result.hosts, ...leftOutRows].sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
  return { runId, result: { ...result, hosts, leftBehind, ...(retryFile ? { retryFile } : {}) } };
}
