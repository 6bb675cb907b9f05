/**
 * `rollout status`: the fleet's TLS state, read-only. Backends: what 8080, 8081 and 3000 serve
 * (and etcd's client and peer ports, not required: etcd TLS is `--etcd-tls`),
 * probed from here and verified against the inventory CA. Agents: the schemes they dial, /healthz,
 * and the last keepalive's age when the inventory has API credentials. Exit 0 when everything is
 * secured, 5 when not. Large fleets get agent counts and only the agents that need attention.
 */
import { readFile } from 'node:fs/promises';
import { ExitCode } from '../../errors.js';
import {
  agentStatus,
  backendStatus,
  keepaliveSource,
  readSettings,
  type AgentStatus,
  type BackendStatus,
  type KeepaliveSource,
  type UnreachableStatus,
} from '../../facts/fleet-status.js';
import type { ApiCredentials } from '../../facts/health.js';
import type { TlsProbe } from '../../facts/tls-probe.js';
import { probeVerifies } from '../../facts/tls-probe.js';
import type { HostSpec } from '../../inventory/types.js';
import { forEachLimited, withConnections } from '../../transport/pool.js';
import { loadFleet, type Fleet, type FleetFlags } from '../context.js';
import { table, type Output } from '../output.js';

/** Above this many agents, the table lists only those not secured. */
const AGENT_LIST_LIMIT = 30;

/** Options of `rollout status`. */
export type StatusFlags = FleetFlags & { json?: boolean };

async function readCa(path: string | undefined, cache: Map<string, Promise<string | undefined>>): Promise<string | undefined> {
  if (!path) return undefined;
  let p = cache.get(path);
  if (!p) {
    p = readFile(path, 'utf8').catch(() => undefined);
    cache.set(path, p);
  }
  return p;
}

function credentialsOf(hosts: readonly HostSpec[]): ApiCredentials | undefined {
  const h = hosts.find((x) => x.sensu.apiKey ?? (x.sensu.apiUser && x.sensu.apiPassword));
  if (!h) return undefined;
  if (h.sensu.apiKey) return { apiKey: h.sensu.apiKey };
  if (h.sensu.apiUser && h.sensu.apiPassword) return { user: h.sensu.apiUser, password: h.sensu.apiPassword };
  return undefined;
}

const unreachable = (host: HostSpec, error: string): UnreachableStatus => ({ host: host.name, role: host.role, error, secured: false, problems: [error] });

/** What status found: every backend and agent, and where keepalives were read (if anywhere). */
interface FleetRows {
  backends: (BackendStatus | UnreachableStatus)[];
  agents: (AgentStatus | UnreachableStatus)[];
  keepaliveFrom: string | undefined;
  credentialsWithheld: boolean;
}

/** Green for what is right, red for what is not. */
interface Paint {
  ok: (s: string) => string;
  bad: (s: string) => string;
}

