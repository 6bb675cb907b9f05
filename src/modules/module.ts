/**
 * What a playbook module is to the planner: the arguments its tasks take (validated when the
 * playbook loads, with their dot-paths) and how it plans one host's task into steps, pure. The
 * executor runs steps by their kind (file, dir, restart, gate, etcd_member), whatever module made them,
 * on purpose: a host's consecutive writes from copy, directory and sensu_config reach it as one
 * command (one sudo, one round trip), and undo replays the journal's changes, which are by kind too
 * (src/execute/host-runner.ts, src/execute/rollback.ts). A module's gate is src/execute/gates.ts.
 */
import { z as zod, type z } from 'zod';
import type { TaskContext } from '../plan/plan.js';
import type { Step } from '../plan/types.js';

/** One playbook module. */
export interface PlaybookModule {
  /** Its tasks' `args`. */
  args: z.ZodType<Record<string, unknown>>;
  /** Plans one task on one host: steps that change something, or no-ops with their reason. */
  plan(ctx: TaskContext): Step[];
}

/** An octal mode such as "0644". */
export const modeArg = (): z.ZodString => zod.string().regex(/^0[0-7]{3}$/, 'expected an octal mode such as "0644"');

/** A mode as the plan shows it: `0750`, or `?` when unknown. */
export const modeText = (m: number | undefined): string => (m === undefined ? '?' : `0${(m & 0o777).toString(8)}`);

/** What every step of a task carries: its id, host, phase, task and module. */
export function stepBase(ctx: TaskContext): { id: string; host: string; phase: string; task: string; module: string } {
  return { id: ctx.id, host: ctx.host.name, phase: ctx.phase.name, task: ctx.task.name, module: ctx.task.module };
}
