/**
 * `backend_health` and `agent_health`: the health gates. A gate verifies the restarts planned
 * before it in its phase; the executor polls it (src/execute/gates.ts) until it passes or its
 * timeout (the playbook's, or --gate-timeout) ends the wave.
 */
import { z } from 'zod';
import type { TaskContext } from '../plan/plan.js';
import type { FileStep, GateStep } from '../plan/types.js';
import { stepBase, type PlaybookModule } from './module.js';
import { endpointsFromFacts } from './sensu-config.js';

const plan = (ctx: TaskContext): GateStep[] => {
  const target = gateTarget(ctx);
  return target ? [planGate(ctx, target)] : [];
};

export const backendHealth: PlaybookModule = {
  args: z
    .object({
      tls: z.boolean(),
      timeout: z.number().int().positive().default(90),
      /** Also the web UI (dashboard-host:dashboard-port) serves TLS with the certificate it was given. */
      dashboard: z.boolean().default(false),
      /** Also every agent of the run sent a keepalive after this restart (agents on it reconnected). */
      agents: z.boolean().default(false),
    })
    .strict(),
  plan,
};

export const agentHealth: PlaybookModule = {
  args: z.object({ timeout: z.number().int().positive().default(60) }).strict(),
  plan,
};

function planGate(ctx: TaskContext, target: GateTarget): GateStep {
  const gate = ctx.task.module as GateStep['gate'];
  const args = ctx.args as { tls?: boolean; timeout: number; agents?: boolean };
  const restarts = ctx.earlier.filter((s) => s.kind === 'restart' && s.status === 'change').map((s) => s.id);
  if (args.agents && !ctx.host.sensu.apiKey && !(ctx.host.sensu.apiUser && ctx.host.sensu.apiPassword)) {
    ctx.problem(
      "this gate waits for every agent's keepalive, and the inventory gives no Sensu API credentials to read them",
      'set sensu_api_key, or sensu_api_user and sensu_api_password, for the backends',
    );
  }
  const base = {
    ...stepBase(ctx),
    kind: 'gate' as const,
    gate,
    after: restarts,
    tls: args.tls ?? false,
    timeoutMs: ctx.gateTimeoutMs ?? args.timeout * 1000,
    ...target,
    ...(args.agents && ctx.agents.length > 0 ? { agents: [...ctx.agents] } : {}),
  };
  return restarts.length > 0
    ? { ...base, status: 'change', reason: 'verify health after the restart' }
    : { ...base, status: 'noop', reason: 'nothing restarted' };
}

type GateTarget = Pick<GateStep, 'probe' | 'entity' | 'dashboard'>;

/**
 * The certificate the web UI will serve: the dashboard pair when the inventory gives one, else
 * `cert-file` (Sensu's fallback). Undefined when the local file could not be read (preflight says so).
 */
function dashboardCert(ctx: TaskContext): { file: string; sha256: string } | undefined {
  const file = ctx.host.sensu.dashboardCertFile ?? ctx.host.sensu.certFile;
  const sha256 = file ? ctx.local.get(file)?.cert?.sha256 : undefined;
  return file && sha256 ? { file, sha256 } : undefined;
}

/** Where a gate probes, read from the host's effective config (after this run's changes). */
function gateTarget(ctx: TaskContext): GateTarget | undefined {
  const configStep = ctx.earlier.find((s): s is FileStep => s.kind === 'file' && s.module === 'sensu_config');
  const effective = configStep?.effective ?? endpointsFromFacts(ctx);
  if (!effective) return undefined;
  if (ctx.task.module === 'backend_health') {
    const { tls, dashboard } = ctx.args as { tls: boolean; dashboard?: boolean };
    // No web UI answered before the run (the open-source build serves none): none to wait for.
    const cert = dashboard && ctx.facts.health?.webUi !== false ? dashboardCert(ctx) : undefined;
    const host =
      effective.dashboardHost === '' || /^(\[::\]|::|0\.0\.0\.0)$/.test(effective.dashboardHost)
        ? ctx.host.address
        : effective.dashboardHost.replace(/^\[|\]$/g, '');
    return {
      probe: { address: ctx.host.address, port: effective.apiPort, scheme: tls ? 'https' : 'http' },
      ...(cert ? { dashboard: { address: host, port: effective.dashboardPort, certFile: cert.file, sha256: cert.sha256 } } : {}),
    };
  }
  return {
    probe: { address: effective.agentApiHost, port: effective.agentApiPort, scheme: 'http' },
    entity: { name: ctx.host.sensu.entityName ?? effective.entityName ?? ctx.facts.hostname, namespace: effective.namespace },
  };
}
