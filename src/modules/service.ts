/**
 * `service`: restart the unit when a file it reads changed in this run, never otherwise.
 */
import { z } from 'zod';
import type { TaskContext } from '../plan/plan.js';
import type { RestartStep } from '../plan/types.js';
import { stepBase, type PlaybookModule } from './module.js';
import { readByUnit } from './reads.js';

export const service: PlaybookModule = {
  args: z.object({ name: z.enum(['sensu-backend', 'sensu-agent']) }).strict(),
  plan: (ctx) => [planRestart(ctx)],
};

function planRestart(ctx: TaskContext): RestartStep {
  const { name } = ctx.args as { name: string };
  // Files changed in earlier phases count too: a certificate replaced in `distribute` is only
  // served once the unit restarts, in the phase whose turn it is (a rotation changes no config).
  const changed = ctx.unrestarted.filter((id) => readByUnit(ctx, ctx.written.get(id)));
  const base = {
    ...stepBase(ctx),
    kind: 'restart' as const,
    unit: name,
    after: changed,
  };
  if (!ctx.facts.service.exists) ctx.problem(`unit ${name} not found`, `install Sensu's ${name} package on the host, or take the host out of the inventory`);
  return changed.length > 0
    ? { ...base, status: 'change', reason: `restart ${name}: files it reads changed` }
    : { ...base, status: 'noop', reason: 'configuration unchanged' };
}
