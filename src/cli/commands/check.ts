/**
 * `rollout check`: can rollout work on every host? Connects once per host, proves sudo, looks for
 * the Sensu config and the service, and prints one row per host. Changes nothing.
 */
import { ExitCode } from '../../errors.js';
import type { HostSpec } from '../../inventory/types.js';
import { quote } from '../../transport/shell.js';
import { withConnections, forEachLimited } from '../../transport/pool.js';
import type { Transport } from '../../transport/transport.js';
import { loadFleet, type FleetFlags } from '../context.js';
import type { JsonDocument } from '../json-schemas.js';
import { table, type Output } from '../output.js';
import { configPathOf, unitOf } from '../../sensu/host-config.js';

/** One host's answers (also its --json form: booleans, and null for what could not be asked). */
export type CheckRow = NonNullable<JsonDocument<'check'>['hosts']>[number];

type Probed = Pick<CheckRow, 'sudo' | 'configFound' | 'service' | 'ready' | 'error'>;

async function probe(host: HostSpec, t: Transport, config: string): Promise<Probed> {
  const unit = unitOf(host.role);
  // One command for everything: round trips are what a fleet run pays for.
  const script = `echo "user=$(id -un)"; if [ -f ${quote(config)} ]; then echo config=yes; else echo config=no; fi; echo "service=$(systemctl is-active ${unit} 2>/dev/null)"`;
  try {
    const r = await t.run(script, { sudo: true });
    const out = r.stdout.toString();
    const field = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1] ?? '';
    const sudo = field('user') === 'root';
    const configFound = field('config') === 'yes';
    const service = field('service') || 'unknown';
    return {
      sudo,
      configFound,
      service,
      ready: sudo && configFound && service === 'active',
      error: sudo ? null : `sudo ran the command as ${field('user') || 'nobody'}, not root`,
    };
  } catch (err) {
    return { sudo: false, configFound: null, service: null, ready: false, error: (err as Error).message.replace(`${host.name}: `, '') };
  }
}

function cells(r: CheckRow): { ssh: string; sudo: string; config: string; service: string } {
  if (!r.connected) return { ssh: `no: ${r.error ?? ''}`, sudo: '-', config: '-', service: '-' };
  if (r.configFound === null) return { ssh: 'ok', sudo: `no: ${r.error ?? ''}`, config: '?', service: '?' };
  return { ssh: 'ok', sudo: r.sudo ? 'ok' : 'no', config: r.configFound ? r.config : `missing ${r.config}`, service: r.service ?? '?' };
}

/** Runs the check; returns the exit code. */
export async function runCheck(flags: FleetFlags & { json?: boolean }, out: Output): Promise<number> {
  const fleet = await loadFleet(flags, out);
  for (const w of fleet.inventory.warnings) out.note(out.style('yellow', `warning: ${w}`));
  const rows = await withConnections(fleet.hosts, fleet.open, { forks: flags.forks }, async (connections) =>
    forEachLimited(connections, flags.forks, async (c): Promise<CheckRow> => {
      const host = fleet.hosts.find((h) => h.name === c.host) as HostSpec;
      const config = configPathOf(host);
      const base = { host: host.name, role: host.role, address: host.address, port: host.port, config };
      if (!c.transport)
        return {
          ...base,
          connected: false,
          sudo: null,
          configFound: null,
          service: null,
          ready: false,
          error: c.error.message.replace(`${host.name} `, '').replace(`${host.name}: `, ''),
        };
      return { ...base, connected: true, ...(await probe(host, c.transport, config)) };
    }),
  );
  const failed = rows.filter((r) => !r.ready);
  if (flags.json) {
    out.json('check', { ok: failed.length === 0, hosts: rows });
  } else {
    const mark = (v: string): string => (v === 'ok' || v === 'active' || v.startsWith('/') ? out.style('green', v) : v === '-' ? v : out.style('red', v));
    out.line(
      table([
        ['HOST', 'ROLE', 'ADDRESS', 'SSH', 'SUDO', 'CONFIG', 'SERVICE'],
        ...rows.map((r) => {
          const c = cells(r);
          return [r.host, r.role, `${r.address}:${r.port}`, mark(c.ssh), mark(c.sudo), mark(c.config), mark(c.service)];
        }),
      ]),
    );
    out.line();
    out.line(
      failed.length === 0
        ? out.style('green', `all ${rows.length} hosts ready`)
        : out.style('red', `${failed.length} of ${rows.length} hosts not ready: ${failed.map((r) => r.host).join(', ')}`),
    );
  }
  return failed.length === 0 ? ExitCode.Ok : ExitCode.BadInput;
}
