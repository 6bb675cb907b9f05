/**
 * `rollout secure`: load → connect → gather facts → preflight → plan → show → confirm → execute →
 * recap → disconnect (in a finally). `--check` stops after show. The same plan drives both. The
 * stages themselves are src/stages/secure.ts; this file does the talking: the plan shown, the
 * question, the display of the run, the recap, the exit code.
 */
import type { ListrRendererValue } from 'listr2';
import { ExitCode, InputError, PreflightError, RollbackFailedError, RolledBackError, InterruptedError } from '../../errors.js';
import { lockFleet, type FleetLock } from '../../execute/lock.js';
import { fleetStateDir, newRunId } from '../../execute/journal.js';
import type { ExecuteResult } from '../../execute/run.js';
import { addEtcdFacts } from '../../facts/etcd-members.js';
import type { BatchSize, LeftBehind, Plan, PlanProblem } from '../../plan/types.js';
import { loadPlaybook } from '../../playbook/load.js';
import type { Feature } from '../../playbook/schema.js';
import { renderPlan, planSummary } from '../../ui/plan-view.js';
import { isSecretKey, redact, sweepSecrets } from '../../ui/redact.js';
import { askYesNo, canPrompt } from '../../ui/prompts.js';
import { loadFleet, type Fleet, type FleetFlags } from '../context.js';
import { table, type Output } from '../output.js';
import { RunStats, statsLines } from '../run-stats.js';
import { caText, connectAndGather, executeStage, preflightAndPlan, writeRetryFile, type ExecuteStageInput, type Planned } from '../../stages/secure.js';
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

/** Flags that contradict each other or need a terminal this run does not have: refused before anything connects. */
function checkFlags(flags: SecureFlags): void {
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
}

/** The fleet lock of a real run (a dry run takes none), saying so when it took over one left behind. */
function takeLock(flags: SecureFlags, fleet: Fleet, out: Output): FleetLock | undefined {
  if (flags.check) return undefined;
  const lock = lockFleet(fleetStateDir(fleet.inventory.file), 'secure', { force: flags.forceUnlock === true });
  if (lock.tookOverStale)
    out.note(
      out.style(
        'yellow',
        'a previous run on this fleet did not finish (its lock was left behind); if it was interrupted mid-wave, run `rollout rollback` first',
      ),
    );
  return lock;
}

/** Stage show: the plan (with diffs under --diff), or its problems, which stop the run here. */
function showPlan(out: Output, flags: SecureFlags, fleet: Fleet, planned: Planned): void {
  const { plan } = planned;
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
  if (!flags.json) out.line(out.style('bold', planSummary(plan, planned.runHosts.length)));
}

/**
 * Stage confirm: the exit code when the run stops before changing anything (a dry run, nothing to
 * do, the operator said no); undefined when it goes on.
 */
async function confirm(out: Output, flags: SecureFlags, fleet: Fleet, plan: Plan): Promise<number | undefined> {
  if (flags.check) return plan.changes > 0 ? ExitCode.PendingChanges : plan.leftBehind.length > 0 ? ExitCode.LeftBehind : ExitCode.Ok;
  if (plan.changes === 0) {
    if (plan.leftBehind.length === 0) return ExitCode.Ok;
    // Nothing to change on the hosts that answered; the ones that did not still need a run.
    const retryFile = writeRetryFile(fleetStateDir(fleet.inventory.file), newRunId(), plan.leftBehind);
    if (flags.json) out.json('secure', { leftBehind: plan.leftBehind, retryFile });
    else leftBehindNote(out, plan.leftBehind, retryFile, flags);
    return ExitCode.LeftBehind;
  }
  if (flags.yes || flags.step) return undefined;
  if (await askYesNo(`Apply ${plan.changes} change(s) to ${plan.changedHosts.length} host(s)?`, false)) return undefined;
  out.note('nothing changed');
  return ExitCode.Ok;
}

