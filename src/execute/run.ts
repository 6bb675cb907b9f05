/**
 * Executes a Plan through listr2: phase by phase, batch by batch, each host's steps in order,
 * with health gates deciding whether the wave stands. Any failure stops new work, lets the work
 * in flight finish, and rolls the run back. Tasks never write to the terminal: listr2's renderer
 * does, chosen by the caller (default on a terminal, one line per event otherwise, silent for JSON).
 *
 * Step mode (`options.step`, `rollout secure --step`) goes task by task instead: each task of a
 * batch runs on all of the batch's hosts before the next task, and before it the operator is asked
 * whether to run it, skip it (src/execute/step-policy.ts says when that is refused), run everything
 * left without asking, or abort (roll back). Gates are not asked about: they run after the task
 * they verify and show what they saw.
 */
import { ListrInquirerPromptAdapter } from '@listr2/prompt-adapter-inquirer';
import { Listr, type ListrRendererValue } from 'listr2';
import pLimit from 'p-limit';
import type { HostSpec } from '../inventory/types.js';
import type { Batch, FileStep, GateStep, LeftBehind, PhasePlan, Plan, Step } from '../plan/types.js';
import type { Transport } from '../transport/transport.js';
import { applyWrites, restartUnit, type ApplyContext, type WriteStep } from './apply.js';
import { applyEtcdMember } from './etcd-member.js';
import { agentGate, backendGate, type GateResult, type KeepaliveCheck } from './gates.js';
import type { Journal } from './journal.js';
import { KeepaliveWatch } from './keepalive-watch.js';
import { rollback, type ProbeTarget, type RollbackHostResult } from './rollback.js';
import { skipRule, type SkipRule } from './step-policy.js';
import { WaitClock } from './wait-clock.js';
import { unitOf } from '../sensu/host-config.js';

/** Per-host outcome for the recap. */
export interface HostOutcome {
  host: string;
  role: string;
  /** Steps that changed something on the host. */
  changed: number;
  status: 'ok' | 'changed' | 'failed' | 'rolled back' | 'needs attention' | 'not reached' | 'left behind';
  ms: number;
  /** Steps of the host skipped in step mode. */
  skipped?: number;
  detail?: string;
}

/** How the run ended. */
export interface ExecuteResult {
  /** `aborted`: the operator chose abort in step mode and the run was rolled back. */
  outcome: 'ok' | 'rolled-back' | 'rollback-failed' | 'interrupted' | 'aborted';
  failure?: { host: string; task: string; message: string };
  hosts: HostOutcome[];
  rollback?: RollbackHostResult[];
  gates: { host: string; task: string; result: GateResult }[];
  /** Steps skipped in step mode (asked, or dropped with a skipped task or wave); gates not listed. */
  skipped: { host: string; task: string; id: string }[];
  /** Wall time with a restart or health gate in flight (src/execute/wait-clock.ts), rollback excluded. */
  waitMs: number;
  /** Agents that failed within `--max-fail-percentage` and were put back alone (outcome `ok` only). */
  leftBehind: LeftBehind[];
  /** Per batch whose gates read keepalives: Sensu API requests made for them, and the batch's wall time. */
  keepaliveCalls: BatchApiCalls[];
  /** Set by the CLI: the retry file naming every agent left behind. */
  retryFile?: string;
}

/** What one batch's keepalive checks cost the backends' API. */
export interface BatchApiCalls {
  phase: string;
  /** 1-based. */
  batch: number;
  hosts: number;
  calls: number;
  /** Bytes of the API's answers (entity listings). */
  bytes: number;
  ms: number;
}

/** What step mode asks about: one task of the playbook on one batch of hosts. */
export interface StepQuestion {
  phase: PhasePlan;
  /** Task name from the playbook. */
  task: string;
  /** 1-based batch number, and the phase's number of batches. */
  batch: number;
  batches: number;
  /** The hosts the task changes in this batch. */
  hosts: { name: string; role: string; address: string }[];
  /** The steps the answer is about, each changing something (what "diff" shows). */
  steps: Step[];
  /** Whether "no" may skip it here, and what goes with it. */
  skip: SkipRule;
}

/**
 * An answer: run the task, skip it, run it and everything after without asking, abort (roll back
 * what the run changed), or interrupt (Ctrl-C at the question: rolled back, exit 130).
 */
export type StepAnswer = 'run' | 'skip' | 'continue' | 'abort' | 'interrupt';

