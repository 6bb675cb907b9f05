/**
 * The documents `--json` prints, one per invocation, as zod schemas: the source of the JSON Schema
 * files in src/cli/schemas/, shipped as dist/schemas/ (test/tools/write-json-schemas.ts writes them; a test keeps them current and
 * validates real output against them). Commands build their documents with these types, so a field
 * added to the output without its schema fails the typecheck or the test.
 */
import { z } from 'zod';

/** What every command's document carries when it ended in an error (exit code unchanged). */
export const errorJson = z
  .object({
    message: z.string(),
    exitCode: z.number().int(),
    issues: z.array(z.string()).optional(),
    hint: z.string().optional(),
  })
  .describe('Why the command failed; absent when it did not');

const ownership = { mode: z.number().int(), owner: z.string(), group: z.string() };
const fileState = z.object({
  exists: z.boolean(),
  sha256: z.string().optional(),
  text: z.string().optional().describe('Config text, secrets redacted; never present for keys'),
  unread: z.boolean().optional().describe("The file lay in a directory that was not root's alone, so it was replaced without being read"),
  mode: z.number().int().optional(),
  owner: z.string().optional(),
  group: z.string().optional(),
});
const stepBase = {
  id: z.string(),
  host: z.string(),
  phase: z.string(),
  task: z.string(),
  module: z.string(),
  status: z.enum(['change', 'noop']),
  reason: z.string().optional(),
};
const endpoint = z.object({ address: z.string(), port: z.number().int(), scheme: z.enum(['http', 'https']) });
const step = z.discriminatedUnion('kind', [
  z.object({
    ...stepBase,
    kind: z.literal('file'),
    path: z.string(),
    before: fileState,
    after: fileState.extend({ ...ownership, sha256: z.string() }),
    source: z.string().optional(),
    secret: z.boolean(),
    cert: z.object({ subject: z.string(), sans: z.array(z.string()), issuer: z.string(), notAfter: z.string(), sha256: z.string().optional() }).optional(),
    changes: z
      .array(
        z.object({
          key: z.string(),
          before: z.unknown().optional().describe('Absent when the key was added'),
          after: z.unknown().optional().describe('Absent when the key was removed'),
        }),
      )
      .optional(),
    effective: z
      .object({
        apiPort: z.number(),
        agentApiHost: z.string(),
        agentApiPort: z.number(),
        entityName: z.string().optional(),
        namespace: z.string(),
        dashboardHost: z.string(),
        dashboardPort: z.number(),
      })
      .optional(),
    notes: z.array(z.string()).optional(),
  }),
  z.object({ ...stepBase, kind: z.literal('dir'), path: z.string(), before: fileState, after: z.object(ownership) }),
  z.object({ ...stepBase, kind: z.literal('restart'), unit: z.string(), after: z.array(z.string()) }),
  z.object({
    ...stepBase,
    kind: z.literal('gate'),
    gate: z.enum(['backend_health', 'agent_health']),
    after: z.array(z.string()),
    tls: z.boolean(),
    timeoutMs: z.number(),
    probe: endpoint,
    entity: z.object({ name: z.string(), namespace: z.string() }).optional(),
    dashboard: z.object({ address: z.string(), port: z.number().int(), certFile: z.string(), sha256: z.string() }).optional(),
    agents: z.array(z.object({ name: z.string(), namespace: z.string() })).optional(),
  }),
  z.object({
    ...stepBase,
    kind: z.literal('etcd_member'),
    member: z.string(),
    memberId: z.string(),
    before: z.array(z.string()),
    after: z.array(z.string()),
    endpoints: z.array(endpoint),
  }),
]);

const leftBehind = z.object({
  host: z.string(),
  reason: z.string(),
  stage: z
    .enum(['preflight', 'run'])
    .describe('preflight: left out, never touched (--max-unreachable); run: failed, put back on its old files (--max-fail-percentage)'),
});

