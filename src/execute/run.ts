/**
 * Executes a Plan through listr2: phase by phase, batch by batch, each host's steps in order,
 * with health gates deciding whether the wave stands. Any failure stops new work, lets the work
 * in flight finish, and rolls the run back. Tasks never write to the terminal: listr2's renderer
 * does, chosen by the caller (default on a terminal, one line per event otherwise, silent for JSON).
 */
import { Listr, type ListrRendererValue } from 'listr2';
import pLimit from 'p-limit';
import type { HostSpec } from '../inventory/types.js';
import type { FileStep, GateStep, Plan, Step } from '../plan/types.js';
import type { Transport } from '../transport/transport.js';
import { applyDir, applyFile, restartUnit, type ApplyContext } from './apply.js';
import { agentGate, backendGate, type GateResult, type KeepaliveCheck } from './gates.js';
import type { Journal } from './journal.js';
import { rollback, type ProbeTarget, type RollbackHostResult } from './rollback.js';

/** Per-host outcome for the recap. */
export interface HostOutcome {
  host: string;
  role: string;
  /** Steps that changed something on the host. */
  changed: number;
  status: 'ok' | 'changed' | 'failed' | 'rolled back' | 'needs attention' | 'not reached';
  ms: number;
  detail?: string;
}

/** How the run ended. */
export interface ExecuteResult {
  outcome: 'ok' | 'rolled-back' | 'rollback-failed' | 'interrupted';
  failure?: { host: string; task: string; message: string };
  hosts: HostOutcome[];
  rollback?: RollbackHostResult[];
  gates: { host: string; task: string; result: GateResult }[];
}

