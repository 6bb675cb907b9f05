/**
 * The planner: `plan(inventory, playbook, facts) → Plan`. Pure — no SSH, no files, no console:
 * everything it knows comes in as data (facts of each host, and of the controller's local files),
 * so the dry run and the real run share it and the diff shown is the change made.
 */
import { createHash } from 'node:crypto';
import type { HostSpec } from '../inventory/types.js';
import { renderTemplate } from '../inventory/template.js';
import type { FileFact, HostFacts } from '../facts/types.js';
import type { Feature, Phase, Playbook, Task } from '../playbook/schema.js';
import { unsafeFile } from './unsafe-files.js';
import { caBundle, certCount } from '../certs/ca-bundle.js';
import { agentIdentity } from '../sensu/agent-identity.js';
import { configPathOf, envFilesOf } from '../sensu/host-config.js';
import { backendUrlTarget } from '../sensu/urls.js';
import { endpointsFromFacts, planConfigSteps } from './config-steps.js';
import { planEtcdMember } from './etcd-member-step.js';
import { hostVars, isSet } from './host-vars.js';
import type { Batch, BatchSize, DirStep, FileStep, GateStep, LeftBehind, PhasePlan, Plan, PlanProblem, RestartStep, Step } from './types.js';

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

const modeText = (m: number | undefined): string => (m === undefined ? '?' : `0${(m & 0o777).toString(8)}`);

/** Renders `{{ var }}` in task args from the host's vars (same rules as the inventory's). */
function renderArgs(args: Record<string, unknown>, host: HostSpec): { ok: true; value: Record<string, unknown> } | { ok: false; message: string } {
  const r = renderTemplate(args, hostVars(host));
  return r.ok ? { ok: true, value: r.value as Record<string, unknown> } : r;
}

function planDirectory(ctx: TaskContext): DirStep {
  const { path, mode, owner, group } = ctx.args as { path: string; mode: string; owner: string; group: string };
  const fact = ctx.facts.files[path] ?? { path, exists: false };
  const after = { mode: parseInt(mode, 8), owner, group };
  const unsafe = unsafeFile(path, fact, { untrustedDirs: ctx.facts.untrustedDirs ?? [] });
  if (unsafe) ctx.problem(unsafe.message, unsafe.fix);
  const base = { id: ctx.id, host: ctx.host.name, phase: ctx.phase.name, task: ctx.task.name, module: ctx.task.module, kind: 'dir' as const, path, after };
  const before = { exists: fact.exists, ...(fact.mode !== undefined ? { mode: fact.mode, owner: fact.owner ?? '', group: fact.group ?? '' } : {}) };
  if (!fact.exists) return { ...base, before, status: 'change', reason: `create ${path} ${mode} ${owner}:${group}` };
  if (fact.kind !== 'dir') {
    ctx.problem(`${path} exists and is not a directory`, 'move the file away; rollout keeps certificates in that directory');
    return { ...base, before, status: 'noop', reason: 'not a directory' };
  }
  const same = fact.mode === after.mode && fact.owner === owner && fact.group === group;
  return same
    ? { ...base, before, status: 'noop', reason: `${path} already ${mode} ${owner}:${group}` }
    : { ...base, before, status: 'change', reason: `${path} ${modeText(fact.mode)} ${fact.owner ?? '?'}:${fact.group ?? '?'} → ${mode} ${owner}:${group}` };
}

