/**
 * Health gates: poll until a host proves healthy or the deadline passes. A backend proves it with
 * https `/health` (certificate verified against the CA, every etcd member healthy); an agent with
 * `/healthz` (through the host's SSH connection) and, when API credentials are known, with a
 * keepalive the backend recorded after the agent's restart.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { agentHealthz, backendHealth, type ApiCredentials } from '../facts/health.js';
import { probeTls } from '../facts/tls-probe.js';
import type { GateStep } from '../plan/types.js';
import type { Transport } from '../transport/transport.js';
import { printable } from '../terminal-text.js';
import type { KeepaliveWatch } from './keepalive-watch.js';

/** What a gate saw: shown in step mode and in failures. */
export interface GateResult {
  ok: boolean;
  detail: string;
}

/** Where the keepalive check asks (any healthy backend's API) and with what. */
export interface KeepaliveCheck {
  baseUrls: string[];
  credentials: ApiCredentials;
  ca: string | undefined;
  /** One login per backend per run: a password login costs the backend a hash per request. */
  tokens?: Map<string, Promise<string>>;
}

/**
 * Why a unit is not serving, when systemd already knows: it hit its start limit (`failed`), or
 * Restart=always keeps bringing it back (a crash loop that looks "active" between crashes). The
 * last lines it logged say why. Undefined while it may still be starting.
 */
export async function unitTrouble(transport: Transport, unit: string, restartsBefore: number): Promise<string | undefined> {
  const r = await transport.run(`systemctl show -p ActiveState,NRestarts ${unit}`, { sudo: true }).catch(() => undefined);
  if (!r) return undefined;
  const out = r.stdout.toString();
  const state = /ActiveState=(\S+)/.exec(out)?.[1];
  const restarts = Number(/NRestarts=(\d+)/.exec(out)?.[1] ?? 0);
  if (state !== 'failed' && restarts - restartsBefore < 2) return undefined;
  const log = await transport
    .run(`tail -n 20 /var/log/sensu/${unit}.log 2>/dev/null || journalctl -u ${unit} -n 20 --no-pager -o cat 2>/dev/null`, { sudo: true })
    .catch(() => undefined);
  const fatal = (log?.stdout.toString() ?? '')
    .split('\n')
    .reverse()
    .find((l) => /"level":"fatal"|fatal|error/i.test(l));
  // The log line is the host's text: escaped, so it cannot drive the terminal it is printed on.
  const why = fatal ? `; it logged: ${printable(fatal.trim().slice(0, 300))}` : '';
  return state === 'failed'
    ? `${unit} keeps crashing and systemd gave up (failed, start limit hit)${why}`
    : `${unit} is crash-looping (${restarts - restartsBefore} automatic restarts)${why}`;
}

/** What a backend gate needs besides the step: the CA, and for `agents` the keepalive check. */
export interface BackendGateContext {
  ca: string | undefined;
  restartsBefore: number;
  /** When the backend was restarted (keepalives from before do not count). */
  since: number;
  keepalive: KeepaliveWatch | undefined;
  signal?: AbortSignal;
}

/** Polls until the web UI serves TLS, verified against the CA, with the certificate it was given. */
async function dashboardGate(
  dashboard: NonNullable<GateStep['dashboard']>,
  ca: string | undefined,
  deadline: number,
  signal?: AbortSignal,
): Promise<GateResult> {
  const where = `https://${dashboard.address.includes(':') ? `[${dashboard.address}]` : dashboard.address}:${dashboard.port}`;
  let last = 'no answer yet';
  while (Date.now() < deadline && !signal?.aborted) {
    const p = await probeTls(dashboard.address, dashboard.port, { ...(ca ? { ca } : {}), timeoutMs: 3000 });
    if (p.kind !== 'tls') last = p.kind === 'plain' ? 'serves plain HTTP, not TLS' : p.detail;
    else if (!p.authorized) last = `certificate does not verify against the CA (${p.authorizationError ?? 'untrusted'})`;
    else if (!p.identityOk) last = `certificate does not cover ${dashboard.address}`;
    else if (p.sha256 !== dashboard.sha256)
      last = `serves CN=${p.cn ?? '?'} (sha256 ${p.sha256?.slice(0, 16) ?? '?'}…), not the certificate of ${dashboard.certFile} (sha256 ${dashboard.sha256.slice(0, 16)}…)`;
    else return { ok: true, detail: `web UI ${where} serves CN=${p.cn ?? '?'}` };
    await sleep(500);
  }
  return { ok: false, detail: `web UI ${where}: ${last}` };
}

