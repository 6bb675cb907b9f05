/**
 * The planner: `plan(inventory, playbook, facts) → Plan`. Pure — no SSH, no files, no console:
 * everything it knows comes in as data (facts of each host, and of the controller's local files),
 * so the dry run and the real run share it and the diff shown is the change made.
 */
import type { HostSpec } from '../inventory/types.js';
import { renderTemplate } from '../inventory/template.js';
import type { FileFact, HostFacts } from '../facts/types.js';
import type { Feature, Phase, Playbook, Task } from '../playbook/schema.js';
import { agentIdentity } from '../sensu/agent-identity.js';
import { backendUrlTarget } from '../sensu/urls.js';
import { modules } from '../modules/index.js';
import { hostVars, isSet } from './host-vars.js';
import type { Batch, BatchSize, DirStep, FileStep, LeftBehind, PhasePlan, Plan, PlanProblem, Step } from './types.js';

/** What the controller knows about a local file (a certificate, key or CA to upload). */
export interface LocalFile {
  path: string;
  exists: boolean;
  sha256?: string;
  /** Text for public material; absent for private keys. */
  text?: string;
  secret: boolean;
  /** `sha256`: of the leaf's DER, lower-case hex (what a TLS client sees as its fingerprint). */
  cert?: { subject: string; sans: string[]; issuer: string; notAfter: string; sha256?: string };
}

/** Everything the planner reads. */
export interface PlanInput {
  hosts: readonly HostSpec[];
  /** Every host of the inventory, selected or not (to refuse a --limit that would cut agents off). */
  allHosts: readonly HostSpec[];
  playbook: Playbook;
  facts: ReadonlyMap<string, HostFacts>;
  local: ReadonlyMap<string, LocalFile>;
  /** Problems found by preflight (certificates, connections, sudo): each stops the run. */
  preflight: readonly PlanProblem[];
  forks: number;
  /** Overrides every gate's deadline (the playbook's `timeout`), when set. */
  gateTimeoutMs?: number;
  /** Optional parts of the playbook this run turns on; phases and tasks `requires`-ing others are left out. */
  features?: ReadonlySet<Feature>;
  /**
   * `--serial` for the agents' phases (Ansible's list form: `1,5%,100%`, the last size repeating);
   * the first batch of each is the canary. Unset: batches of the playbook's `serial`.
   */
  agentSerial?: readonly BatchSize[];
  /** Agents preflight left out (`--max-unreachable`): not in `hosts`, named in the plan. */
  leftBehind?: readonly LeftBehind[];
  /** Preflight's notes for the plan (agents switched although cut off now). */
  notes?: readonly string[];
}

/** Context a module planner gets for one host and task. */
export interface TaskContext {
  id: string;
  host: HostSpec;
  facts: HostFacts;
  phase: Phase;
  task: Task;
  args: Record<string, unknown>;
  local: ReadonlyMap<string, LocalFile>;
  /** Steps already planned for this host in this phase (restart and gates depend on them). */
  earlier: readonly Step[];
  /** Changed files of this host not yet followed by a restart, earlier phases included. */
  unrestarted: readonly string[];
  /** Path each changed file step wrote, by step id. */
  written: ReadonlyMap<string, string>;
  /** Every agent of the run as the backends know it (gates that wait for every agent's keepalive). */
  agents: readonly { name: string; namespace: string }[];
  gateTimeoutMs: number | undefined;
  /** Directories the playbook makes root's on this host (files in them may be replaced unread). */
  managedDirs: readonly string[];
  problem(message: string, fix?: string): void;
}

/** Renders `{{ var }}` in task args from the host's vars (same rules as the inventory's). */
function renderArgs(args: Record<string, unknown>, host: HostSpec): { ok: true; value: Record<string, unknown> } | { ok: false; message: string } {
  const r = renderTemplate(args, hostVars(host));
  return r.ok ? { ok: true, value: r.value as Record<string, unknown> } : r;
}

function batchesOf(hosts: readonly HostSpec[], serial: Phase['serial'], forks: number): HostSpec[][] {
  const size = serial === undefined ? hosts.length : serial === 'forks' ? forks : serial;
  const out: HostSpec[][] = [];
  for (let i = 0; i < hosts.length; i += Math.max(1, size)) out.push(hosts.slice(i, i + Math.max(1, size)));
  return out;
}

/** Batches of `--serial` sizes, as Ansible cuts them: each size in turn, the last one repeating. */
export function serialBatches<T>(hosts: readonly T[], sizes: readonly BatchSize[]): T[][] {
  const out: T[][] = [];
  for (let i = 0, k = 0; i < hosts.length; k += 1) {
    const spec = sizes[Math.min(k, sizes.length - 1)] ?? { percent: 100 };
    const size = Math.max(1, 'count' in spec ? spec.count : Math.ceil((hosts.length * spec.percent) / 100));
    out.push(hosts.slice(i, i + size));
    i += size;
  }
  return out;
}

