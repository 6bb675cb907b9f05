/**
 * Executes a Plan: phase by phase, batch by batch, each host's steps in order (src/execute/host-runner.ts),
 * with health gates deciding whether the wave stands. Any failure stops new work, lets the work in
 * flight finish, and rolls the run back, except an agent's failure within --max-fail-percentage
 * outside a canary batch: that agent alone is put back and the run goes on without it. Step mode
 * (src/execute/step-mode.ts) goes task by task and asks before each.
 *
 * Nothing here writes to a terminal: progress goes out as events (src/execute/events.ts), which
 * src/ui/run-view.ts shows through listr2 and `--json` runs drop.
 */
import pLimit from 'p-limit';
import type { HostSpec } from '../inventory/types.js';
import type { Batch, LeftBehind, PhasePlan, Plan, Step } from '../plan/types.js';
import type { Transport } from '../transport/transport.js';
import type { RunEvent, RunListener } from './events.js';
import type { KeepaliveCheck } from './gates.js';
import { HostRunner, StepFailure, type GateRecord } from './host-runner.js';
import type { Journal } from './journal.js';
import { KeepaliveWatch } from './keepalive-watch.js';
import { rollback, type ProbeTarget, type RollbackHostResult } from './rollback.js';
import { StepMode, type StepHooks } from './step-mode.js';

export type { GateSeen, StepAnswer, StepHooks, StepQuestion } from './step-mode.js';

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
  gates: GateRecord[];
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
  /** Where progress goes (src/ui/run-view.ts shows it through listr2); none: the run is silent. */
  listener?: RunListener;
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

/** Runs the plan; never throws for a host failure (the result says what happened). */
export async function execute(options: ExecuteOptions): Promise<ExecuteResult> {
  return new Run(options).execute();
}

/** A phase worth showing: it has steps on some host. */
function shown(phase: PhasePlan): boolean {
  return phase.batches.some((b) => b.steps.length > 0);
}

/** One execution of a plan: the runner, step mode, agents put back alone, and the end. */
class Run {
  private readonly runner: HostRunner;
  private readonly stepMode: StepMode | undefined;
  /** One keepalive poller for the run: a batch's gates share each entity listing. */
  private readonly watch: KeepaliveWatch | undefined;
  private readonly keepaliveCalls: BatchApiCalls[] = [];
  /** Agents put back alone after failing within --max-fail-percentage: the run goes on without them. */
  private readonly putBack = new Map<string, LeftBehind>();
  /** Each gated agent's entity (`namespace/name`), to stop waiting for it once put back. */
  private readonly entityOf: Map<string, string>;
  private agentFailures = 0;

  constructor(private readonly options: ExecuteOptions) {
    this.watch = options.keepalive ? new KeepaliveWatch(options.keepalive, options.signal) : undefined;
    this.runner = new HostRunner({ ...options, keepalive: this.watch });
    this.stepMode = options.step ? new StepMode(options.plan, options.step, options.hosts, this.runner.applied) : undefined;
    this.entityOf = new Map(
      options.plan.phases
        .flatMap((p) => p.batches.flatMap((b) => b.steps))
        .flatMap((s) => (s.kind === 'gate' && s.entity ? [[s.host, `${s.entity.namespace}/${s.entity.name}`] as const] : [])),
    );
  }

  private emit(event: RunEvent): void {
    this.options.listener?.(event);
  }

  async execute(): Promise<ExecuteResult> {
    const failure = await this.phases();
    if (!failure) {
      this.options.journal.append({ type: 'finished', runId: this.options.runId, at: new Date().toISOString() });
      return this.result('ok');
    }
    return this.rollBack(failure);
  }

  /** Every phase in order; the failure that stopped them, if one did. */
  private async phases(): Promise<StepFailure | undefined> {
    const phases = this.options.plan.phases.filter(shown).map((phase) => {
      const changing = phase.batches.some((b) => b.steps.some((s) => s.status === 'change' && s.kind !== 'gate'));
      return { phase, skip: changing ? undefined : `${phase.name}: nothing to change on ${hostsOf(phase).length} host(s)` };
    });
    this.emit({
      type: 'phases',
      phases: phases.map(({ phase: p, skip }) => ({ name: p.name, title: `${p.name}: ${p.description}`, ...optional('skip', skip) })),
    });
    for (const { phase, skip } of phases) {
      if (skip) continue;
      try {
        await this.phase(phase);
      } catch (err) {
        const failure = err instanceof StepFailure ? err : new StepFailure('-', '-', (err as Error).message);
        this.emit({ type: 'phase-failed', phase: phase.name, message: failure.message });
        return failure;
      }
    }
    return undefined;
  }

