/**
 * `rollout secure`: load → connect → gather facts → preflight → plan → show → confirm → execute →
 * recap → disconnect (in a finally). `--check` stops after show. The same plan drives both.
 */
import type { ListrRendererValue } from 'listr2';
import { ExitCode, InputError, PreflightError, RollbackFailedError, RolledBackError, InterruptedError } from '../../errors.js';
import { lockFleet } from '../../execute/lock.js';
import { fleetStateDir, Journal, newRunId } from '../../execute/journal.js';
import type { ExecuteResult, HostOutcome } from '../../execute/run.js';
import { addEtcdFacts } from '../../facts/etcd-members.js';
import { allowedOf } from '../../plan/health-preflight.js';
import type { BatchSize, LeftBehind, Plan, PlanProblem } from '../../plan/types.js';
import { loadPlaybook } from '../../playbook/load.js';
import type { Feature } from '../../playbook/schema.js';
import { renderPlan, planSummary } from '../../ui/plan-view.js';
import { isSecretKey, redact, sweepSecrets } from '../../ui/redact.js';
import { askYesNo, canPrompt } from '../../ui/prompts.js';
import { loadFleet, type FleetFlags } from '../context.js';
import { table, type Output } from '../output.js';
import { RunStats, statsLines } from '../run-stats.js';
import { caText, connectAndGather, keepaliveCheck, preflightAndPlan, probesOf, writeRetryFile } from '../../stages/secure.js';
import { secretsOf } from './secrets.js';

/** Options of `rollout secure`. */
export interface SecureFlags extends FleetFlags {
  check?: boolean;
  diff?: boolean;
  yes?: boolean;
  step?: boolean;
  json?: boolean;
  playbook: string;
  minValidity: number;
  gateTimeout?: number;
  /** `--agent-mtls`: agents authenticate to backends with client certificates. */
  agentMtls?: boolean;
  /** `--etcd-tls`: etcd client and peer traffic over TLS, member by member. */
  etcdTls?: boolean;
  /** `--drop-old-ca`: after a CA rotation, hosts trust only the inventory's CA. */
  dropOldCa?: boolean;
  /** `--stats`: report where the time went and what the run cost. */
  stats?: boolean;
  /** `--force-unlock`: take the fleet lock whoever holds it. */
  forceUnlock?: boolean;
  /** `--keep-backups`: on-host backups of how many runs to keep (older ones go after a successful run). */
  keepBackups?: number;
  /** `--max-unreachable N|P%`: agents that may be left out at preflight (unreachable, or sensu-agent not running). */
  maxUnreachable?: BatchSize;
  /** `--max-fail-percentage P`: agents that may fail in their wave and be put back alone, as a percentage of the run's agents. */
  maxFailPercentage?: number;
  /** `--serial 1,5%,100%`: the agents' batch sizes; the first batch is the canary. */
  serial?: BatchSize[];
}

/** The playbook's optional parts this run turns on. */
export function featuresOf(flags: Pick<SecureFlags, 'agentMtls' | 'etcdTls' | 'dropOldCa'>): Set<Feature> {
  const features = new Set<Feature>();
  if (flags.agentMtls) features.add('agent_mtls');
  if (flags.etcdTls) features.add('etcd_tls');
  if (flags.dropOldCa) features.add('drop_old_ca');
  return features;
}

async function rendererFor(flags: SecureFlags): Promise<ListrRendererValue> {
  if (flags.json) return 'silent';
  // Step mode scrolls (one line per event): questions, diffs and gate results stay readable.
  if (flags.step) return (await import('../../ui/step-renderer.js')).StepRenderer;
  // -v lines on stderr would tear the default renderer's redrawn screen: it scrolls instead.
  return process.stdout.isTTY && !process.env.CI && flags.verbose === 0 ? 'default' : 'simple';
}

function printProblems(out: Output, problems: readonly PlanProblem[]): void {
  for (const p of problems) {
    out.note(out.style('red', `✗ ${p.host}: ${p.message}`));
    if (p.fix) out.note(out.style('dim', `    → ${p.fix}`));
  }
}