function planCopy(ctx: TaskContext): FileStep | undefined {
  const { src, dest, mode, owner, group, secret, keep_existing_certs: keep } = ctx.args as { src: string; dest: string; mode: string; owner: string; group: string; secret: boolean; keep_existing_certs: boolean };
  const local = ctx.local.get(src);
  if (!local?.exists || !local.sha256) {
    ctx.problem(`cannot read ${src} on this machine`, 'check the sensu_* file vars in the inventory (paths are relative to the inventory file)');
    return undefined;
  }
  const fact = ctx.facts.files[dest] ?? { path: dest, exists: false };
  // A file in a directory this run takes back from another user is replaced unread (reading it
  // could follow a link that user planted); anything else root cannot act on safely stops the run.
  const managed = ctx.managedDirs.some((d) => dest.startsWith(`${d}/`));
  const unsafe = unsafeFile(dest, fact, { untrustedOk: managed, untrustedDirs: ctx.facts.untrustedDirs ?? [] });
  if (unsafe) {
    ctx.problem(unsafe.message, unsafe.fix);
    return undefined;
  }
  if (fact.untrusted && keep && readByUnit(ctx, dest)) {
    ctx.problem(`${dest} is in use and lies in a directory the sensu user could write, so its certificates cannot be read and kept`, `make ${dest.slice(0, dest.lastIndexOf('/'))} root's (chown root:sensu; chmod 0750) and run again`);
    return undefined;
  }
  // A CA file keeps what the host trusts besides the new CA: see playbooks/secure.yml.
  const bundled = keep && local.text !== undefined ? caBundle(local.text, fact.text) : undefined;
  const bundle = bundled !== undefined && bundled !== local.text ? bundled : undefined;
  const text = bundle ?? local.text;
  const sha256 = bundle !== undefined ? createHash('sha256').update(bundle).digest('hex') : local.sha256;
  const after = { exists: true, mode: parseInt(mode, 8), owner, group, sha256, ...(text !== undefined && !secret ? { text } : {}) };
  const before = {
    exists: fact.exists,
    ...(fact.untrusted ? { unread: true } : {}),
    ...(fact.sha256 ? { sha256: fact.sha256 } : {}),
    ...(fact.mode !== undefined ? { mode: fact.mode, owner: fact.owner ?? '', group: fact.group ?? '' } : {}),
    ...(fact.text !== undefined && !secret ? { text: fact.text } : {}),
  };
  const base = {
    id: ctx.id, host: ctx.host.name, phase: ctx.phase.name, task: ctx.task.name, module: ctx.task.module, kind: 'file' as const,
    path: dest, before, after, source: src, secret: secret || local.secret, ...(local.cert ? { cert: local.cert } : {}),
  };
  if (!fact.exists) return { ...base, status: 'change', reason: `upload ${dest}` };
  if (fact.untrusted) return { ...base, status: 'change', reason: `replace ${dest} unread (its directory was not root's)` };
  const kept = bundle !== undefined ? `, still trusting ${certCount(bundle) - certCount(local.text ?? '')} certificate(s) of the old file` : '';
  if (fact.sha256 !== sha256) return { ...base, status: 'change', reason: `replace ${dest} (content differs${kept})` };
  if (fact.mode !== after.mode || fact.owner !== owner || fact.group !== group) {
    return { ...base, status: 'change', reason: `${dest} ${modeText(fact.mode)} ${fact.owner ?? '?'}:${fact.group ?? '?'} → ${mode} ${owner}:${group}` };
  }
  return { ...base, status: 'noop', reason: `${dest} up to date` };
}

/**
 * Whether the unit reads a file at its next start: its config files, and files its config names
 * as this run will have left them. A client certificate uploaded before the config points at it
 * waits for the restart that comes with that config (no restart for a file nothing reads yet).
 */
function readByUnit(ctx: TaskContext, path: string | undefined): boolean {
  if (path === undefined) return true;
  const configs = [configPathOf(ctx.host), ...envFilesOf(ctx.host.role)];
  return configs.includes(path) || configs.some((c) => ctx.facts.files[c]?.text?.includes(path) === true);
}

function planRestart(ctx: TaskContext): RestartStep {
  const { name } = ctx.args as { name: string };
  // Files changed in earlier phases count too: a certificate replaced in `distribute` is only
  // served once the unit restarts, in the phase whose turn it is (a rotation changes no config).
  const changed = ctx.unrestarted.filter((id) => readByUnit(ctx, ctx.written.get(id)));
  const base = { id: ctx.id, host: ctx.host.name, phase: ctx.phase.name, task: ctx.task.name, module: ctx.task.module, kind: 'restart' as const, unit: name, after: changed };
  if (!ctx.facts.service.exists) ctx.problem(`unit ${name} not found`, `install Sensu's ${name} package on the host, or take the host out of the inventory`);
  return changed.length > 0 ? { ...base, status: 'change', reason: `restart ${name}: files it reads changed` } : { ...base, status: 'noop', reason: 'configuration unchanged' };
}