/** Everything execute needs. */
export interface ExecuteOptions {
  plan: Plan;
  hosts: ReadonlyMap<string, HostSpec>;
  transports: ReadonlyMap<string, Transport>;
  journal: Journal;
  runId: string;
  ca: string | undefined;
  keepalive: KeepaliveCheck | undefined;
  forks: number;
  renderer: ListrRendererValue;
  signal: AbortSignal;
  /** Automatic restarts of each host's unit before the run, to tell a crash loop from a restart. */
  restartsBefore: ReadonlyMap<string, number>;
  /** Where each host's Sensu can be probed on its old settings (rollback verification). */
  probes: readonly ProbeTarget[];
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

function unitOf(step: FileStep, hosts: ReadonlyMap<string, HostSpec>): string | undefined {
  if (step.module !== 'sensu_config') return undefined;
  return hosts.get(step.host)?.role === 'backend' ? 'sensu-backend' : 'sensu-agent';
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

  const changes = journal.changes;
  async function runStep(step: Step, t: Transport): Promise<void> {
    if (step.status === 'noop') return;
    const ctx: ApplyContext = { transport: t, journal, runId: options.runId, unitOf: (s) => unitOf(s, options.hosts) };
    switch (step.kind) {
      case 'file':
        await applyFile(step, ctx);
        break;
      case 'dir':
        await applyDir(step, ctx);
        break;
      case 'restart': {
        // From before the restart: a keepalive sent as the agent reconnects counts.
        const t0 = Date.now();
        await restartUnit(t, step.unit);
        restartedAt.set(step.host, t0);
        break;
      }
      case 'gate': {
        const result = await runGate(step, t);
        gates.push({ host: step.host, task: step.task, result });
        if (!result.ok) throw new StepFailure(step.host, step.task, `health gate failed: ${result.detail}`);
        return;
      }
    }
    changedCount.set(step.host, (changedCount.get(step.host) ?? 0) + 1);
  }

  function runGate(step: GateStep, t: Transport): Promise<GateResult> {
    if (step.gate === 'backend_health') return backendGate(step, t, options.ca, options.restartsBefore.get(step.host) ?? 0, options.signal);
    return agentGate(step, t, restartedAt.get(step.host) ?? Date.now(), options.keepalive, options.signal);
  }

  async function runHost(host: string, steps: readonly Step[]): Promise<void> {
    const t = transports.get(host);
    if (!t) throw new StepFailure(host, 'connect', 'no connection');
    const t0 = Date.now();
    if (!started.has(host)) started.set(host, t0);
    try {
      for (const step of steps) {
        if (options.signal.aborted) throw new StepFailure(host, step.task, 'interrupted');
        try {
          await runStep(step, t);
        } catch (err) {
          if (err instanceof StepFailure) throw err;
          throw new StepFailure(host, step.task, (err as Error).message);
        }
      }
    } finally {
      elapsed.set(host, (elapsed.get(host) ?? 0) + Date.now() - t0);
    }
  }

  const tasks = new Listr(
    plan.phases.filter((phase) => phase.batches.some((b) => b.steps.length > 0)).map((phase) => {
      const changing = phase.batches.reduce((n, b) => n + b.steps.filter((s) => s.status === 'change' && s.kind !== 'gate').length, 0);
      const hostCount = new Set(phase.batches.flatMap((b) => b.hosts)).size;
      return {
        title: `${phase.name}: ${phase.description}`,
        skip: () => (changing === 0 ? `${phase.name}: nothing to change on ${hostCount} host(s)` : false),
        task: async (_ctx: unknown, task: { title: string; output: string }) => {
          let done = 0;
          // Progress in steps of about a tenth: 200 hosts must not print 200 lines without a terminal.
          const every = Math.max(1, Math.ceil(hostCount / 10));
          for (const [i, batch] of phase.batches.entries()) {
            if (options.signal.aborted) throw new StepFailure('-', phase.name, 'interrupted');
            const label = phase.batches.length > 1 ? ` (batch ${i + 1}/${phase.batches.length})` : '';
            task.output = `${done}/${hostCount} hosts done${label}`;
            const limit = pLimit(Math.max(1, options.forks));
            let batchError: StepFailure | undefined;
            await Promise.all(
              batch.hosts.map((host) =>
                limit(async () => {
                  // After a failure nothing new starts; work already in flight finishes.
                  if (batchError || options.signal.aborted) return;
                  try {
                    await runHost(host, batch.steps.filter((s) => s.host === host));
                    done += 1;
                    if (done % every === 0 || done === hostCount) task.output = `${done}/${hostCount} hosts done${label}`;
                  } catch (err) {
                    batchError ??= err as StepFailure;
                  }
                }),
              ),
            );
            if (batchError) throw batchError;
          }
          task.title = `${phase.name}: ${hostCount} host(s), ${changing} change(s)`;
        },
      };
    }),
    { concurrent: false, exitOnError: true, renderer: options.renderer, fallbackRenderer: 'simple', registerSignalListeners: false, rendererOptions: { collapseSubtasks: false } } as never,
  );

  try {
    await tasks.run();
  } catch (err) {
    const f = err instanceof StepFailure ? err : new StepFailure('-', '-', (err as Error).message);
    failure = { host: f.host, task: f.task, message: f.message };
  }

  const outcomeOf = (host: HostSpec): HostOutcome => {
    const n = changedCount.get(host.name) ?? 0;
    return { host: host.name, role: host.role, changed: n, status: !started.has(host.name) && !failure ? 'ok' : n > 0 ? 'changed' : 'ok', ms: elapsed.get(host.name) ?? 0 };
  };
  if (!failure) {
    journal.append({ type: 'finished', runId: options.runId, at: new Date().toISOString() });
    return { outcome: 'ok', hosts: [...options.hosts.values()].map(outcomeOf), gates };
  }

  // Roll back everything this run changed.
  let rollbackResults: RollbackHostResult[] = [];
  const rollbackTasks = new Listr(
    [
      {
        title: `Rolling back: ${failure.host === '-' ? '' : `${failure.host}: `}${failure.message}`,
        task: async (_ctx: unknown, task: { output: string }) => {
          rollbackResults = await rollback({
            changes,
            transports,
            targets: options.probes,
            ca: options.ca,
            forks: options.forks,
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
    if (touched.has(h.name)) return { ...base, status: 'rolled back' };
    return base;
  });
  const interrupted = options.signal.aborted;
  return {
    outcome: bad.length > 0 ? 'rollback-failed' : interrupted ? 'interrupted' : 'rolled-back',
    failure,
    hosts,
    rollback: rollbackResults,
    gates,
  };
}