function recap(out: Output, result: ExecuteResult): void {
  const colorOf = (s: string): string =>
    s === 'ok'
      ? out.style('green', s)
      : s === 'changed' || s === 'left behind'
        ? out.style('yellow', s)
        : s === 'rolled back'
          ? out.style('cyan', s)
          : out.style('red', s);
  const rows = result.hosts.map((h) => [h.host, h.role, colorOf(h.status), String(h.changed), `${(h.ms / 1000).toFixed(1)} s`, h.detail ?? '']);
  const counts = new Map<string, number>();
  for (const h of result.hosts) counts.set(h.status, (counts.get(h.status) ?? 0) + 1);
  // 200 rows of "changed" say nothing: list the hosts that need reading, summarise the rest.
  const interesting = rows.filter((r) => !(r[2] ?? '').includes('changed') && !(r[2] ?? '').includes('ok'));
  out.line();
  out.line(out.style('bold', 'Recap'));
  if (rows.length <= 30) out.line(table([['HOST', 'ROLE', 'STATUS', 'CHANGES', 'TIME', ''], ...rows]));
  else if (interesting.length > 0) out.line(table([['HOST', 'ROLE', 'STATUS', 'CHANGES', 'TIME', ''], ...interesting]));
  out.line([...counts.entries()].map(([s, n]) => `${s}=${n}`).join('  '));
}