/** The fleet's state: what each backend serves, what each agent dials and whether it is connected, keepalives where credentials may go. */
async function readFleet(fleet: Fleet, forks: number): Promise<FleetRows> {
  const cas = new Map<string, Promise<string | undefined>>();
  const byName = new Map(fleet.hosts.map((h) => [h.name, h]));

  return withConnections(fleet.hosts, fleet.open, { forks }, async (connections) => {
    const read = await forEachLimited(connections, forks, async (c) => {
      const host = byName.get(c.host) as HostSpec;
      if (!c.transport) return { host, error: c.error.message.replace(`${host.name}: `, '') };
      try {
        return { host, transport: c.transport, ...(await readSettings(host, c.transport)) };
      } catch (err) {
        return { host, error: (err as Error).message };
      }
    });
    const backends: (BackendStatus | UnreachableStatus)[] = await Promise.all(
      read
        .filter((r) => r.host.role === 'backend')
        .map(async (r) =>
          'error' in r ? unreachable(r.host, r.error ?? 'unreachable') : backendStatus(r.host, r.settings, await readCa(r.host.sensu.caFile, cas)),
        ),
    );
    // Keepalives come from the first backend whose API answers, over the scheme it serves.
    let keepalives: KeepaliveSource | undefined;
    const creds = credentialsOf(fleet.hosts);
    const api = backends.find((b): b is BackendStatus => !('error' in b) && b.api.probe.kind !== 'down');
    // Credentials only over TLS that verifies against the inventory's CA: on a fleet not secured
    // yet, keepalives are reported unknown rather than the password sent in the clear.
    const apiCa = api ? await readCa(byName.get(api.host)?.sensu.caFile, cas) : undefined;
    if (creds && api && api.api.probe.kind === 'tls' && api.api.probe.authorized && apiCa) {
      const host = api.api.address.includes(':') ? `[${api.api.address}]` : api.api.address;
      keepalives = keepaliveSource(`https://${host}:${api.api.port}`, creds, apiCa);
    }
    const agents: (AgentStatus | UnreachableStatus)[] = await forEachLimited(
      read.filter((r) => r.host.role === 'agent'),
      forks,
      async (r) =>
        'error' in r || !r.transport ? unreachable(r.host, r.error ?? 'unreachable') : agentStatus(r.host, r.settings, r.facts, r.transport, keepalives),
    );
    return { backends, agents, keepaliveFrom: keepalives && api ? api.host : undefined, credentialsWithheld: creds !== undefined && keepalives === undefined };
  });
}

/** One row per backend listener: plain or TLS, certificate, expiry, verification. */
function backendTable(out: Output, rows: FleetRows, { ok, bad }: Paint): void {
  if (rows.backends.length === 0) return;
  {
    const lines: string[][] = [['BACKEND', 'LISTENER', 'ADDRESS', 'SERVES', 'CERT CN', 'EXPIRES', 'DAYS LEFT', 'VERIFIES']];
    for (const b of rows.backends) {
      if ('error' in b) {
        lines.push([b.host, '-', '-', bad(`unreachable: ${b.error}`), '', '', '', '']);
        continue;
      }
      for (const [name, l, required] of [
        ['api', b.api, true],
        ['agent', b.agentPort, true],
        ['dashboard', b.dashboard, false],
        ['etcd client', b.etcdClient, false],
        ['etcd peer', b.etcdPeer, false],
      ] as const) {
        const cells = probeCells(l.probe, required, ok, bad);
        // What else the listener does with TLS: agent mTLS on 8081, the web UI's own pair on 3000.
        if (l.probe.kind === 'tls' && name === 'agent' && b.agentMtls) cells[0] = ok('TLS + client certs');
        if (l.probe.kind === 'tls' && name === 'dashboard') cells[0] = ok(b.dashboardCertFile ? 'TLS (own cert)' : 'TLS (cert-file)');
        lines.push([b.host, name, `${l.address}:${l.port}`, ...cells]);
      }
    }
    out.line(table(lines));
    out.line();
  }
}

/** One row per agent (only those not secured past 30): what it dials, connected, keepalive age. */
function agentTable(out: Output, rows: FleetRows, { ok, bad }: Paint): void {
  const agents = rows.agents;
  if (agents.length > 0) {
    const notSecured = agents.filter((a) => !a.secured);
    const listed = agents.length > AGENT_LIST_LIMIT ? notSecured : agents;
    if (agents.length > AGENT_LIST_LIMIT) out.line(agentSummary(agents));
    if (listed.length > 0) {
      const lines: string[][] = [['AGENT', 'BACKEND-URL', 'CONNECTED', 'KEEPALIVE', 'STATE', 'AUTH']];
      for (const a of listed) {
        if ('error' in a) {
          lines.push([a.host, '-', '-', '-', bad(`unreachable: ${a.error}`), '-']);
          continue;
        }
        const schemes = a.schemes.map((s) => `${s}://`).join(' + ') || 'none';
        const keepalive =
          a.keepaliveAgeSeconds !== undefined
            ? `${a.keepaliveAgeSeconds} s ago`
            : rows.keepaliveFrom
              ? 'unknown'
              : rows.credentialsWithheld
                ? 'unknown (API not on verified TLS: credentials not sent)'
                : '- (no API credentials)';
        lines.push([
          a.host,
          a.schemes.length > 0 && a.schemes.every((s) => s === 'wss') ? ok(schemes) : bad(schemes),
          a.healthy ? ok('yes') : bad(`no: ${a.healthDetail}`),
          keepalive,
          a.secured ? ok('secured') : bad(a.problems.join('; ')),
          a.clientCert ? 'client cert' : 'password',
        ]);
      }
      out.line(table(lines));
    }
    out.line();
  }
}

