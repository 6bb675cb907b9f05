// PLACEHOLDER until src/certs/preflight.ts lands; replaced before commit.
import type { HostSpec } from '../../inventory/types.js';
import type { PlanProblem } from '../../plan/types.js';

export function certificateProblems(_hosts: readonly HostSpec[], _all: readonly HostSpec[], _opts: { minValidityDays: number }): Promise<PlanProblem[]> {
  return Promise.resolve([]);
}