/** Runs `rollout secure`; returns the exit code or throws a RolloutError. */
export async function runSecure(flags: SecureFlags, out: Output): Promise<number> {
  if (flags.step && flags.yes) throw new InputError('--step and --yes contradict each other: --step asks before every task, --yes never asks');
  if (flags.step && flags.json) throw new InputError('--step and --json contradict each other: --step asks on the terminal, --json prints nothing but JSON');
  if (flags.step && !canPrompt())
    throw new InputError('--step needs a terminal to ask on', [], {
      hint: 'run it from an interactive shell, or use --check --diff to review and --yes to apply',
    });
  // A question would land in the middle of the JSON on stdout.
  if (!flags.check && !flags.yes && flags.json)
    throw new InputError('--json does not ask, and --yes not given: nothing was changed', [], {
      hint: 'review with --check --json, then run with --yes --json',
    });
  if (!flags.check && !flags.yes && !canPrompt()) {
    throw new InputError('no terminal to confirm on, and --yes not given: nothing was changed', [], {
      hint: 'review with --check --diff, then run with --yes',
    });
  }
  const stats = new RunStats();
  const fleet = await loadFleet(flags, out);
  for (const w of fleet.inventory.warnings) out.note(out.style('yellow', `warning: ${w}`));
  const playbook = await loadPlaybook(flags.playbook);
  const progress = (line: string): void => {
    if (!flags.json) out.note(out.style('dim', line));
  };
  const lock = flags.check ? undefined : lockFleet(fleetStateDir(fleet.inventory.file), 'secure', { force: flags.forceUnlock === true });
  if (lock?.tookOverStale)
    out.note(
      out.style(
        'yellow',
        'a previous run on this fleet did not finish (its lock was left behind); if it was interrupted mid-wave, run `rollout rollback` first',
      ),
    );
  const ca = await caText(fleet.hosts).catch(() => undefined);
  const gathered = await connectAndGather(fleet.hosts, fleet.open, { forks: flags.forks, playbook, ca, progress, stats });
  // The member list is what the peer migration plans on (backend.yml's etcd-initial-* keys are stale once a member has data).
  if (flags.etcdTls) await addEtcdFacts(fleet.hosts, gathered.transports, gathered.facts);
  let waitMs: number | undefined;
  let keepaliveCalls: ExecuteResult['keepaliveCalls'] | undefined;
  // Reported however the command ends (a dry run's exit 5, a refusal, a rollback).
  const report = (): void => {
    if (!flags.stats) return;
    const r = stats.report(gathered.transports.values(), waitMs, keepaliveCalls);
    if (flags.json) out.json('secure', { stats: r });
    else for (const l of statsLines(r)) out.note(out.style('dim', l));
  };
  try {
    const { plan, runHosts, trust } = await preflightAndPlan({
      fleet,
      playbook,
      gathered,
      ca,
      ...(flags.maxUnreachable ? { maxUnreachable: flags.maxUnreachable } : {}),
      minValidityDays: flags.minValidity,
      features: featuresOf(flags),
      forks: flags.forks,
      ...(flags.gateTimeout ? { gateTimeoutMs: flags.gateTimeout * 1000 } : {}),
      ...(flags.serial ? { agentSerial: flags.serial } : {}),
    });
    const order = new Map(fleet.hosts.map((h, i) => [h.name, i]));
    stats.end('plan');
    const secrets = secretsOf(fleet.hosts);
    if (flags.json) {
      // Config texts go through the same redaction as diffs; keys never enter the plan at all.
      out.json('secure', { hosts: fleet.hosts.length, plan: redactPlan(plan, secrets) });
    } else {
      out.line(renderPlan(plan, { diff: flags.diff ?? false, color: out.color, secrets, addresses: new Map(fleet.hosts.map((h) => [h.name, h.address])) }));
      out.line();
    }
    if (plan.problems.length > 0) {
      // Under --json the plan's problems are the document's; stderr keeps the lines a person reads.
      printProblems(out, plan.problems);
      throw new PreflightError(`preflight found ${plan.problems.length} problem(s): nothing was changed on any host`);
    }
    if (!flags.json) out.line(out.style('bold', planSummary(plan, runHosts.length)));
    stats.end('show');
    if (flags.check) return plan.changes > 0 ? ExitCode.PendingChanges : plan.leftBehind.length > 0 ? ExitCode.LeftBehind : ExitCode.Ok;
    if (plan.changes === 0) {
      if (plan.leftBehind.length === 0) return ExitCode.Ok;
      // Nothing to change on the hosts that answered; the ones that did not still need a run.
      const retryFile = writeRetryFile(fleetStateDir(fleet.inventory.file), newRunId(), plan.leftBehind);
      if (flags.json) out.json('secure', { leftBehind: plan.leftBehind, retryFile });
      else leftBehindNote(out, plan.leftBehind, retryFile, flags);
      return ExitCode.LeftBehind;
    }
    if (!flags.yes && !flags.step) {
      const go = await askYesNo(`Apply ${plan.changes} change(s) to ${plan.changedHosts.length} host(s)?`, false);
      if (!go) {
        out.note('nothing changed');
        return ExitCode.Ok;
      }
    }
    const runId = newRunId();
    const journal = new Journal(fleetStateDir(fleet.inventory.file), runId);
    journal.append({ type: 'start', runId, at: new Date().toISOString(), inventory: fleet.inventory.file });
    const controller = new AbortController();
    const onSigint = (): void => {
      if (controller.signal.aborted) return;
      controller.abort();
      out.note(out.style('yellow', '\ninterrupted: finishing the steps in flight, then rolling back this run (Ctrl-C again does not skip that)'));
    };
    process.on('SIGINT', onSigint);
    let result: ExecuteResult;
    try {
      // The executor (listr2) and step mode's prompts load only for a real run: a dry run skips them.
      const { execute } = await import('../../execute/run.js');
      const step = flags.step
        ? (await import('../../ui/step-prompt.js')).stepHooks({ color: out.color, secrets, columns: () => process.stdout.columns || 80 })
        : undefined;
      result = await execute({
        plan,
        hosts: new Map(runHosts.map((h) => [h.name, h])),
        transports: gathered.transports,
        journal,
        runId,
        ...(flags.keepBackups ? { keepBackups: flags.keepBackups } : {}),
        ca,
        trust,
        // Keepalive reads carry the API credentials: verified against the inventory's CA alone, never
        // a CA a host's files added (by the time agents are gated, every backend serves the new CA's).
        // Every backend of the inventory, selected or not: a retry of agents alone still reads their keepalives.
        keepalive: keepaliveCheck(fleet.inventory.hosts, ca, gathered.facts),
        forks: flags.forks,
        renderer: await rendererFor(flags),
        signal: controller.signal,
        probes: probesOf(runHosts, plan, gathered.facts),
        // With etcd TLS in the run, members mid-switch need their peers' certificates: one member at a time.
        serialBackends: flags.etcdTls === true,
        restartsBefore: new Map([...gathered.facts.entries()].map(([name, f]) => [name, f.service.nRestarts])),
        ...(step ? { step } : {}),
        maxAgentFailures: allowedOf({ percent: flags.maxFailPercentage ?? 0 }, runHosts.filter((h) => h.role === 'agent').length),
      });
    } finally {
      process.off('SIGINT', onSigint);
      journal.close();
    }
    stats.end('run');
    waitMs = result.waitMs;
    keepaliveCalls = result.keepaliveCalls;
    // Left behind: never touched at preflight, or put back alone in the run; only a run that stood leaves anyone.
    const leftBehind = result.outcome === 'ok' ? [...plan.leftBehind, ...result.leftBehind] : [];
    const retryFile = leftBehind.length > 0 ? writeRetryFile(fleetStateDir(fleet.inventory.file), runId, leftBehind) : undefined;
    // The recap lists every host of the selection: those left out at preflight too, in inventory order.
    const leftOutRows = plan.leftBehind.map((l): HostOutcome => ({ host: l.host, role: 'agent', changed: 0, status: 'left behind', ms: 0, detail: l.reason }));
    const hostRows = [...result.hosts, ...leftOutRows].sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
    result = { ...result, hosts: hostRows, leftBehind, ...(retryFile ? { retryFile } : {}) };
    for (const gate of result.gates) out.trace.record({ type: 'gate', host: gate.host, task: gate.task, ok: gate.result.ok, detail: gate.result.detail });
    for (const r of result.rollback ?? []) out.trace.record({ type: 'rollback', host: r.host, ok: r.ok, state: r.state });
    for (const h of result.hosts)
      out.trace.record({ type: 'host-result', host: h.host, status: h.status, changed: h.changed, ms: h.ms, ...(h.detail ? { detail: h.detail } : {}) });
    out.trace.record({ type: 'outcome', outcome: result.outcome, ...(result.failure ? { failure: result.failure } : {}) });
    if (flags.json) out.json('secure', { result });
    else recap(out, result);
    switch (result.outcome) {
      case 'ok':
        if (result.skipped.length > 0)
          out.note(out.style('yellow', `${result.skipped.length} step(s) skipped, as answered: \`rollout secure --check\` lists what is still pending`));
        if (retryFile) {
          if (!flags.json) leftBehindNote(out, leftBehind, retryFile, flags);
          return ExitCode.LeftBehind;
        }
        return ExitCode.Ok;
      case 'aborted': {
        const undone = result.hosts.some((h) => h.status === 'rolled back');
        throw new RolledBackError(
          `aborted at "${result.failure?.task ?? ''}": ${undone ? 'the run was rolled back and the fleet verified healthy on its old settings' : 'nothing had changed yet; the fleet verified healthy'}`,
        );
      }
      case 'interrupted':
        throw new InterruptedError('interrupted: the run was rolled back and the fleet verified healthy on its old settings');
      case 'rolled-back':
        throw new RolledBackError(
          `${result.failure?.host ?? ''}: ${result.failure?.task ?? ''}: ${result.failure?.message ?? ''} — the fleet was rolled back and verified healthy on its old settings`,
        );
      case 'rollback-failed': {
        const bad = (result.rollback ?? []).filter((r) => !r.ok);
        throw new RollbackFailedError(`rollback incomplete; these hosts need attention:\n${bad.map((r) => `  ${r.host}: ${r.state}`).join('\n')}`, {
          hint: `the journal of run ${runId} is in ${fleetStateDir(fleet.inventory.file)}; fix the hosts named, then run \`rollout rollback\``,
        });
      }
    }
    return ExitCode.Internal;
  } finally {
    report();
    await gathered.closeAll();
    lock?.release();
  }
}

