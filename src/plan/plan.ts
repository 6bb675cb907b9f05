/**
 * The planner: `plan(inventory, playbook, facts) → Plan`. Pure — no SSH, no files, no console:
 * everything it knows comes in as data (facts of each host, and of the controller's local files),
 * so the dry run and the real run share it and the diff shown is the change made.
 */
import type { HostSpec } from '../inventory/types.js';
import { renderTemplate } from '../inventory/template.js';
import type { HostFacts } from '../facts/types.js';
import type { Feature, Phase, Playbook, Task } from '../playbook/schema.js';
import { planConfigSteps } from './config-steps.js';
import type { Batch, DirStep, FileStep, GateStep, PhasePlan, Plan, PlanProblem, RestartStep, Step } from './types.js';

/** What the controller knows about a local file (a certificate, key or CA to upload). */
export interface LocalFile {
  path: string;
  exists: boolean;
  sha256?: string;
  /** Text for public material; absent for private keys. */
  text?: string;
  secret: boolean;
  cert?: { subject: string; sans: string[]; issuer: string; notAfter: string };
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
  gateTimeoutMs: number | undefined;
  problem(message: string, fix?: string): void;
}

const modeText = (m: number | undefined): string => (m === undefined ? '?' : `0${(m & 0o777).toString(8)}`);

/** Renders `{{ var }}` in task args from the host's vars (same rules as the inventory's). */
function renderArgs(args: Record<string, unknown>, host: HostSpec): { ok: true; value: Record<string, unknown> } | { ok: false; message: string } {
  const lookup = (name: string): { found: true; value: unknown } | { found: false } => {
    if (name === 'inventory_hostname') return { found: true, value: host.name };
    const paths: Record<string, string | undefined> = {
      sensu_ca_file: host.sensu.caFile,
      sensu_cert_file: host.sensu.certFile,
      sensu_key_file: host.sensu.keyFile,
      sensu_backend_config: host.sensu.backendConfig,
      sensu_agent_config: host.sensu.agentConfig,
    };
    if (name in paths) return paths[name] === undefined ? { found: false } : { found: true, value: paths[name] };
    return name in host.vars ? { found: true, value: host.vars[name] } : { found: false };
  };
  const r = renderTemplate(args, lookup);
  return r.ok ? { ok: true, value: r.value as Record<string, unknown> } : r;
}

function planDirectory(ctx: TaskContext): DirStep {
  const { path, mode, owner, group } = ctx.args as { path: string; mode: string; owner: string; group: string };
  const fact = ctx.facts.files[path] ?? { path, exists: false };
  const after = { mode: parseInt(mode, 8), owner, group };
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
  const { src, dest, mode, owner, group, secret } = ctx.args as { src: string; dest: string; mode: string; owner: string; group: string; secret: boolean };
  const local = ctx.local.get(src);
  if (!local?.exists || !local.sha256) {
    ctx.problem(`cannot read ${src} on this machine`, 'check the sensu_* file vars in the inventory (paths are relative to the inventory file)');
    return undefined;
  }
  const fact = ctx.facts.files[dest] ?? { path: dest, exists: false };
  const after = { exists: true, mode: parseInt(mode, 8), owner, group, sha256: local.sha256, ...(local.text !== undefined && !secret ? { text: local.text } : {}) };
  const before = {
    exists: fact.exists,
    ...(fact.sha256 ? { sha256: fact.sha256 } : {}),
    ...(fact.mode !== undefined ? { mode: fact.mode, owner: fact.owner ?? '', group: fact.group ?? '' } : {}),
    ...(fact.text !== undefined && !secret ? { text: fact.text } : {}),
  };
  const base = {
    id: ctx.id, host: ctx.host.name, phase: ctx.phase.name, task: ctx.task.name, module: ctx.task.module, kind: 'file' as const,
    path: dest, before, after, source: src, secret: secret || local.secret, ...(local.cert ? { cert: local.cert } : {}),
  };
  if (!fact.exists) return { ...base, status: 'change', reason: `upload ${dest}` };
  if (fact.sha256 !== local.sha256) return { ...base, status: 'change', reason: `replace ${dest} (content differs)` };
  if (fact.mode !== after.mode || fact.owner !== owner || fact.group !== group) {
    return { ...base, status: 'change', reason: `${dest} ${modeText(fact.mode)} ${fact.owner ?? '?'}:${fact.group ?? '?'} → ${mode} ${owner}:${group}` };
  }
  return { ...base, status: 'noop', reason: `${dest} up to date` };
}

function planRestart(ctx: TaskContext): RestartStep {
  const { name } = ctx.args as { name: string };
  const changed = ctx.earlier.filter((s) => s.kind === 'file' && s.status === 'change').map((s) => s.id);
  const base = { id: ctx.id, host: ctx.host.name, phase: ctx.phase.name, task: ctx.task.name, module: ctx.task.module, kind: 'restart' as const, unit: name, after: changed };
  if (!ctx.facts.service.exists) ctx.problem(`unit ${name} not found`, `install Sensu's ${name} package on the host, or take the host out of the inventory`);
  return changed.length > 0 ? { ...base, status: 'change', reason: `restart ${name}: its configuration changed` } : { ...base, status: 'noop', reason: 'configuration unchanged' };
}

