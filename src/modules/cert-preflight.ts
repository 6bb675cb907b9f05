/**
 * `cert_preflight`: where a playbook asks for the certificate checks (every certificate valid for
 * the hosts that serve it, keys matching, the CA's). They run before planning, on every host of
 * the run (src/stages/certificates.ts), since a plan built on a bad certificate would be
 * wrong everywhere; their problems reach the plan as preflight problems. So it plans no step.
 */
import { z } from 'zod';
import type { PlaybookModule } from './module.js';

export const certPreflight: PlaybookModule = {
  args: z.object({}).strict(),
  plan: () => [],
};