function planGate(ctx: TaskContext, target: GateTarget): GateStep {
  const gate = ctx.task.module as GateStep['gate'];
  const args = ctx.args as { tls?: boolean; timeout: number; agents?: boolean };
  const restarts = ctx.earlier.filter((s) => s.kind === 'restart' && s.status === 'change').map((s) => s.id);
  if (args.agents && !ctx.host.sensu.apiKey && !(ctx.host.sensu.apiUser && ctx.host.sensu.apiPassword)) {
    ctx.problem('this gate waits for every agent\'s keepalive, and the inventory gives no Sensu API credentials to read them', 'set sensu_api_key, or sensu_api_user and sensu_api_password, for the backends');
  }
  const base = {
    id: ctx.id, host: ctx.host.name, phase: ctx.phase.name, task: ctx.task.name, module: ctx.task.module, kind: 'gate' as const,
    gate, after: restarts, tls: args.tls ?? false, timeoutMs: ctx.gateTimeoutMs ?? args.timeout * 1000, ...target,
    ...(args.agents && ctx.agents.length > 0 ? { agents: [...ctx.agents] } : {}),
  };
  return restarts.length > 0 ? { ...base, status: 'change', reason: 'verify health after the restart' } : { ...base, status: 'noop', reason: 'nothing restarted' };
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
  return playbook.phases.flatMap((p) => p.tasks).flatMap((t) => {
    if (t.module !== 'directory' || (t.when && t.when !== host.role)) return [];
    const r = renderArgs(t.args, host);
    return r.ok && typeof r.value.path === 'string' ? [r.value.path] : [];
  });
}