  /** One phase, batch by batch; its title then says what it did. */
  private async phase(phase: PhasePlan): Promise<void> {
    if (this.stepMode?.dropsPhase(phase)) {
      this.emit({ type: 'phase-skipped', phase: phase.name, reason: `with the whole ${phase.wave ?? ''} wave, as answered` });
      return;
    }
    const hostCount = hostsOf(phase).length;
    const changedBefore = this.runner.applied.size;
    const show = (text: string): void => this.emit({ type: 'output', phase: phase.name, text });
    let done = 0;
    // Progress in steps of about a tenth: 200 hosts must not print 200 lines without a terminal.
    const every = Math.max(1, Math.ceil(hostCount / 10));
    for (const [i, batch] of phase.batches.entries()) {
      if (this.options.signal.aborted) throw new StepFailure('-', phase.name, 'interrupted');
      if (this.stepMode) {
        await this.stepMode.batch(phase, i, { onHosts: (hosts, steps) => this.onHosts(hosts, steps, batch), gates: this.runner.gates, show });
        continue;
      }
      const label = phase.batches.length > 1 ? ` (batch ${i + 1}/${phase.batches.length})` : '';
      show(`${done}/${hostCount} hosts done${label}`);
      await this.measured(phase, i, batch, () =>
        this.onHosts(batch.hosts, batch.steps, batch, () => {
          done += 1;
          if (done % every === 0 || done === hostCount) show(`${done}/${hostCount} hosts done${label}`);
        }),
      );
    }
    const made = this.runner.applied.size - changedBefore;
    const dropped = phase.batches.reduce((n, b) => n + b.steps.filter((s) => this.stepMode?.skipped.has(s.id) && s.kind !== 'gate').length, 0);
    this.emit({
      type: 'phase-done',
      phase: phase.name,
      title: `${phase.name}: ${hostCount} host(s), ${made} change(s)${dropped > 0 ? `, ${dropped} skipped` : ''}`,
    });
  }

  /** Runs a batch, counting the keepalive API requests its gates made (`--stats`). */
  private async measured(phase: PhasePlan, index: number, batch: Batch, run: () => Promise<void>): Promise<void> {
    const calls0 = this.watch?.calls ?? 0;
    const bytes0 = this.watch?.bytes ?? 0;
    const t0 = Date.now();
    await run();
    const calls = (this.watch?.calls ?? 0) - calls0;
    if (calls > 0)
      this.keepaliveCalls.push({
        phase: phase.name,
        batch: index + 1,
        hosts: batch.hosts.length,
        calls,
        bytes: (this.watch?.bytes ?? 0) - bytes0,
        ms: Date.now() - t0,
      });
  }

  /** Runs `steps` on their hosts, up to --forks at once; after a failure nothing new starts. */
  private async onHosts(hosts: readonly string[], steps: readonly Step[], batch: Batch, onHostDone?: () => void): Promise<void> {
    const limit = pLimit(Math.max(1, this.options.forks));
    let batchError: StepFailure | undefined;
    await Promise.all(
      hosts
        .filter((host) => !this.putBack.has(host))
        .map((host) =>
          limit(async () => {
            // After a failure nothing new starts; work already in flight finishes.
            if (batchError || this.options.signal.aborted) return;
            try {
              await this.runner.run(
                host,
                steps.filter((s) => s.host === host),
              );
              onHostDone?.();
            } catch (err) {
              const failure = err instanceof StepFailure ? err : new StepFailure(host, '-', (err as Error).message);
              if (await this.putBackAlone(host, failure, batch, batchError !== undefined)) return;
              batchError ??= failure;
            }
          }),
        ),
    );
    if (batchError) throw batchError;
  }

  /**
   * An agent that failed, put back alone on its old files (byte for byte, restarted, verified
   * running) so the run can go on: only outside a canary batch, while no failure of the run's has
   * been fatal yet, and within --max-fail-percentage. False: the failure stands for the whole run.
   */
  private async putBackAlone(host: string, failure: StepFailure, batch: Batch, fatalSoFar: boolean): Promise<boolean> {
    const { options } = this;
    if (options.hosts.get(host)?.role !== 'agent' || batch.canary === true || fatalSoFar || options.signal.aborted || this.stepMode?.stopped) return false;
    if (this.agentFailures + 1 > (options.maxAgentFailures ?? 0)) return false;
    this.agentFailures += 1;
    const target = options.probes.find((p) => p.host.name === host);
    const mine = options.journal.changes.filter((c) => c.host === host);
    const results =
      mine.length === 0 || !target
        ? []
        : await rollback({
            changes: mine,
            transports: options.transports,
            targets: [{ ...target, connected: false }],
            ca: options.trust ?? options.ca,
            forks: 1,
          });
    const r = results.find((x) => x.host === host);
    // Not back as it was: the whole run's rollback tries again, and says what it finds.
    if (r && !r.ok) return false;
    this.putBack.set(host, { host, reason: `${failure.task}: ${failure.message}${r ? `; put back on its old files, ${r.state}` : ''}`, stage: 'run' });
    const entity = this.entityOf.get(host);
    if (entity) this.runner.notWaitedFor.add(entity);
    return true;
  }