/** Stage execute with its display: listr2 (or nothing under --json), step mode's questions, Ctrl-C. */
async function executeShown(
  out: Output,
  flags: SecureFlags,
  input: Omit<ExecuteStageInput, 'signal' | 'listener' | 'step'>,
): Promise<{ result: ExecuteResult; runId: string }> {
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) return;
    controller.abort();
    out.note(out.style('yellow', '\ninterrupted: finishing the steps in flight, then rolling back this run (Ctrl-C again does not skip that)'));
  };
  // The display (listr2) and step mode's prompts load only for a real run: a dry run skips them.
  const view = flags.json ? undefined : new (await import('../../ui/run-view.js')).RunView(await rendererFor(flags), controller.signal);
  const step =
    flags.step && view
      ? (await import('../../ui/step-prompt.js')).stepHooks(
          { color: out.color, secrets: secretsOf(input.fleet.hosts), columns: () => process.stdout.columns || 80 },
          view.io(),
        )
      : undefined;
  process.on('SIGINT', onSigint);
  try {
    return await executeStage({ ...input, signal: controller.signal, ...(view ? { listener: view.listener } : {}), ...(step ? { step } : {}) });
  } finally {
    process.off('SIGINT', onSigint);
    // Everything shown before the recap is printed.
    await view?.closed();
  }
}

/** Stage recap: the trace's records, the table or --json, then the exit code (or the error that carries it). */
function finish(out: Output, flags: SecureFlags, fleet: Fleet, run: { result: ExecuteResult; runId: string }): number {
  const { result, runId } = run;
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
      if (result.retryFile) {
        if (!flags.json) leftBehindNote(out, result.leftBehind, result.retryFile, flags);
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
}

/**
 * Runs `rollout secure`; returns the exit code or throws a RolloutError. The stages in order:
 * load → connect → facts → preflight → plan → show → confirm → execute → recap → disconnect.
 */
export async function runSecure(flags: SecureFlags, out: Output): Promise<number> {
  checkFlags(flags);
  const stats = new RunStats();
  const fleet = await loadFleet(flags, out);
  for (const w of fleet.inventory.warnings) out.note(out.style('yellow', `warning: ${w}`));
  const playbook = await loadPlaybook(flags.playbook);
  const lock = takeLock(flags, fleet, out);
  const ca = await caText(fleet.hosts).catch(() => undefined);
  const progress = (line: string): void => (flags.json ? undefined : out.note(out.style('dim', line)));
  const gathered = await connectAndGather(fleet.hosts, fleet.open, { forks: flags.forks, playbook, ca, progress, stats });
  // The member list is what the peer migration plans on (backend.yml's etcd-initial-* keys are stale once a member has data).
  if (flags.etcdTls) await addEtcdFacts(fleet.hosts, gathered.transports, gathered.facts);
  let result: ExecuteResult | undefined;
  try {
    const features = featuresOf(flags);
    const planned = await preflightAndPlan({
      fleet,
      playbook,
      gathered,
      ca,
      ...(flags.maxUnreachable ? { maxUnreachable: flags.maxUnreachable } : {}),
      minValidityDays: flags.minValidity,
      features,
      forks: flags.forks,
      ...(flags.gateTimeout ? { gateTimeoutMs: flags.gateTimeout * 1000 } : {}),
      ...(flags.serial ? { agentSerial: flags.serial } : {}),
    });
    stats.end('plan');
    showPlan(out, flags, fleet, planned);
    stats.end('show');
    const stop = await confirm(out, flags, fleet, planned.plan);
    if (stop !== undefined) return stop;
    const run = await executeShown(out, flags, {
      fleet,
      planned,
      gathered,
      ca,
      features,
      forks: flags.forks,
      ...(flags.keepBackups ? { keepBackups: flags.keepBackups } : {}),
      ...(flags.maxFailPercentage ? { maxFailPercentage: flags.maxFailPercentage } : {}),
    });
    stats.end('run');
    result = run.result;
    return finish(out, flags, fleet, run);
  } finally {
    // Reported however the command ends (a dry run's exit 5, a refusal, a rollback).
    if (flags.stats) {
      const r = stats.report(gathered.transports.values(), result?.waitMs, result?.keepaliveCalls);
      if (flags.json) out.json('secure', { stats: r });
      else for (const l of statsLines(r)) out.note(out.style('dim', l));
    }
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
