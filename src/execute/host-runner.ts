/**
 * Running one host's steps in order over its connection: consecutive writes as one command, a
 * restart, an etcd member move, a health gate. It keeps what the recap needs (each host's time,
 * its changes, what each gate saw) and what gates need (when each host was restarted). It decides
 * nothing about the run: a failure is thrown as a StepFailure naming the host and task, and
 * src/execute/run.ts decides what follows.
 */
import type { HostSpec } from '../inventory/types.js';
import type { FileStep, GateStep, Step } from '../plan/types.js';
import { unitOf } from '../sensu/host-config.js';
import type { Transport } from '../transport/transport.js';
import { applyWrites, restartUnit, type ApplyContext, type WriteStep } from './apply.js';
import { applyEtcdMember } from './etcd-member.js';
import { agentGate, backendGate, type GateResult } from './gates.js';
import type { KeepaliveWatch } from './keepalive-watch.js';
import type { ExecuteOptions } from './run.js';
import { WaitClock } from './wait-clock.js';

/** A step that failed on a host ('-' when no host is to blame: an abort, an interrupt). */
export class StepFailure extends Error {
  constructor(
    readonly host: string,
    readonly task: string,
    message: string,
  ) {
    super(message);
  }
}

/** A gate's verdict, kept for the recap, `--json` and the trace. */
export interface GateRecord {
  host: string;
  task: string;
  result: GateResult;
}

/** What running a host's steps needs: the executor's options (`ca`: a backend gate needs a certificate of it), and the run's keepalive poller. */
export type HostRunnerOptions = Pick<ExecuteOptions, 'hosts' | 'transports' | 'journal' | 'runId' | 'keepBackups' | 'ca' | 'restartsBefore' | 'signal'> & {
  keepalive: KeepaliveWatch | undefined;
};

export function isWrite(step: Step): step is WriteStep {
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

/** Drops the "host: " a lower layer put in front: the recap and the error line name the host already. */
function withoutHost(host: string, message: string): string {
  return message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;
}

/** Runs hosts' steps and remembers what happened on each. */
export class HostRunner {
  /** Time spent on each host's steps, in ms. */
  readonly elapsed = new Map<string, number>();
  /** Steps that changed something, per host. */
  readonly changedCount = new Map<string, number>();
  /** Ids of steps that changed something. */
  readonly applied = new Set<string>();
  readonly gates: GateRecord[] = [];
  /** Wall time with a restart or gate in flight. */
  readonly waits = new WaitClock();
  /** Agents (`namespace/name`) backend gates no longer wait for: put back alone on their old settings. */
  readonly notWaitedFor = new Set<string>();
  private readonly restartedAt = new Map<string, number>();

  constructor(private readonly options: HostRunnerOptions) {}

  /** Runs `steps` (all of `host`'s) in order; the first failure is thrown as a StepFailure. */
  async run(host: string, steps: readonly Step[]): Promise<void> {
    const t = this.options.transports.get(host);
    if (!t) throw new StepFailure(host, 'connect', 'no connection');
    const t0 = Date.now();
    try {
      for (let i = 0; i < steps.length; ) {
        const step = steps[i] as Step;
        if (this.options.signal.aborted) throw new StepFailure(host, step.task, 'interrupted');
        try {
          if (isWrite(step)) {
            // Uploads and config edits in a row reach the host as one command (one sudo).
            let end = i;
            while (end < steps.length && isWrite(steps[end] as Step)) end += 1;
            await this.writes(
              host,
              steps.slice(i, end).filter((s): s is WriteStep => isWrite(s) && s.status !== 'noop'),
              t,
            );
            i = end;
          } else {
            await this.step(step, t);
            i += 1;
          }
        } catch (err) {
          if (err instanceof StepFailure) throw err;
          throw new StepFailure(host, step.task, withoutHost(host, (err as Error).message));
        }
      }
    } finally {
      this.elapsed.set(host, (this.elapsed.get(host) ?? 0) + Date.now() - t0);
    }
  }

  private made(step: Step): void {
    this.applied.add(step.id);
    this.changedCount.set(step.host, (this.changedCount.get(step.host) ?? 0) + 1);
  }

  /** A host's consecutive file and directory steps, as one command on the host. */
  private async writes(host: string, steps: readonly WriteStep[], t: Transport): Promise<void> {
    if (steps.length === 0) return;
    const ctx: ApplyContext = {
      transport: t,
      journal: this.options.journal,
      runId: this.options.runId,
      unitReading: (s) => unitReading(s, this.options.hosts),
      ...(this.options.keepBackups ? { keepBackups: this.options.keepBackups } : {}),
    };
    const outcome = await applyWrites(steps, ctx);
    for (const step of steps.slice(0, outcome.done)) this.made(step);
    if (outcome.failed) throw new StepFailure(host, steps[outcome.failed.index]?.task ?? '-', withoutHost(host, outcome.failed.error.message));
  }

  private async step(step: Exclude<Step, WriteStep>, t: Transport): Promise<void> {
    if (step.status === 'noop') return;
    switch (step.kind) {
      case 'restart': {
        // From before the restart: a keepalive sent as the agent reconnects counts.
        const t0 = Date.now();
        await this.waits.around(() => restartUnit(t, step.unit));
        this.restartedAt.set(step.host, t0);
        break;
      }
      case 'etcd_member': {
        const host = this.options.hosts.get(step.host);
        if (!host) throw new StepFailure(step.host, step.task, 'not in the inventory');
        await applyEtcdMember(step, { transport: t, journal: this.options.journal, host });
        break;
      }
      case 'gate': {
        const result = await this.waits.around(() => this.gate(step, t));
        this.gates.push({ host: step.host, task: step.task, result });
        if (!result.ok) throw new StepFailure(step.host, step.task, `health gate failed: ${result.detail}`);
        return;
      }
    }
    this.made(step);
  }

  private gate(step: GateStep, t: Transport): Promise<GateResult> {
    const since = this.restartedAt.get(step.host) ?? Date.now();
    if (step.gate === 'agent_health') return agentGate(step, t, since, this.options.keepalive, this.options.signal);
    // Agents put back alone are not waited for: they are on their old settings, named in the recap.
    const agents = step.agents?.filter((a) => !this.notWaitedFor.has(`${a.namespace}/${a.name}`));
    return backendGate(agents ? { ...step, agents } : step, t, {
      ca: this.options.ca,
      restartsBefore: this.options.restartsBefore.get(step.host) ?? 0,
      since,
      keepalive: this.options.keepalive,
      signal: this.options.signal,
    });
  }
}