/** How a step-mode question reaches the terminal: through listr2, so its display stays whole. */
export interface StepIO {
  /** A prompt adapter bound to the running listr2 task; one per question. */
  adapter(): ListrInquirerPromptAdapter;
  /** Shows text under the running phase (a diff, why a skip is refused). */
  show(text: string): void;
  /** Aborted by SIGINT from outside: an open question gives up (as an interrupt). */
  signal: AbortSignal;
}

/** Step mode's question: asked before each task and host batch. */
export type StepAsk = (question: StepQuestion, io: StepIO) => Promise<StepAnswer>;

/** What a gate saw, for step mode to show before the next question. */
export interface GateSeen {
  host: string;
  task: string;
  /** Where it looked, e.g. `https://127.0.0.1:8080/health`. */
  probe: string;
  result: GateResult;
}

/** Step mode (`rollout secure --step`): the question, and how gate results are shown. */
export interface StepHooks {
  ask: StepAsk;
  /** Text for the gates of a task once they decided, passed or not. */
  gates(seen: readonly GateSeen[]): string;
}

/** Everything execute needs. */
export interface ExecuteOptions {
  plan: Plan;
  hosts: ReadonlyMap<string, HostSpec>;
  transports: ReadonlyMap<string, Transport>;
  journal: Journal;
  runId: string;
  /** Backups of how many runs each host keeps (`--keep-backups`). */
  keepBackups?: number;
  ca: string | undefined;
  /**
   * What rollback verifies against: the inventory CA plus whatever the hosts trusted before the run
   * (a CA rotation rolls back onto certificates of the old CA). Gates use `ca` alone: a backend must
   * serve a certificate of the new CA. Default `ca`.
   */
  trust?: string | undefined;
  keepalive: KeepaliveCheck | undefined;
  forks: number;
  renderer: ListrRendererValue;
  signal: AbortSignal;
  /** Automatic restarts of each host's unit before the run, to tell a crash loop from a restart. */
  restartsBefore: ReadonlyMap<string, number>;
  /** Where each host's Sensu can be probed on its old settings (rollback verification). */
  probes: readonly ProbeTarget[];
  /** Step mode: asks before each task and host batch (gates excepted) and shows what gates saw. */
  step?: StepHooks;
  /** Roll backends back one at a time, each back in the etcd cluster before the next (runs that touch etcd TLS). */
  serialBackends?: boolean;
  /**
   * `--max-fail-percentage`, as a count: how many agents may fail (outside a canary batch) and be
   * put back alone while the run goes on. Default 0: any failure rolls back the whole run.
   */
  maxAgentFailures?: number;
}

class StepFailure extends Error {
  constructor(
    readonly host: string,
    readonly task: string,
    message: string,
  ) {
    super(message);
  }
}

/** The steps of a batch grouped by playbook task (`<phase>/<task index>` of their ids), in order. */
function byTask(steps: readonly Step[]): Step[][] {
  const groups = new Map<string, Step[]>();
  for (const step of steps) {
    const key = step.id.split('/').slice(0, 2).join('/');
    groups.set(key, [...(groups.get(key) ?? []), step]);
  }
  return [...groups.values()].sort((a, b) => taskIndex(a) - taskIndex(b));
}

function taskIndex(steps: readonly Step[]): number {
  return Number(steps[0]?.id.split('/')[1] ?? 0);
}

/** What listr2's task wrapper offers a step-mode question. */
type StepTaskPrompt = (adapter: typeof ListrInquirerPromptAdapter) => ListrInquirerPromptAdapter;

/** Where a gate looks: the backend's /health URL, the agent's /healthz through SSH. */
function gateUrlOf(step: GateStep | undefined): string {
  if (!step) return '';
  const path = step.gate === 'backend_health' ? '/health' : '/healthz';
  return `${step.probe.scheme}://${step.probe.address}:${step.probe.port}${path}`;
}

function isWrite(step: Step): step is WriteStep {
  return step.kind === 'file' || step.kind === 'dir';
}

/** The unit that reads a file rollout writes: its config, and the certificates it serves or trusts. */
function unitReading(step: FileStep, hosts: ReadonlyMap<string, HostSpec>): string | undefined {
  if (step.module !== 'sensu_config' && step.module !== 'copy') return undefined;
  // An agent reads its CA and client certificate on every dial: putting them back needs no restart.
  if (step.module === 'copy' && hosts.get(step.host)?.role !== 'backend') return undefined;
  const role = hosts.get(step.host)?.role;
  return role ? unitOf(role) : undefined;
}