/** The last line: secured, or how many hosts are not. */
function verdictLine(out: Output, rows: FleetRows, secured: boolean, { ok, bad }: Paint): void {
  const agents = rows.agents;
  const badBackends = rows.backends.filter((b) => !b.secured).length;
  const badAgents = agents.filter((a) => !a.secured).length;
  if (secured)
    out.line(
      ok(`secured: ${rows.backends.length} backend(s) serve verified TLS on the API and agent port, ${agents.length} agent(s) connected over wss:// only`),
    );
  else
    out.line(
      bad(
        `not secured: ${badBackends} of ${rows.backends.length} backend(s), ${badAgents} of ${agents.length} agent(s)${badBackends > 0 || badAgents > 0 ? ' (rollout secure -i … --check --diff shows what would change)' : ''}`,
      ),
    );
}

/** Runs the status; returns the exit code. */
export async function runStatus(flags: StatusFlags, out: Output): Promise<number> {
  const fleet = await loadFleet(flags, out);
  for (const w of fleet.inventory.warnings) out.note(out.style('yellow', `warning: ${w}`));
  const rows = await readFleet(fleet, flags.forks);
  const all = [...rows.backends, ...rows.agents];
  const secured = all.every((r) => r.secured);
  // Not reached is not "not secured": its state is unknown, and a script must be able to tell.
  const unreached = all.filter((r) => 'error' in r).map((r) => r.host);
  const code = unreached.length > 0 ? ExitCode.Unreachable : secured ? ExitCode.Ok : ExitCode.PendingChanges;
  if (unreached.length > 0) out.note(out.style('red', `not reached, state unknown: ${unreached.join(', ')}`));
  if (flags.json) {
    out.json('status', { secured, unreachable: unreached, backends: rows.backends, agents: rows.agents });
    return code;
  }

  const paint: Paint = { ok: (s) => out.style('green', s), bad: (s) => out.style('red', s) };
  backendTable(out, rows, paint);
  agentTable(out, rows, paint);
  verdictLine(out, rows, secured, paint);
  return code;
}

function probeCells(p: TlsProbe, required: boolean, ok: (s: string) => string, bad: (s: string) => string): string[] {
  const flag = required ? bad : (s: string): string => s;
  if (p.kind === 'plain') return [flag('plain'), '-', '-', '-', '-'];
  if (p.kind === 'down') return [flag(`down: ${p.detail}`), '-', '-', '-', '-'];
  const verifies = probeVerifies(p);
  const why = !p.authorized ? (p.authorizationError ?? 'untrusted') : !p.identityOk ? 'address not in SANs' : p.daysLeft < 0 ? 'expired' : '';
  return [ok('TLS'), p.cn ?? '?', p.notAfter, String(p.daysLeft), verifies ? ok('yes') : flag(`no (${why})`)];
}

function agentSummary(agents: readonly (AgentStatus | UnreachableStatus)[]): string {
  const count = (f: (a: AgentStatus) => boolean): number => agents.filter((a): a is AgentStatus => !('error' in a) && f(a)).length;
  const parts = [
    `${agents.filter((a) => a.secured).length} secured`,
    `${count((a) => a.schemes.length > 0 && a.schemes.every((s) => s === 'wss'))} on wss:// only`,
    `${count((a) => a.schemes.includes('ws'))} still on ws://`,
    `${count((a) => a.healthy)} connected`,
    `${agents.filter((a) => 'error' in a).length} unreachable`,
  ];
  return `agents: ${agents.length} — ${parts.join(', ')}; listing the ones not secured:`;
}
