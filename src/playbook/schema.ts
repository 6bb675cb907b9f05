/**
 * The shape of a playbook (playbooks/*.yml): phases of tasks, each task naming its module.
 * Validated with zod so a typo in a playbook is reported with its dot-path, like an inventory's.
 */
import { z } from 'zod';

/** Module names (src/modules/: one file each, its args and how it plans). A task is a health gate by its module: backend_health, agent_health. */
export const MODULES = ['cert_preflight', 'directory', 'copy', 'sensu_config', 'service', 'backend_health', 'agent_health', 'etcd_member'] as const;
/** A module name. */
export type ModuleName = (typeof MODULES)[number];

/**
 * Optional parts of a playbook, off unless the run asks for them (`rollout secure --agent-mtls`,
 * `--etcd-tls`): a phase or task with `requires: <feature>` is left out of the plan otherwise.
 */
export const FEATURES = ['agent_mtls', 'etcd_tls', 'drop_old_ca'] as const;
/** A feature name. */
export type Feature = (typeof FEATURES)[number];

const task = z
  .object({
    name: z.string().min(1),
    module: z.enum(MODULES),
    /** Only on hosts of this role. */
    when: z.enum(['backend', 'agent']).optional(),
    /** Only when the run turns this feature on. */
    requires: z.enum(FEATURES).optional(),
    /** Only on hosts whose inventory sets this variable (e.g. `sensu_dashboard_cert_file`). */
    when_set: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/)
      .optional(),
    args: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

const phase = z
  .object({
    name: z.string().regex(/^[a-z0-9-]+$/, 'phase names are lower-case words joined by -'),
    description: z.string(),
    /**
     * Phases that belong together (the TLS switch of backends and agents): step mode skips them
     * whole, and --limit may not split them. A failure anywhere rolls back the whole run.
     */
    wave: z.string().optional(),
    /** Only when the run turns this feature on. */
    requires: z.enum(FEATURES).optional(),
    hosts: z.enum(['all', 'backends', 'agents']),
    /**
     * `first`: only the first of those hosts; `rest`: all but the first. Lets a phase change one
     * backend, another phase move the agents onto it, and a third change the others.
     */
    slice: z.enum(['first', 'rest']).optional(),
    /** Hosts per batch: a number, or `forks` (the run's --forks). Default: all at once. */
    serial: z.union([z.number().int().positive(), z.literal('forks')]).optional(),
    tasks: z.array(task).min(1),
  })
  .strict();

/** A whole playbook file. */
export const playbookSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    phases: z.array(phase).min(1),
  })
  .strict();

/** A validated playbook. */
export type Playbook = z.infer<typeof playbookSchema>;
/** One phase of it. */
export type Phase = Playbook['phases'][number];
/** One task of a phase. */
export type Task = Phase['tasks'][number];