/** Runs the plan; never throws for a host failure (the result says what happened). */
export async function execute(options: ExecuteOptions): Promise<ExecuteResult> {
  const { plan, transports, journal } = options;
  const started = new Map<string, number>();
  const elapsed = new Map<string, number>();
  const changedCount = new Map<string, number>();
  const restartedAt = new Map<string, number>();
  const gates: ExecuteResult['gates'] = [];
  let failure: ExecuteResult['failure'];
  // Step mode's bookkeeping: what changed, what was skipped, and whether the operator stopped the run.
  const applied = new Set<string>();
  const skipped = new Map<string, Step>();
  const skippedWaves = new Set<string>();
  const waveOf = new Map(plan.phases.map((p) => [p.name, p.wave]));
  let asking = options.step !== undefined;
  let stopped: 'aborted' | 'interrupted' | undefined;

  const waits = new WaitClock();
  const changes = journal.changes;
  // One keepalive poller for the run: a batch's gates share each entity listing.
  const watch = options.keepalive ? new KeepaliveWatch(options.keepalive) : undefined;
  const keepaliveCalls: BatchApiCalls[] = [];
  // Agents put back alone after failing within --max-fail-percentage: the run goes on without them.
  const putBack = new Map<string, LeftBehind>();
  const entityOf = new Map(
    plan.phases
      .flatMap((p) => p.batches.flatMap((b) => b.steps))
      .flatMap((s) => (s.kind === 'gate' && s.entity ? [[s.host, `${s.entity.namespace}/${s.entity.name}`] as const] : [])),
  );
  let agentFailures = 0;
  function made(step: Step): void {
    applied.add(step.id);
    changedCount.set(step.host, (changedCount.get(step.host) ?? 0) + 1);
  }

  /** A host's consecutive file and directory steps, as one command on the host. */
  async function runWrites(host: string, steps: readonly WriteStep[], t: Transport): Promise<void> {
    if (steps.length === 0) return;
    const ctx: ApplyContext = {
      transport: t,
      journal,
      runId: options.runId,
      unitReading: (s) => unitReading(s, options.hosts),
      ...(options.keepBackups ? { keepBackups: options.keepBackups } : {}),
    };
    const outcome = await applyWrites(steps, ctx);
    for (const step of steps.slice(0, outcome.done)) made(step);
    if (outcome.failed) {
      const message = outcome.failed.error.message;
      throw new StepFailure(host, steps[outcome.failed.index]?.task ?? '-', message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message);
    }
  }

  async function runStep(step: Exclude<Step, WriteStep>, t: Transport): Promise<void> {
    if (step.status === 'noop') return;
    switch (step.kind) {
      case 'restart': {
        // From before the restart: a keepalive sent as the agent reconnects counts.
        const t0 = Date.now();
        await waits.around(() => restartUnit(t, step.unit));
        restartedAt.set(step.host, t0);
        break;
      }
      case 'etcd_member': {
        const host = options.hosts.get(step.host);
        if (!host) throw new StepFailure(step.host, step.task, 'not in the inventory');
        await applyEtcdMember(step, { transport: t, journal, host });
        break;
      }
      case 'gate': {
        const result = await waits.around(() => runGate(step, t));
        gates.push({ host: step.host, task: step.task, result });
        if (!result.ok) throw new StepFailure(step.host, step.task, `health gate failed: ${result.detail}`);
        return;
      }
    }
    made(step);
  }

  function runGate(step: GateStep, t: Transport): Promise<GateResult> {
    if (step.gate === 'backend_health') {
      // Agents put back alone are not waited for: they are on their old settings, named in the recap.
      const gone = new Set([...putBack.keys()].map((h) => entityOf.get(h)));
      const agents = step.agents?.filter((a) => !gone.has(`${a.namespace}/${a.name}`));
      const live = agents ? { ...step, agents } : step;
      return backendGate(live, t, {
        ca: options.ca,
        restartsBefore: options.restartsBefore.get(step.host) ?? 0,
        since: restartedAt.get(step.host) ?? Date.now(),
        keepalive: watch,
        signal: options.signal,
      });
    }
    return agentGate(step, t, restartedAt.get(step.host) ?? Date.now(), watch, options.signal);
  }

  async function runHost(host: string, steps: readonly Step[]): Promise<void> {
    const t = transports.get(host);
    if (!t) throw new StepFailure(host, 'connect', 'no connection');
    const t0 = Date.now();
    if (!started.has(host)) started.set(host, t0);
    try {
      for (let i = 0; i < steps.length; ) {
        const step = steps[i] as Step;
        if (options.signal.aborted) throw new StepFailure(host, step.task, 'interrupted');
        try {
          if (isWrite(step)) {
            // Uploads and config edits in a row reach the host as one command (one sudo).
            let end = i;
            while (end < steps.length && isWrite(steps[end] as Step)) end += 1;
            await runWrites(
              host,
              steps.slice(i, end).filter((s): s is WriteStep => isWrite(s) && s.status !== 'noop'),
              t,
            );
            i = end;
          } else {
            await runStep(step, t);
            i += 1;
          }
        } catch (err) {
          if (err instanceof StepFailure) throw err;
          // The recap and the error line name the host already.
          const message = (err as Error).message;
          throw new StepFailure(host, step.task, message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message);
        }
      }
    } finally {
      elapsed.set(host, (elapsed.get(host) ?? 0) + Date.now() - t0);
    }
  }

  /**
   * Whether a step still has something to do. Only step mode drops steps: those skipped, those of
   * a skipped wave, and a restart or gate whose every cause was skipped (nothing to restart or prove).
   */
  function stillToDo(step: Step): boolean {
    if (step.status === 'noop' || skipped.has(step.id)) return false;
    const wave = waveOf.get(step.phase);
    if (wave !== undefined && skippedWaves.has(wave)) return false;
    if ((step.kind === 'restart' || step.kind === 'gate') && step.after.length > 0 && step.after.every((id) => skipped.has(id))) return false;
    return true;
  }

  /**
   * An agent that failed, put back alone on its old files (byte for byte, restarted, verified
   * running) so the run can go on: only outside a canary batch, while no failure of the run's has
   * been fatal yet, and within --max-fail-percentage. False: the failure stands for the whole run.
   */
  async function putBackAlone(host: string, failure: StepFailure, batch: Batch | undefined, fatalSoFar: boolean): Promise<boolean> {
    if (options.hosts.get(host)?.role !== 'agent' || batch?.canary === true || fatalSoFar || options.signal.aborted || stopped) return false;
    if (agentFailures + 1 > (options.maxAgentFailures ?? 0)) return false;
    agentFailures += 1;
    const target = options.probes.find((p) => p.host.name === host);
    const mine = changes.filter((c) => c.host === host);
    const results =
      mine.length === 0 || !target
        ? []
        : await rollback({ changes: mine, transports, targets: [{ ...target, connected: false }], ca: options.trust ?? options.ca, forks: 1 });
    const r = results.find((x) => x.host === host);
    // Not back as it was: the whole run's rollback tries again, and says what it finds.
    if (r && !r.ok) return false;
    putBack.set(host, { host, reason: `${failure.task}: ${failure.message}${r ? `; put back on its old files, ${r.state}` : ''}`, stage: 'run' });
    return true;
  }

  /** Runs `steps` on their hosts, up to --forks at once; after a failure nothing new starts. */
  async function runOnHosts(hosts: readonly string[], steps: readonly Step[], onHostDone: () => void, batch?: Batch): Promise<void> {
    const limit = pLimit(Math.max(1, options.forks));
    let batchError: StepFailure | undefined;
    await Promise.all(
      hosts
        .filter((host) => !putBack.has(host))
        .map((host) =>
          limit(async () => {
            // After a failure nothing new starts; work already in flight finishes.
            if (batchError || options.signal.aborted) return;
            try {
              await runHost(
                host,
                steps.filter((s) => s.host === host),
              );
              onHostDone();
            } catch (err) {
              const failure = err instanceof StepFailure ? err : new StepFailure(host, '-', (err as Error).message);
              if (await putBackAlone(host, failure, batch, batchError !== undefined)) return;
              batchError ??= failure;
            }
          }),
        ),
    );
    if (batchError) throw batchError;
  }

  /** One task on one batch in step mode: ask (unless told to continue), then run it and show its gates. */
  async function stepTask(phase: PhasePlan, batchIndex: number, steps: readonly Step[], task: { output: string; prompt: StepTaskPrompt }): Promise<void> {
    const live = steps.filter(stillToDo);
    for (const s of steps) if (s.status === 'change' && !live.includes(s)) skipped.set(s.id, s);
    const [first] = live;
    if (!first || !options.step) return;
    const hosts = [...new Set(live.map((s) => s.host))];
    if (asking && first.kind !== 'gate') {
      const question: StepQuestion = {
        phase,
        task: first.task,
        batch: batchIndex + 1,
        batches: phase.batches.length,
        hosts: hosts.map((name) => ({ name, role: options.hosts.get(name)?.role ?? 'host', address: options.hosts.get(name)?.address ?? '' })),
        steps: live,
        skip: skipRule(plan, phase, live, { applied, skipped: new Set(skipped.keys()), skippedWaves, roleOf: (h) => options.hosts.get(h)?.role }),
      };
      const answer = await options.step.ask(question, {
        adapter: () => task.prompt(ListrInquirerPromptAdapter),
        // listr2 drops lines of only spaces; an empty one stays (a diff's blank context line).
        show: (text) =>
          (task.output = text
            .split('\n')
            .map((l) => (l.trim() === '' ? '' : l))
            .join('\n')),
        signal: options.signal,
      });
      switch (answer) {
        case 'skip':
          if (!question.skip.allowed) throw new Error(`step mode: "${first.task}" may not be skipped (${question.skip.why})`);
          for (const s of live) skipped.set(s.id, s);
          if (question.skip.wave !== undefined) skippedWaves.add(question.skip.wave);
          return;
        case 'abort':
          stopped = 'aborted';
          throw new StepFailure('-', first.task, 'aborted by the operator');
        case 'interrupt':
          stopped = 'interrupted';
          throw new StepFailure('-', first.task, 'interrupted at a question (Ctrl-C)');
        case 'continue':
          asking = false;
          break;
        case 'run':
          break;
      }
    }
    const gatesBefore = gates.length;
    try {
      await runOnHosts(hosts, live, () => undefined, phase.batches[batchIndex]);
    } finally {
      // What each gate saw, passed or not, before the next question.
      const seen = gates
        .slice(gatesBefore)
        .map((g): GateSeen => ({ ...g, probe: gateUrlOf(live.find((s): s is GateStep => s.kind === 'gate' && s.host === g.host)) }));
      if (seen.length > 0) task.output = options.step.gates(seen);
    }
  }

  const tasks = new Listr(
    plan.phases
      .filter((phase) => phase.batches.some((b) => b.steps.length > 0))
      .map((phase) => {
        const changing = phase.batches.reduce((n, b) => n + b.steps.filter((s) => s.status === 'change' && s.kind !== 'gate').length, 0);
        const hostCount = new Set(phase.batches.flatMap((b) => b.hosts)).size;
        return {
          title: `${phase.name}: ${phase.description}`,
          skip: () => (changing === 0 ? `${phase.name}: nothing to change on ${hostCount} host(s)` : false),
          task: async (_ctx: unknown, task: { title: string; output: string; prompt: StepTaskPrompt; skip: (message: string) => void }) => {
            if (phase.wave !== undefined && skippedWaves.has(phase.wave)) {
              for (const s of phase.batches.flatMap((b) => b.steps)) if (s.status === 'change') skipped.set(s.id, s);
              task.skip(`with the whole ${phase.wave} wave, as answered`);
              return;
            }
            let done = 0;
            const changedBefore = applied.size;
            // Progress in steps of about a tenth: 200 hosts must not print 200 lines without a terminal.
            const every = Math.max(1, Math.ceil(hostCount / 10));
            for (const [i, batch] of phase.batches.entries()) {
              if (options.signal.aborted) throw new StepFailure('-', phase.name, 'interrupted');
              if (options.step) {
                for (const steps of byTask(batch.steps)) await stepTask(phase, i, steps, task);
                continue;
              }
              const label = phase.batches.length > 1 ? ` (batch ${i + 1}/${phase.batches.length})` : '';
              task.output = `${done}/${hostCount} hosts done${label}`;
              const calls0 = watch?.calls ?? 0;
              const bytes0 = watch?.bytes ?? 0;
              const t0 = Date.now();
              await runOnHosts(
                batch.hosts,
                batch.steps,
                () => {
                  done += 1;
                  if (done % every === 0 || done === hostCount) task.output = `${done}/${hostCount} hosts done${label}`;
                },
                batch,
              );
              const calls = (watch?.calls ?? 0) - calls0;
              if (calls > 0)
                keepaliveCalls.push({
                  phase: phase.name,
                  batch: i + 1,
                  hosts: batch.hosts.length,
                  calls,
                  bytes: (watch?.bytes ?? 0) - bytes0,
                  ms: Date.now() - t0,
                });
            }
            const made = applied.size - changedBefore;
            const dropped = phase.batches.reduce((n, b) => n + b.steps.filter((s) => skipped.has(s.id) && s.kind !== 'gate').length, 0);
            task.title = `${phase.name}: ${hostCount} host(s), ${made} change(s)${dropped > 0 ? `, ${dropped} skipped` : ''}`;
          },
        };
      }),
    {
      concurrent: false,
      exitOnError: true,
      renderer: options.renderer,
      fallbackRenderer: 'simple',
      registerSignalListeners: false,
      rendererOptions: { collapseSubtasks: false },
    } as never,
  );

  try {
    await tasks.run();
  } catch (err) {
    const f = err instanceof StepFailure ? err : new StepFailure('-', '-', (err as Error).message);
    failure = { host: f.host, task: f.task, message: f.message };
  }

  const skippedList = [...skipped.values()].filter((s) => s.kind !== 'gate').map((s) => ({ host: s.host, task: s.task, id: s.id }));
  const outcomeOf = (host: HostSpec): HostOutcome => {
    const n = changedCount.get(host.name) ?? 0;
    const k = skippedList.filter((s) => s.host === host.name).length;
    const left = putBack.get(host.name);
    if (left) return { host: host.name, role: host.role, changed: 0, status: 'left behind', ms: elapsed.get(host.name) ?? 0, detail: left.reason };
    return {
      host: host.name,
      role: host.role,
      changed: n,
      status: !started.has(host.name) && !failure ? 'ok' : n > 0 ? 'changed' : 'ok',
      ms: elapsed.get(host.name) ?? 0,
      ...(k > 0 ? { skipped: k, detail: `${k} step(s) skipped` } : {}),
    };
  };
  if (!failure) {
    journal.append({ type: 'finished', runId: options.runId, at: new Date().toISOString() });
    return {
      outcome: 'ok',
      hosts: [...options.hosts.values()].map(outcomeOf),
      gates,
      skipped: skippedList,
      waitMs: waits.ms(),
      leftBehind: [...putBack.values()],
      keepaliveCalls,
    };
  }

  const waitMs = waits.ms();
  // Roll back everything this run changed.
  let rollbackResults: RollbackHostResult[] = [];
  const rollbackTasks = new Listr(
    [
      {
        title: `Rolling back: ${failure.host === '-' ? '' : `${failure.host}: `}${failure.message}`,
        task: async (_ctx: unknown, task: { output: string }) => {
          rollbackResults = await rollback({
            // Agents put back alone are as they were already.
            changes: changes.filter((c) => !putBack.has(c.host)),
            transports,
            targets: options.probes.filter((p) => !putBack.has(p.host.name)),
            ca: options.trust ?? options.ca,
            forks: options.forks,
            ...(options.serialBackends ? { serialBackends: true } : {}),
            progress: (line) => (task.output = line),
          });
          const bad = rollbackResults.filter((r) => !r.ok);
          if (bad.length > 0) throw new Error(`rollback incomplete on ${bad.map((r) => r.host).join(', ')}`);
        },
      },
    ],
    { renderer: options.renderer, fallbackRenderer: 'simple', registerSignalListeners: false, exitOnError: true } as never,
  );
  await rollbackTasks.run().catch(() => undefined);
  const bad = rollbackResults.filter((r) => !r.ok);
  journal.append({ type: bad.length === 0 ? 'rolled-back' : 'rollback-failed', runId: options.runId, at: new Date().toISOString() });
  const touched = new Set(changes.map((c) => c.host));
  const hosts = [...options.hosts.values()].map((h): HostOutcome => {
    const base = outcomeOf(h);
    const rb = rollbackResults.find((r) => r.host === h.name);
    if (rb && !rb.ok) return { ...base, status: 'needs attention', detail: rb.state };
    if (h.name === failure.host) return { ...base, status: 'failed', detail: failure.message };
    if (putBack.has(h.name)) return { ...base, status: 'rolled back', detail: putBack.get(h.name)?.reason ?? '' };
    if (touched.has(h.name)) return { ...base, status: 'rolled back' };
    return base;
  });
  const interrupted = options.signal.aborted || stopped === 'interrupted';
  return {
    outcome: bad.length > 0 ? 'rollback-failed' : interrupted ? 'interrupted' : stopped === 'aborted' ? 'aborted' : 'rolled-back',
    failure,
    hosts,
    rollback: rollbackResults,
    gates,
    skipped: skippedList,
    waitMs,
    leftBehind: [],
    keepaliveCalls,
  };
}