  private skippedSteps(): ExecuteResult['skipped'] {
    return [...(this.stepMode?.skipped.values() ?? [])].filter((s) => s.kind !== 'gate').map((s) => ({ host: s.host, task: s.task, id: s.id }));
  }

  /** Every host's line in the recap, before any rollback. */
  private outcomes(skipped: ExecuteResult['skipped']): HostOutcome[] {
    const { runner } = this;
    const skippedOn = new Map<string, number>();
    for (const s of skipped) skippedOn.set(s.host, (skippedOn.get(s.host) ?? 0) + 1);
    return [...this.options.hosts.values()].map((host): HostOutcome => {
      const ms = runner.elapsed.get(host.name) ?? 0;
      const left = this.putBack.get(host.name);
      if (left) return { host: host.name, role: host.role, changed: 0, status: 'left behind', ms, detail: left.reason };
      const n = runner.changedCount.get(host.name) ?? 0;
      const k = skippedOn.get(host.name) ?? 0;
      return {
        host: host.name,
        role: host.role,
        changed: n,
        status: n > 0 ? 'changed' : 'ok',
        ms,
        ...(k > 0 ? { skipped: k, detail: `${k} step(s) skipped` } : {}),
      };
    });
  }

  private result(outcome: 'ok'): ExecuteResult {
    const skipped = this.skippedSteps();
    return {
      outcome,
      hosts: this.outcomes(skipped),
      gates: this.runner.gates,
      skipped,
      waitMs: this.runner.waits.ms(),
      leftBehind: [...this.putBack.values()],
      keepaliveCalls: this.keepaliveCalls,
    };
  }

  /** Rolls back everything this run changed (agents put back alone are as they were already). */
  private async rollBack(failure: StepFailure): Promise<ExecuteResult> {
    const { options, putBack } = this;
    const waitMs = this.runner.waits.ms();
    const changes = options.journal.changes;
    this.emit({ type: 'rollback', title: `Rolling back: ${failure.host === '-' ? '' : `${failure.host}: `}${failure.message}` });
    const results = await rollback({
      changes: changes.filter((c) => !putBack.has(c.host)),
      transports: options.transports,
      targets: options.probes.filter((p) => !putBack.has(p.host.name)),
      ca: options.trust ?? options.ca,
      forks: options.forks,
      ...(options.serialBackends ? { serialBackends: true } : {}),
      progress: (text) => this.emit({ type: 'rollback-output', text }),
    }).catch((err: unknown): RollbackHostResult[] =>
      // Not expected (rollback reports per host), but a rollback that stopped must not read as done.
      [...new Set(changes.map((c) => c.host))].map((host) => ({ host, ok: false, state: `rollback stopped: ${(err as Error).message}` })),
    );
    const bad = results.filter((r) => !r.ok);
    this.emit({
      type: 'rollback-done',
      ok: bad.length === 0,
      ...optional('message', bad.length > 0 ? `rollback incomplete on ${bad.map((r) => r.host).join(', ')}` : undefined),
    });
    options.journal.append({ type: bad.length === 0 ? 'rolled-back' : 'rollback-failed', runId: options.runId, at: new Date().toISOString() });
    const touched = new Set(changes.map((c) => c.host));
    const skipped = this.skippedSteps();
    const hosts = this.outcomes(skipped).map((base): HostOutcome => {
      const rb = results.find((r) => r.host === base.host);
      if (rb && !rb.ok) return { ...base, status: 'needs attention', detail: rb.state };
      if (base.host === failure.host) return { ...base, status: 'failed', detail: failure.message };
      if (putBack.has(base.host)) return { ...base, status: 'rolled back', detail: putBack.get(base.host)?.reason ?? '' };
      if (touched.has(base.host)) return { ...base, status: 'rolled back' };
      return base;
    });
    const stopped = this.stepMode?.stopped;
    const interrupted = options.signal.aborted || stopped === 'interrupted';
    return {
      outcome: bad.length > 0 ? 'rollback-failed' : interrupted ? 'interrupted' : stopped === 'aborted' ? 'aborted' : 'rolled-back',
      failure: { host: failure.host, task: failure.task, message: failure.message },
      hosts,
      rollback: results,
      gates: this.runner.gates,
      skipped,
      waitMs,
      leftBehind: [],
      keepaliveCalls: this.keepaliveCalls,
    };
  }
}

/** The hosts of a phase, each once. */
function hostsOf(phase: PhasePlan): string[] {
  return [...new Set(phase.batches.flatMap((b) => b.hosts))];
}

/** `{ [key]: value }` when value is set, else nothing: for optional fields under exactOptionalPropertyTypes. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