function hostsOf(phase: Phase, hosts: readonly HostSpec[]): HostSpec[] {
  const all = phase.hosts === 'all' ? [...hosts] : hosts.filter((h) => (phase.hosts === 'backends' ? h.role === 'backend' : h.role === 'agent'));
  return phase.slice === 'first' ? all.slice(0, 1) : phase.slice === 'rest' ? all.slice(1) : all;
}

/** A host's facts as they will be once the steps planned so far are applied (later phases plan on them). */
function withPlanned(facts: HostFacts, planned: ReadonlyMap<string, FileFact> | undefined): HostFacts {
  return planned && planned.size > 0 ? { ...facts, files: { ...facts.files, ...Object.fromEntries(planned) } } : facts;
}

function plannedFact(step: FileStep | DirStep): FileFact {
  if (step.kind === 'dir') return { path: step.path, exists: true, kind: 'dir', ...step.after };
  const { mode, owner, group, sha256, text } = step.after;
  return { path: step.path, exists: true, kind: 'file', mode, owner, group, sha256, ...(text !== undefined ? { text } : { secret: true }) };
}

/** Every agent of the run as the backends know it; agents whose config cannot be read are left to their own steps' problems. */
function agentsOf(input: PlanInput): { name: string; namespace: string }[] {
  return input.hosts.flatMap((h) => {
    const facts = input.facts.get(h.name);
    if (h.role !== 'agent' || !facts) return [];
    try {
      const id = agentIdentity(h, facts);
      return [{ name: id.entity, namespace: id.namespace }];
    } catch {
      return [];
    }
  });
}

/** The directories the playbook's `directory` tasks make on a host. */
function managedDirsOf(playbook: Playbook, host: HostSpec): string[] {
  return playbook.phases
    .flatMap((p) => p.tasks)
    .flatMap((t) => {
      if (t.module !== 'directory' || (t.when && t.when !== host.role)) return [];
      const r = renderArgs(t.args, host);
      return r.ok && typeof r.value.path === 'string' ? [r.value.path] : [];
    });
}

/** Plans a run. */
export function plan(input: PlanInput): Plan {
  const problems: PlanProblem[] = [...input.preflight];
  const phases: PhasePlan[] = [];
  const enabled = (part: { requires?: Feature | undefined }): boolean => part.requires === undefined || (input.features?.has(part.requires) ?? false);
  // Per host: files as this run will have left them so far, and changes awaiting a restart.
  const planned = new Map<string, Map<string, FileFact>>();
  const unrestarted = new Map<string, string[]>();
  const written = new Map<string, string>();
  const agents = agentsOf(input);
  for (const phase of input.playbook.phases) {
    if (!enabled(phase)) continue;
    const batches: Batch[] = [];
    const phaseHosts = hostsOf(phase, input.hosts);
    const bySerial = phase.hosts === 'agents' && input.agentSerial !== undefined && input.agentSerial.length > 0;
    for (const batchHosts of bySerial ? serialBatches(phaseHosts, input.agentSerial ?? []) : batchesOf(phaseHosts, phase.serial, input.forks)) {
      const steps: Step[] = [];
      for (const host of batchHosts) {
        const gathered = input.facts.get(host.name);
        if (!gathered) continue; // unreachable hosts are preflight problems already
        const files = planned.get(host.name) ?? new Map<string, FileFact>();
        planned.set(host.name, files);
        const earlier: Step[] = [];
        phase.tasks.forEach((task, index) => {
          if (task.when && task.when !== host.role) return;
          if (!enabled(task)) return;
          if (task.when_set && !isSet(host, task.when_set)) return;
          const rendered = renderArgs(task.args, host);
          const problem = (message: string, fix?: string): void => {
            problems.push({ host: host.name, message: `${task.name}: ${message}`, ...(fix ? { fix } : {}) });
          };
          if (!rendered.ok) {
            problem(rendered.message, 'set the variable in the inventory');
            return;
          }
          const facts = withPlanned(gathered, files);
          const pending = unrestarted.get(host.name) ?? [];
          const ctx: TaskContext = {
            id: `${phase.name}/${index}/${host.name}`,
            host,
            facts,
            phase,
            task,
            args: rendered.value,
            local: input.local,
            earlier,
            unrestarted: pending,
            written,
            agents,
            gateTimeoutMs: input.gateTimeoutMs,
            managedDirs: managedDirsOf(input.playbook, host),
            problem,
          };
          // The task's module plans it (src/modules/).
          const steps = modules[task.module].plan(ctx);
          for (const step of steps) {
            if (step.status !== 'change') continue;
            if (step.kind === 'file' || step.kind === 'dir') files.set(step.path, plannedFact(step));
            // A member whose peer URLs changed must restart to listen where its peers now dial.
            if (step.kind === 'file' || step.kind === 'etcd_member') unrestarted.set(host.name, [...(unrestarted.get(host.name) ?? []), step.id]);
            if (step.kind === 'file') written.set(step.id, step.path);
            if (step.kind === 'restart')
              unrestarted.set(
                host.name,
                (unrestarted.get(host.name) ?? []).filter((id) => !step.after.includes(id)),
              );
          }
          earlier.push(...steps);
        });
        steps.push(...earlier);
      }
      batches.push({ hosts: batchHosts.map((h) => h.name), steps, ...(bySerial && batches.length === 0 ? { canary: true } : {}) });
    }
    phases.push({ name: phase.name, description: phase.description, ...(phase.wave ? { wave: phase.wave } : {}), batches });
  }
  checkLimitKeepsLockstep(input, phases, problems);
  checkAgentsReachFirst(input, phases, problems);
  const all = phases.flatMap((p) => p.batches.flatMap((b) => b.steps));
  const changing = all.filter((s) => s.status === 'change' && s.kind !== 'gate');
  return {
    playbook: input.playbook.name,
    phases,
    problems,
    changedHosts: [...new Set(changing.map((s) => s.host))],
    changes: changing.length,
    leftBehind: [...(input.leftBehind ?? [])],
    notes: [...(input.notes ?? []), ...agentsOnlyNote(input, changing)],
  };
}