function planGate(ctx: TaskContext, probe: GateStep['probe'], entity?: GateStep['entity']): GateStep {
  const gate = ctx.task.module as GateStep['gate'];
  const args = ctx.args as { tls?: boolean; timeout: number };
  const restarts = ctx.earlier.filter((s) => s.kind === 'restart' && s.status === 'change').map((s) => s.id);
  const base = {
    id: ctx.id, host: ctx.host.name, phase: ctx.phase.name, task: ctx.task.name, module: ctx.task.module, kind: 'gate' as const,
    gate, after: restarts, tls: args.tls ?? false, timeoutMs: ctx.gateTimeoutMs ?? args.timeout * 1000, probe, ...(entity ? { entity } : {}),
  };
  return restarts.length > 0 ? { ...base, status: 'change', reason: 'verify health after the restart' } : { ...base, status: 'noop', reason: 'nothing restarted' };
}

function batchesOf(hosts: readonly HostSpec[], serial: Phase['serial'], forks: number): HostSpec[][] {
  const size = serial === undefined ? hosts.length : serial === 'forks' ? forks : serial;
  const out: HostSpec[][] = [];
  for (let i = 0; i < hosts.length; i += Math.max(1, size)) out.push(hosts.slice(i, i + Math.max(1, size)));
  return out;
}

function hostsOf(phase: Phase, hosts: readonly HostSpec[]): HostSpec[] {
  if (phase.hosts === 'all') return [...hosts];
  return hosts.filter((h) => (phase.hosts === 'backends' ? h.role === 'backend' : h.role === 'agent'));
}

/** Plans a run. */
export function plan(input: PlanInput): Plan {
  const problems: PlanProblem[] = [...input.preflight];
  const phases: PhasePlan[] = [];
  const wanted = (part: { requires?: Feature | undefined }): boolean => part.requires === undefined || (input.features?.has(part.requires) ?? false);
  for (const phase of input.playbook.phases) {
    if (!wanted(phase)) continue;
    const batches: Batch[] = [];
    for (const batchHosts of batchesOf(hostsOf(phase, input.hosts), phase.serial, input.forks)) {
      const steps: Step[] = [];
      for (const host of batchHosts) {
        const facts = input.facts.get(host.name);
        if (!facts) continue; // unreachable hosts are preflight problems already
        const earlier: Step[] = [];
        phase.tasks.forEach((task, index) => {
          if (task.when && task.when !== host.role) return;
          if (!wanted(task)) return;
          if (task.module === 'cert_preflight') return; // checked before planning; its problems arrive in input.preflight
          const rendered = renderArgs(task.args, host);
          const problem = (message: string, fix?: string): void => {
            problems.push({ host: host.name, message: `${task.name}: ${message}`, ...(fix ? { fix } : {}) });
          };
          if (!rendered.ok) {
            problem(rendered.message, 'set the variable in the inventory');
            return;
          }
          const ctx: TaskContext = { id: `${phase.name}/${index}/${host.name}`, host, facts, phase, task, args: rendered.value, local: input.local, earlier, gateTimeoutMs: input.gateTimeoutMs, problem };
          const planned = planTask(ctx);
          earlier.push(...planned);
        });
        steps.push(...earlier);
      }
      batches.push({ hosts: batchHosts.map((h) => h.name), steps });
    }
    phases.push({ name: phase.name, description: phase.description, ...(phase.wave ? { wave: phase.wave } : {}), batches });
  }
  checkLimitKeepsLockstep(input, phases, problems);
  const all = phases.flatMap((p) => p.batches.flatMap((b) => b.steps));
  const changing = all.filter((s) => s.status === 'change' && s.kind !== 'gate');
  return {
    playbook: input.playbook.name,
    phases,
    problems,
    changedHosts: [...new Set(changing.map((s) => s.host))],
    changes: changing.length,
  };
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
      return target ? [planGate(ctx, target.probe, target.entity)] : [];
    }
    case 'cert_preflight':
      return [];
  }
}

/** Where a gate probes, read from the host's effective config (after this run's changes). */
function gateTarget(ctx: TaskContext): { probe: GateStep['probe']; entity?: GateStep['entity'] } | undefined {
  const configStep = ctx.earlier.find((s): s is FileStep => s.kind === 'file' && s.module === 'sensu_config');
  const effective = configStep?.effective;
  if (!effective) return undefined;
  if (ctx.task.module === 'backend_health') {
    const tls = (ctx.args as { tls: boolean }).tls;
    return { probe: { address: ctx.host.address, port: effective.apiPort, scheme: tls ? 'https' : 'http' } };
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
  const backendsChange = phases.some((p) => p.wave && p.batches.some((b) => b.steps.some((s) => s.status === 'change' && s.kind === 'file' && input.hosts.find((h) => h.name === s.host)?.role === 'backend')));
  if (!backendsChange) return;
  const left = input.allHosts.filter((h) => h.role === 'agent' && !selected.has(h.name));
  if (left.length > 0) {
    problems.push({
      host: left.map((h) => h.name).slice(0, 5).join(', ') + (left.length > 5 ? ` and ${left.length - 5} more` : ''),
      message: `--limit switches backends to TLS but leaves ${left.length} agent(s) out: they would be cut off (Sensu has no mixed ws/wss mode)`,
      fix: 'include every agent in --limit, or limit to agents only',
    });
  }
}