/** Plans a run. */
export function plan(input: PlanInput): Plan {
  const problems: PlanProblem[] = [...input.preflight];
  const phases: PhasePlan[] = [];
  const wanted = (part: { requires?: Feature | undefined }): boolean => part.requires === undefined || (input.features?.has(part.requires) ?? false);
  // Per host: files as this run will have left them so far, and changes awaiting a restart.
  const planned = new Map<string, Map<string, FileFact>>();
  const unrestarted = new Map<string, string[]>();
  const written = new Map<string, string>();
  const agents = agentsOf(input);
  for (const phase of input.playbook.phases) {
    if (!wanted(phase)) continue;
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
          if (!wanted(task)) return;
          if (task.when_set && !isSet(host, task.when_set)) return;
          if (task.module === 'cert_preflight') return; // checked before planning; its problems arrive in input.preflight
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
          const ctx: TaskContext = { id: `${phase.name}/${index}/${host.name}`, host, facts, phase, task, args: rendered.value, local: input.local, earlier, unrestarted: pending, written, agents, gateTimeoutMs: input.gateTimeoutMs, managedDirs: managedDirsOf(input.playbook, host), problem };
          const steps = planTask(ctx);
          for (const step of steps) {
            if (step.status !== 'change') continue;
            if (step.kind === 'file' || step.kind === 'dir') files.set(step.path, plannedFact(step));
            // A member whose peer URLs changed must restart to listen where its peers now dial.
            if (step.kind === 'file' || step.kind === 'etcd_member') unrestarted.set(host.name, [...(unrestarted.get(host.name) ?? []), step.id]);
            if (step.kind === 'file') written.set(step.id, step.path);
            if (step.kind === 'restart') unrestarted.set(host.name, (unrestarted.get(host.name) ?? []).filter((id) => !step.after.includes(id)));
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
  return ['no backend is in this run: none restarts and there is no lockstep; each agent switches on its own, and its gate proves its backends serve what it now dials'];
}

function planTask(ctx: TaskContext): Step[] {
  switch (ctx.task.module) {
    case 'directory':
      return [planDirectory(ctx)];
    case 'copy': {
      const s = planCopy(ctx);
      return s ? [s] : [];
    }
    case 'sensu_config':
      return planConfigSteps(ctx);
    case 'service':
      return [planRestart(ctx)];
    case 'backend_health':
    case 'agent_health': {
      const target = gateTarget(ctx);
      return target ? [planGate(ctx, target)] : [];
    }
    case 'cert_preflight':
      return [];
    case 'etcd_member':
      return planEtcdMember(ctx);
  }
}

type GateTarget = Pick<GateStep, 'probe' | 'entity' | 'dashboard'>;

/**
 * The certificate the web UI will serve: the dashboard pair when the inventory gives one, else
 * `cert-file` (Sensu's fallback). Undefined when the local file could not be read (preflight says so).
 */
function dashboardCert(ctx: TaskContext): { file: string; sha256: string } | undefined {
  const file = ctx.host.sensu.dashboardCertFile ?? ctx.host.sensu.certFile;
  const sha256 = file ? ctx.local.get(file)?.cert?.sha256 : undefined;
  return file && sha256 ? { file, sha256 } : undefined;
}

/** Where a gate probes, read from the host's effective config (after this run's changes). */
function gateTarget(ctx: TaskContext): GateTarget | undefined {
  const configStep = ctx.earlier.find((s): s is FileStep => s.kind === 'file' && s.module === 'sensu_config');
  const effective = configStep?.effective ?? endpointsFromFacts(ctx);
  if (!effective) return undefined;
  if (ctx.task.module === 'backend_health') {
    const { tls, dashboard } = ctx.args as { tls: boolean; dashboard?: boolean };
    // No web UI answered before the run (the open-source build serves none): none to wait for.
    const cert = dashboard && ctx.facts.health?.webUi !== false ? dashboardCert(ctx) : undefined;
    const host = effective.dashboardHost === '' || /^(\[::\]|::|0\.0\.0\.0)$/.test(effective.dashboardHost) ? ctx.host.address : effective.dashboardHost.replace(/^\[|\]$/g, '');
    return {
      probe: { address: ctx.host.address, port: effective.apiPort, scheme: tls ? 'https' : 'http' },
      ...(cert ? { dashboard: { address: host, port: effective.dashboardPort, certFile: cert.file, sha256: cert.sha256 } } : {}),
    };
  }
  return {
    probe: { address: effective.agentApiHost, port: effective.agentApiPort, scheme: 'http' },
    entity: { name: ctx.host.sensu.entityName ?? effective.entityName ?? ctx.facts.hostname, namespace: effective.namespace },
  };
}

/**
 * A --limit that turns backends to TLS while leaving some agents out would cut those agents off
 * (Sensu has no mixed mode). Refuse before anything changes.
 */
function checkLimitKeepsLockstep(input: PlanInput, phases: readonly PhasePlan[], problems: PlanProblem[]): void {
  const selected = new Set(input.hosts.map((h) => h.name));
  // A restart counts: a rotation changes no config in the wave, but backends restart onto new certificates.
  const backendsChange = phases.some((p) => p.wave && p.batches.some((b) => b.steps.some((s) => s.status === 'change' && (s.kind === 'file' || s.kind === 'restart') && input.hosts.find((h) => h.name === s.host)?.role === 'backend')));
  if (!backendsChange) return;
  // Agents preflight left out under --max-unreachable were accepted as cut off, and are named apart.
  const accepted = new Set((input.leftBehind ?? []).map((l) => l.host));
  const left = input.allHosts.filter((h) => h.role === 'agent' && !selected.has(h.name) && !accepted.has(h.name));
  if (left.length > 0) {
    problems.push({
      host: left.map((h) => h.name).slice(0, 5).join(', ') + (left.length > 5 ? ` and ${left.length - 5} more` : ''),
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
    const hosts = urls.map((u) => backendUrlTarget(u)?.host.toLowerCase().replace(/^\[|\]$/g, '') ?? '');
    if (!hosts.some((x) => names.has(x))) {
      problems.push({
        host: h.name,
        message: `its backend-url (${urls.join(', ') || 'none'}) does not list ${backend.name}, the backend that takes client certificates first: it would be cut off once it presents its certificate`,
        fix: `add ${backend.name} to the agent's backend-url, or put a backend it lists first in the inventory`,
      });
    }
  }
}