/** The plan with every config text redacted (secret keys' values, and the inventory's secrets). */
function redactPlan(plan: Plan, secrets: readonly string[]): Plan {
  const clean = (text: string | undefined): string | undefined => (text === undefined ? undefined : sweepSecrets(redact(text, { secrets }), secrets));
  return {
    ...plan,
    phases: plan.phases.map((phase) => ({
      ...phase,
      batches: phase.batches.map((batch) => ({
        ...batch,
        steps: batch.steps.map((step) => {
          if (step.kind !== 'file') return step;
          const before = { ...step.before, ...(step.before.text !== undefined ? { text: clean(step.before.text) } : {}) };
          const after = { ...step.after, ...(step.after.text !== undefined ? { text: clean(step.after.text) } : {}) };
          const changes = step.changes?.map((c) => (isSecretKey(c.key) ? { ...c, before: '[redacted]', after: '[redacted]' } : c));
          return { ...step, before, after, ...(changes ? { changes } : {}) };
        }),
      })),
    })),
  };
}

/** What a run that left agents behind tells the operator: who, why, and the command that finishes them. */
function leftBehindNote(out: Output, left: readonly LeftBehind[], retryFile: string, flags: SecureFlags): void {
  out.note(out.style('yellow', `${left.length} agent(s) left behind:`));
  for (const l of left) out.note(out.style('yellow', `  ${l.host}: ${l.reason}`));
  out.note(
    out.style(
      'yellow',
      'Once the backends serve TLS, these stay cut off (Sensu has no mixed ws/wss mode) until a later run switches them. When they are back:',
    ),
  );
  out.note(`  rollout secure -i ${flags.inventory} --limit @${retryFile}`);
}