/** Waits until every agent listed sent a keepalive after `since` (one entity list per poll for all of them). */
async function everyAgentGate(
  agents: NonNullable<GateStep['agents']>,
  keepalive: KeepaliveWatch | undefined,
  since: number,
  deadline: number,
): Promise<GateResult> {
  if (!keepalive) return { ok: false, detail: 'cannot read keepalives: no Sensu API credentials in the inventory' };
  const seen = await Promise.all(agents.map(async (a) => ({ name: a.name, seen: await keepalive.wait(a, since, deadline) })));
  const missing = seen.filter((s) => !s.seen.ok);
  if (missing.length === 0) return { ok: true, detail: `all ${agents.length} agent(s) sent a keepalive after the restart` };
  const names = missing.map((m) => m.name);
  return {
    ok: false,
    detail: `no keepalive after the restart from ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''} (${missing[0]?.seen.detail ?? ''})`,
  };
}

/**
 * Polls a backend's /health until every member is healthy (giving up early on a crash loop), then,
 * when the step asks, the web UI's certificate and every agent's keepalive.
 */
export async function backendGate(step: GateStep, transport: Transport, gc: BackendGateContext): Promise<GateResult> {
  const { ca, restartsBefore, signal } = gc;
  const deadline = Date.now() + step.timeoutMs;
  let last: GateResult = { ok: false, detail: 'no answer yet' };
  let nextUnitCheck = Date.now() + 2000;
  while (Date.now() < deadline && !signal?.aborted) {
    const h = await backendHealth(step.probe.address, step.probe.port, step.probe.scheme, { ...(ca ? { ca } : {}), timeoutMs: 3000 });
    last = {
      ok: h.ok,
      detail: h.detail.startsWith(step.probe.scheme) ? h.detail : `${step.probe.scheme}://${step.probe.address}:${step.probe.port}/health: ${h.detail}`,
    };
    if (h.ok) {
      const more = [...(step.dashboard ? [await dashboardGate(step.dashboard, ca, deadline, signal)] : [])];
      if (more.every((m) => m.ok) && step.agents) more.push(await everyAgentGate(step.agents, gc.keepalive, gc.since, deadline));
      const failed = more.find((m) => !m.ok);
      return failed ?? { ok: true, detail: [last.detail, ...more.map((m) => m.detail)].join('; ') };
    }
    if (Date.now() >= nextUnitCheck) {
      nextUnitCheck = Date.now() + 2000;
      const trouble = await unitTrouble(transport, 'sensu-backend', restartsBefore);
      if (trouble) return { ok: false, detail: trouble };
    }
    await sleep(500);
  }
  return { ok: false, detail: `${last.detail} (after ${Math.round(step.timeoutMs / 1000)} s)` };
}

/** Polls an agent's /healthz, then waits for its keepalive as the backend saw it after `since`. */
export async function agentGate(
  step: GateStep,
  transport: Transport,
  since: number,
  keepalive: KeepaliveWatch | undefined,
  signal?: AbortSignal,
): Promise<GateResult> {
  const deadline = Date.now() + step.timeoutMs;
  let last: GateResult = { ok: false, detail: 'no answer yet' };
  let healthy = false;
  while (Date.now() < deadline && !signal?.aborted) {
    try {
      const socket = await transport.forward(step.probe.address, step.probe.port);
      const h = await agentHealthz(socket, step.probe.address, step.probe.port, 3000);
      last = { ok: h.ok, detail: h.detail };
      if (h.ok) {
        healthy = true;
        break;
      }
    } catch (err) {
      last = { ok: false, detail: (err as Error).message };
    }
    await sleep(500);
  }
  if (!healthy) return { ok: false, detail: `${last.detail} (after ${Math.round(step.timeoutMs / 1000)} s)` };
  if (!keepalive || !step.entity)
    return { ok: true, detail: `${last.detail}; keepalive not checked (no sensu_api_key or sensu_api_user/password in the inventory)` };
  const seen = await keepalive.wait(step.entity, since, deadline);
  return { ok: seen.ok, detail: seen.ok ? `${last.detail}; ${seen.detail}` : seen.detail };
}