/**
 * A run of agents alone (a retry file's, on a fleet whose backends are on TLS already): no backend
 * restarts and there is no lockstep, each agent switches on its own. Said, so nobody waits for one.
 */
function agentsOnlyNote(input: PlanInput, changing: readonly Step[]): string[] {
  if (input.hosts.some((h) => h.role === 'backend')) return [];
  const switching = changing.some((s) => s.kind === 'file' && s.module === 'sensu_config');
  if (!switching) return [];
  return [
    'no backend is in this run: none restarts and there is no lockstep; each agent switches on its own, and its gate proves its backends serve what it now dials',
  ];
}

/**
 * A --limit that turns backends to TLS while leaving some agents out would cut those agents off
 * (Sensu has no mixed mode). Refuse before anything changes.
 */
function checkLimitKeepsLockstep(input: PlanInput, phases: readonly PhasePlan[], problems: PlanProblem[]): void {
  const selected = new Set(input.hosts.map((h) => h.name));
  // A restart counts: a rotation changes no config in the wave, but backends restart onto new certificates.
  const backendsChange = phases.some(
    (p) =>
      p.wave &&
      p.batches.some((b) =>
        b.steps.some(
          (s) => s.status === 'change' && (s.kind === 'file' || s.kind === 'restart') && input.hosts.find((h) => h.name === s.host)?.role === 'backend',
        ),
      ),
  );
  if (!backendsChange) return;
  // Agents preflight left out under --max-unreachable were accepted as cut off, and are named apart.
  const accepted = new Set((input.leftBehind ?? []).map((l) => l.host));
  const left = input.allHosts.filter((h) => h.role === 'agent' && !selected.has(h.name) && !accepted.has(h.name));
  if (left.length > 0) {
    problems.push({
      host:
        left
          .map((h) => h.name)
          .slice(0, 5)
          .join(', ') + (left.length > 5 ? ` and ${left.length - 5} more` : ''),
      message: `--limit switches backends to TLS but leaves ${left.length} agent(s) out: they would be cut off (Sensu has no mixed ws/wss mode)`,
      fix: 'include every agent in --limit, or limit to agents only',
    });
  }
}

/**
 * A phase that changes only the first backend (`slice: first`, agent mTLS) leaves agents one
 * backend to move to: an agent whose backend-url does not list it would be cut off once it
 * switches. Refuse before anything changes.
 */
function checkAgentsReachFirst(input: PlanInput, phases: readonly PhasePlan[], problems: PlanProblem[]): void {
  const firstPhases = input.playbook.phases.filter((p) => p.slice === 'first').map((p) => p.name);
  const first = phases
    .filter((p) => firstPhases.includes(p.name))
    .flatMap((p) => p.batches.flatMap((b) => b.steps))
    .find((st) => st.status === 'change')?.host;
  const backend = input.hosts.find((h) => h.name === first);
  if (!backend) return;
  const names = new Set([backend.name, backend.address].map((n) => n.toLowerCase()));
  for (const h of input.hosts) {
    const facts = input.facts.get(h.name);
    if (h.role !== 'agent' || !facts) continue;
    let urls: string[];
    try {
      urls = agentIdentity(h, facts).backendUrls;
    } catch {
      continue; // its config's own problem is reported by its steps
    }
    const hosts = urls.map(
      (u) =>
        backendUrlTarget(u)
          ?.host.toLowerCase()
          .replace(/^\[|\]$/g, '') ?? '',
    );
    if (!hosts.some((x) => names.has(x))) {
      problems.push({
        host: h.name,
        message: `its backend-url (${urls.join(', ') || 'none'}) does not list ${backend.name}, the backend that takes client certificates first: it would be cut off once it presents its certificate`,
        fix: `add ${backend.name} to the agent's backend-url, or put a backend it lists first in the inventory`,
      });
    }
  }
}