const plan = z.object({
  playbook: z.string(),
  phases: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      wave: z.string().optional(),
      batches: z.array(
        z.object({
          hosts: z.array(z.string()),
          steps: z.array(step),
          canary: z.boolean().optional().describe('--serial: the first agent batch; a failure here rolls back the whole run'),
        }),
      ),
    }),
  ),
  problems: z.array(z.object({ host: z.string(), message: z.string(), fix: z.string().optional() })),
  changedHosts: z.array(z.string()),
  changes: z.number().int(),
  leftBehind: z.array(leftBehind).describe('Agents left out at preflight, with why'),
  notes: z.array(z.string()),
});

const rollbackHost = z.object({ host: z.string(), ok: z.boolean(), state: z.string() });

const stages = ['start', 'connect', 'facts', 'plan', 'show', 'run'] as const;
const stats = z.object({
  totalMs: z.number(),
  stages: z.object(Object.fromEntries(stages.map((s) => [s, z.number().optional()])) as Record<(typeof stages)[number], z.ZodOptional<z.ZodNumber>>),
  waitMs: z.number().optional(),
  connections: z.number().int(),
  commands: z.number().int(),
  bytesSent: z.number().int(),
  bytesReceived: z.number().int(),
  peakRssMb: z.number(),
  cpuMs: z.number(),
  keepalive: z
    .array(z.object({ phase: z.string(), batch: z.number().int(), hosts: z.number().int(), calls: z.number().int(), bytes: z.number().int(), ms: z.number() }))
    .optional()
    .describe('Per agent batch: Sensu API requests the keepalive checks made (one entity listing per poll), and the batch wall time'),
});

const result = z.object({
  outcome: z.enum(['ok', 'rolled-back', 'rollback-failed', 'interrupted', 'aborted']),
  failure: z.object({ host: z.string(), task: z.string(), message: z.string() }).optional(),
  hosts: z.array(
    z.object({
      host: z.string(),
      role: z.string(),
      changed: z.number().int(),
      status: z.enum(['ok', 'changed', 'failed', 'rolled back', 'needs attention', 'not reached', 'left behind']),
      ms: z.number(),
      skipped: z.number().int().optional(),
      detail: z.string().optional(),
    }),
  ),
  rollback: z.array(rollbackHost).optional(),
  gates: z.array(z.object({ host: z.string(), task: z.string(), result: z.object({ ok: z.boolean(), detail: z.string() }) })),
  skipped: z.array(z.object({ host: z.string(), task: z.string(), id: z.string() })),
  waitMs: z.number(),
  leftBehind: z.array(leftBehind).describe('Every agent this run left behind (at preflight and in the run), with why; also in retryFile'),
  keepaliveCalls: z.array(
    z.object({ phase: z.string(), batch: z.number().int(), hosts: z.number().int(), calls: z.number().int(), bytes: z.number().int(), ms: z.number() }),
  ),
  retryFile: z.string().optional().describe('The retry file naming the agents left behind: rollout secure --limit @FILE finishes them'),
});

/** `rollout secure --json`: the plan, and for a real run its result; `--stats` adds stats. */
export const secureJson = z.object({
  hosts: z.number().int().optional().describe('Hosts selected'),
  plan: plan.optional().describe('What the run would change (--check) or changes; config texts redacted'),
  result: result.optional().describe('How the real run went (absent with --check, or when it did not start)'),
  leftBehind: z.array(leftBehind).optional().describe('A run with nothing to change but agents left out: who, and why'),
  retryFile: z.string().optional().describe('With leftBehind: the retry file naming them'),
  stats: stats.optional().describe('--stats: where the time went and what the run cost'),
  error: errorJson.optional(),
});

/** `rollout check --json`. */
export const checkJson = z.object({
  ok: z.boolean().optional().describe('Every host ready'),
  hosts: z
    .array(
      z.object({
        host: z.string(),
        role: z.enum(['backend', 'agent']),
        address: z.string(),
        port: z.number().int(),
        connected: z.boolean(),
        sudo: z.boolean().nullable().describe('Commands run as root through sudo; null when not connected'),
        config: z.string().describe("Path of the host's Sensu config"),
        configFound: z.boolean().nullable().describe('null when it could not be looked for'),
        service: z.string().nullable().describe('`systemctl is-active` of the Sensu unit; null when it could not be asked'),
        ready: z.boolean(),
        error: z.string().nullable().describe('Why it could not connect or run sudo'),
      }),
    )
    .optional(),
  error: errorJson.optional(),
});

