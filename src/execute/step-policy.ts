/**
 * What "no, skip it" may mean in step mode (`rollout secure --step`). Pure: it reads the plan and
 * what the run has done so far, and says whether a task may be skipped on a batch, and what else
 * goes with it. The rules, in order:
 *
 * 1. A health gate is never skipped: it is how the run knows a change stands. (Step mode does not
 *    ask about gates; it runs them and shows what they saw.)
 * 2. A restart is not skipped once the configuration it applies was written in this run: the new
 *    file would sit unread until some later restart, outside any gate. A restart whose configuration
 *    was skipped is dropped with it, and so is the gate after it, without asking.
 * 3. A wave (phases sharing `wave:`, the TLS lockstep) switches whole or not at all: Sensu has no
 *    mixed ws/wss mode. Before the wave changed anything, "no" on its first task skips the whole
 *    wave (and says so before it is chosen); once anything in the wave changed, no task of it can
 *    be skipped: abort is how to stop, and it rolls the run back.
 * 4. A file or directory that a later step of the run needs is not skipped: the directory the
 *    uploads go into, the CA and certificates the configurations point at. Without them that step
 *    would fail its gate and the whole run would roll back. Changes of owner or mode only, and
 *    files nothing later reads, can be skipped.
 */
import type { DirStep, FileStep, PhasePlan, Plan, Step } from '../plan/types.js';

/** Whether a task may be skipped on a batch. */
export type SkipRule =
  | {
      allowed: true;
      /** What else the skip takes with it, when anything: "the whole tls wave (…): …". */
      means?: string;
      /** The wave skipped with it. */
      wave?: string;
    }
  | {
      allowed: false;
      /** Why not, in one sentence the operator can act on. */
      why: string;
    };

/** What the run has done so far. */
export interface StepProgress {
  /** Ids of the steps that changed something in this run. */
  applied: ReadonlySet<string>;
  /** Ids of the steps skipped so far (asked, or dropped with a skipped task or wave). */
  skipped: ReadonlySet<string>;
  /** Waves skipped whole. */
  skippedWaves: ReadonlySet<string>;
  /** Role of a host (backend or agent). */
  roleOf(host: string): string | undefined;
}

const quoteTask = (task: string): string => `"${task}"`;

function hostsText(hosts: readonly string[]): string {
  const [first] = hosts;
  if (hosts.length <= 1) return first ?? '';
  return `${first ?? ''} (and ${hosts.length - 1} more)`;
}

const taskIndex = (step: Step): number => Number(step.id.split('/')[1] ?? 0);

/** The plan's steps in step mode's order (phase, batch, task, host), with their phase. */
function ordered(plan: Plan): { step: Step; phase: PhasePlan; index: number }[] {
  const out: { step: Step; phase: PhasePlan; index: number }[] = [];
  for (const phase of plan.phases) {
    for (const batch of phase.batches) {
      const steps = [...batch.steps].sort((a, b) => taskIndex(a) - taskIndex(b));
      for (const step of steps) out.push({ step, phase, index: out.length });
    }
  }
  return out;
}

/** Whether `later` needs what `step` would put in place (on the same host). */
function needs(later: Step, step: FileStep | DirStep): string | undefined {
  if (later.host !== step.host || later.id === step.id) return undefined;
  if (step.kind === 'dir') {
    // Only a directory that does not exist yet is needed: the uploads work in an existing one.
    if (step.before.exists) return undefined;
    if ((later.kind === 'file' || later.kind === 'dir') && later.path.startsWith(`${step.path.replace(/\/$/, '')}/`)) return step.path;
    return undefined;
  }
  // The same content already in place: only owner or mode would change, nothing later breaks.
  if (step.before.exists && step.before.sha256 === step.after.sha256) return undefined;
  if (later.kind === 'file' && later.after.text?.includes(step.path)) return step.path;
  return undefined;
}

/** Decides whether `steps` (one task on one batch, each changing something) may be skipped. */
export function skipRule(plan: Plan, phase: PhasePlan, steps: readonly Step[], progress: StepProgress): SkipRule {
  const [first] = steps;
  if (!first) return { allowed: true };
  if (first.kind === 'gate') return { allowed: false, why: 'a health gate is how the run knows the change stands; it is never skipped' };

  if (first.kind === 'restart') {
    const written = steps.filter((s) => s.kind === 'restart' && s.after.some((id) => progress.applied.has(id))).map((s) => s.host);
    if (written.length > 0) {
      return {
        allowed: false,
        why: `the new configuration of ${hostsText(written)} is already written: skipped, the restart would leave it unread until some later restart, outside any health gate${phase.wave ? `, and break the ${phase.wave} wave's lockstep` : ''}. To stop here, abort: it rolls back this run`,
      };
    }
  }

  const all = ordered(plan);
  if (phase.wave) {
    const wave = phase.wave;
    const wavePhases = plan.phases.filter((p) => p.wave === wave);
    const started = all.find((e) => e.phase.wave === wave && progress.applied.has(e.step.id));
    if (started) {
      const role = progress.roleOf(first.host);
      const hosts = [...new Set(steps.map((s) => s.host))];
      const consequence =
        role === 'agent'
          ? `these agents would stay on ws:// while the rest of the wave is on TLS`
          : `${hostsText(hosts)} would stay plain while the others serve TLS and agents dial wss://`;
      return {
        allowed: false,
        why: `the ${wave} wave has started (${started.step.host} changed) and Sensu has no mixed ws/wss mode: ${consequence}. To stop here, abort: it rolls back this run`,
      };
    }
    return {
      allowed: true,
      wave,
      means: `the whole ${wave} wave (${wavePhases.map((p) => p.name).join(', ')}): backends and agents switch together or not at all`,
    };
  }

  const ids = new Set(steps.map((s) => s.id));
  const last = Math.max(...all.filter((e) => ids.has(e.step.id)).map((e) => e.index));
  const later = all.filter(
    (e) => e.index > last && e.step.status === 'change' && !progress.skipped.has(e.step.id) && !(e.phase.wave && progress.skippedWaves.has(e.phase.wave)),
  );
  const blocked: { host: string; path: string; task: string }[] = [];
  for (const step of steps) {
    if (step.kind !== 'file' && step.kind !== 'dir') continue;
    for (const e of later) {
      const path = needs(e.step, step);
      if (path) {
        blocked.push({ host: step.host, path, task: e.step.task });
        break;
      }
    }
  }
  const [b] = blocked;
  if (b) {
    const hosts = blocked.filter((x) => x.task === b.task).map((x) => x.host);
    const why =
      first.kind === 'dir'
        ? `writes into ${b.path}: without the directory it would fail and the whole run roll back`
        : `points at ${b.path}: without it that step's health gate would fail and the whole run roll back`;
    return { allowed: false, why: `${quoteTask(b.task)} on ${hostsText(hosts)} ${why}` };
  }
  return { allowed: true };
}
