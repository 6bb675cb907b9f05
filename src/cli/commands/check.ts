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
import { table, type Output } from '../output.js';

/** One host's answers. */
export interface CheckRow {
  host: string;
  role: string;
  address: string;
  ssh: string;
  sudo: string;
  config: string;
  service: string;
  ok: boolean;
}

async function probe(host: HostSpec, t: Transport): Promise<Omit<CheckRow, 'host' | 'role' | 'address' | 'ssh'>> {
  const unit = host.role === 'backend' ? 'sensu-backend' : 'sensu-agent';
  const config = host.role === 'backend' ? host.sensu.backendConfig : host.sensu.agentConfig;
  // One command for everything: round trips are what a fleet run pays for.
  const script = `echo "user=$(id -un)"; if [ -f ${quote(config)} ]; then echo config=yes; else echo config=no; fi; echo "service=$(systemctl is-active ${unit} 2>/dev/null)"`;
  try {
    const r = await t.run(script, { sudo: true });
    const out = r.stdout.toString();
    const field = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1] ?? '';
    const sudoOk = field('user') === 'root';
    const configOk = field('config') === 'yes';
    const service = field('service') || 'unknown';
    return { sudo: sudoOk ? 'ok' : 'no', config: configOk ? config : `missing ${config}`, service, ok: sudoOk && configOk && service === 'active' };
  } catch (err) {
    return { sudo: `no: ${(err as Error).message.replace(`${host.name}: `, '')}`, config: '?', service: '?', ok: false };
  }
}

/** Runs the check; returns the exit code. */
export async function runCheck(flags: FleetFlags & { json?: boolean }, out: Output): Promise<number> {
  const fleet = await loadFleet(flags);
  for (const w of fleet.inventory.warnings) out.note(out.style('yellow', `warning: ${w}`));
  const rows = await withConnections(fleet.hosts, fleet.open, { forks: flags.forks }, async (connections) =>
    forEachLimited(connections, flags.forks, async (c): Promise<CheckRow> => {
      const host = fleet.hosts.find((h) => h.name === c.host) as HostSpec;
      const base = { host: host.name, role: host.role, address: `${host.address}:${host.port}` };
      if (!c.transport) return { ...base, ssh: `no: ${c.error.message.replace(`${host.name} `, '').replace(`${host.name}: `, '')}`, sudo: '-', config: '-', service: '-', ok: false, ...(c.error.hint ? {} : {}) };
      return { ...base, ssh: 'ok', ...(await probe(host, c.transport)) };
    }),
  );
  const failed = rows.filter((r) => !r.ok);
  if (flags.json) {
    out.line(JSON.stringify({ hosts: rows, ok: failed.length === 0 }, null, 2));
  } else {
    const mark = (v: string): string => (v === 'ok' || v === 'active' || v.startsWith('/') ? out.style('green', v) : v === '-' ? v : out.style('red', v));
    out.line(table([['HOST', 'ROLE', 'ADDRESS', 'SSH', 'SUDO', 'CONFIG', 'SERVICE'], ...rows.map((r) => [r.host, r.role, r.address, mark(r.ssh), mark(r.sudo), mark(r.config), mark(r.service)])]));
    out.line();
    out.line(failed.length === 0 ? out.style('green', `all ${rows.length} hosts ready`) : out.style('red', `${failed.length} of ${rows.length} hosts not ready: ${failed.map((r) => r.host).join(', ')}`));
  }
  return failed.length === 0 ? ExitCode.Ok : ExitCode.BadInput;
}
