/**
 * Step mode (`rollout secure --step`): a batch goes task by task instead of host by host. Each task
 * runs on all of the batch's hosts before the next, and before it the operator is asked whether to
 * run it, skip it (src/execute/step-policy.ts says when that is refused), run everything left without
 * asking, or abort (roll back). Gates are not asked about: they run after the task they verify and
 * show what they saw. How the question reaches the terminal is the caller's business (`StepHooks`):
 * src/ui/step-prompt.ts asks through the run's listr2 view.
 */
import type { HostSpec } from '../inventory/types.js';
import type { GateStep, PhasePlan, Plan, Step } from '../plan/types.js';
import type { GateResult } from './gates.js';
import { StepFailure, type GateRecord } from './host-runner.js';
import { skipRule, type SkipRule } from './step-policy.js';

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

/** What a gate saw, for step mode to show before the next question. */
export interface GateSeen {
  host: string;
  task: string;
  /** Where it looked, e.g. `https://127.0.0.1:8080/health`. */
  probe: string;
  result: GateResult;
}

/** Step mode's question, and how gate results are shown. */
export interface StepHooks {
  /** Asked before each task and host batch (gates excepted). */
  ask(question: StepQuestion): Promise<StepAnswer>;
  /** Text for the gates of a task once they decided, passed or not. */
  gates(seen: readonly GateSeen[]): string;
}

/** What step mode runs a task with, and where it shows text. */
export interface StepRun {
  /** Runs steps on their hosts (put-back-alone and --forks as for any batch). */
  onHosts(hosts: readonly string[], steps: readonly Step[]): Promise<void>;
  /** Every gate's verdict so far, in the order they decided (appended to as gates decide). */
  gates: readonly GateRecord[];
  show(text: string): void;
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

/** Where a gate looks: the backend's /health URL, the agent's /healthz through SSH. */
function gateUrlOf(step: GateStep | undefined): string {
  if (!step) return '';
  const path = step.gate === 'backend_health' ? '/health' : '/healthz';
  return `${step.probe.scheme}://${step.probe.address}:${step.probe.port}${path}`;
}

/** Step mode's state through a run: what was skipped, and whether the operator stopped it. */
export class StepMode {
  /** Steps that changed nothing because of an answer (skipped, or with a skipped task or wave). */
  readonly skipped = new Map<string, Step>();
  readonly skippedWaves = new Set<string>();
  /** Set when an answer stopped the run. */
  stopped: 'aborted' | 'interrupted' | undefined;
  private asking = true;
  private readonly waveOf: Map<string, string | undefined>;

  constructor(
    private readonly plan: Plan,
    private readonly hooks: StepHooks,
    private readonly hosts: ReadonlyMap<string, HostSpec>,
    private readonly applied: ReadonlySet<string>,
  ) {
    this.waveOf = new Map(plan.phases.map((p) => [p.name, p.wave]));
  }

  /** Whether the phase's wave was skipped by an earlier answer: its changes are dropped. */
  dropsPhase(phase: PhasePlan): boolean {
    if (phase.wave === undefined || !this.skippedWaves.has(phase.wave)) return false;
    for (const s of phase.batches.flatMap((b) => b.steps)) if (s.status === 'change') this.skipped.set(s.id, s);
    return true;
  }

  /** One batch, task by task. */
  async batch(phase: PhasePlan, batchIndex: number, run: StepRun): Promise<void> {
    const batch = phase.batches[batchIndex];
    if (!batch) return;
    for (const steps of byTask(batch.steps)) await this.task(phase, batchIndex, steps, run);
  }

  /**
   * Whether a step still has something to do. Only step mode drops steps: those skipped, those of
   * a skipped wave, and a restart or gate whose every cause was skipped (nothing to restart or prove).
   */
  private stillToDo(step: Step): boolean {
    if (step.status === 'noop' || this.skipped.has(step.id)) return false;
    const wave = this.waveOf.get(step.phase);
    if (wave !== undefined && this.skippedWaves.has(wave)) return false;
    if ((step.kind === 'restart' || step.kind === 'gate') && step.after.length > 0 && step.after.every((id) => this.skipped.has(id))) return false;
    return true;
  }

  /** One task on one batch: ask (unless told to continue), then run it and show its gates. */
  private async task(phase: PhasePlan, batchIndex: number, steps: readonly Step[], run: StepRun): Promise<void> {
    const live = steps.filter((s) => this.stillToDo(s));
    for (const s of steps) if (s.status === 'change' && !live.includes(s)) this.skipped.set(s.id, s);
    const [first] = live;
    if (!first) return;
    const hosts = [...new Set(live.map((s) => s.host))];
    if (this.asking && first.kind !== 'gate') {
      const question: StepQuestion = {
        phase,
        task: first.task,
        batch: batchIndex + 1,
        batches: phase.batches.length,
        hosts: hosts.map((name) => ({ name, role: this.hosts.get(name)?.role ?? 'host', address: this.hosts.get(name)?.address ?? '' })),
        steps: live,
        skip: skipRule(this.plan, phase, live, {
          applied: this.applied,
          skipped: new Set(this.skipped.keys()),
          skippedWaves: this.skippedWaves,
          roleOf: (h) => this.hosts.get(h)?.role,
        }),
      };
      switch (await this.hooks.ask(question)) {
        case 'skip':
          if (!question.skip.allowed) throw new Error(`step mode: "${first.task}" may not be skipped (${question.skip.why})`);
          for (const s of live) this.skipped.set(s.id, s);
          if (question.skip.wave !== undefined) this.skippedWaves.add(question.skip.wave);
          return;
        case 'abort':
          this.stopped = 'aborted';
          throw new StepFailure('-', first.task, 'aborted by the operator');
        case 'interrupt':
          this.stopped = 'interrupted';
          throw new StepFailure('-', first.task, 'interrupted at a question (Ctrl-C)');
        case 'continue':
          this.asking = false;
          break;
        case 'run':
          break;
      }
    }
    const gatesBefore = run.gates.length;
    try {
      await run.onHosts(hosts, live);
    } finally {
      // What each gate saw, passed or not, before the next question.
      const seen = run.gates
        .slice(gatesBefore)
        .map((g): GateSeen => ({ ...g, probe: gateUrlOf(live.find((s): s is GateStep => s.kind === 'gate' && s.host === g.host)) }));
      if (seen.length > 0) run.show(this.hooks.gates(seen));
    }
  }
}