const probe = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('tls'),
    cn: z.string().optional(),
    notAfter: z.string(),
    daysLeft: z.number(),
    authorized: z.boolean(),
    authorizationError: z.string().optional(),
    identityOk: z.boolean(),
    identityError: z.string().optional(),
    sha256: z.string().optional(),
  }),
  z.object({ kind: z.literal('plain'), detail: z.string() }),
  z.object({ kind: z.literal('down'), detail: z.string() }),
]);
const listener = z.object({ address: z.string(), port: z.number().int(), probe });
const unreachable = z.object({
  host: z.string(),
  role: z.enum(['backend', 'agent']),
  error: z.string(),
  secured: z.literal(false),
  problems: z.array(z.string()),
});

/** `rollout status --json`. */
export const statusJson = z.object({
  secured: z.boolean().optional(),
  unreachable: z.array(z.string()).optional().describe('Hosts not reached (exit 6): their state is unknown'),
  backends: z
    .array(
      z.union([
        z.object({
          host: z.string(),
          role: z.literal('backend'),
          certFile: z.string(),
          api: listener,
          agentPort: listener,
          dashboard: listener,
          dashboardCertFile: z.string(),
          agentMtls: z.boolean(),
          etcdClient: listener,
          etcdPeer: listener,
          secured: z.boolean(),
          problems: z.array(z.string()),
        }),
        unreachable,
      ]),
    )
    .optional(),
  agents: z
    .array(
      z.union([
        z.object({
          host: z.string(),
          role: z.literal('agent'),
          backendUrls: z.array(z.string()),
          schemes: z.array(z.string()),
          entity: z.string(),
          clientCert: z.boolean(),
          healthy: z.boolean(),
          healthDetail: z.string(),
          keepaliveAgeSeconds: z.number().optional(),
          keepaliveDetail: z.string().optional(),
          secured: z.boolean(),
          problems: z.array(z.string()),
        }),
        unreachable,
      ]),
    )
    .optional(),
  error: errorJson.optional(),
});

/** `rollout rollback --json`. */
export const rollbackJson = z.object({
  runId: z.string().nullable().optional().describe('The run undone (or found already undone); null when no run is recorded'),
  rolledBack: z.boolean().optional().describe('This invocation rolled a run back'),
  message: z.string().optional().describe('Why there was nothing to do'),
  undo: z
    .array(
      z.object({
        host: z.string(),
        restore: z.array(z.string()),
        remove: z.array(z.string()),
        reset: z.array(z.string()),
        etcdMembers: z.array(z.string()),
        restart: z.array(z.string()),
      }),
    )
    .optional()
    .describe('What the rollback undoes, per host'),
  hosts: z.array(rollbackHost).optional(),
  error: errorJson.optional(),
});

/** `rollout certs --json`. */
export const certsJson = z.object({
  ca: z.string().optional(),
  hosts: z
    .array(
      z.object({
        host: z.string(),
        role: z.string(),
        action: z.enum(['kept', 'issued', 'renewed']),
        reasons: z.array(z.string()),
        certFile: z.string(),
        keyFile: z.string(),
        notAfter: z.string(),
        daysLeft: z.number(),
        sans: z.array(z.string()),
      }),
    )
    .optional(),
  inventoryVars: z.record(z.string(), z.record(z.string(), z.string())).optional(),
  error: errorJson.optional(),
});

/** Each command's document, by command name (the schema files are named after them). */
export const jsonDocuments = { check: checkJson, secure: secureJson, status: statusJson, rollback: rollbackJson, certs: certsJson } as const;

/** A command that prints JSON. */
export type JsonCommand = keyof typeof jsonDocuments;
/** The document of one command. */
export type JsonDocument<C extends JsonCommand> = z.input<(typeof jsonDocuments)[C]>;
