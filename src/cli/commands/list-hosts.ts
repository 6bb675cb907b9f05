/**
 * `--list-hosts`, as in ansible-playbook: the hosts the inventory and --limit select, with their
 * role and address, and nothing else: no connection is made.
 */
import { ExitCode, InputError } from '../../errors.js';
import { loadFleet, type FleetFlags } from '../context.js';
import { table, type Output } from '../output.js';

/** Prints the selected hosts; returns the exit code. */
export async function listHosts(flags: FleetFlags & { json?: boolean }, out: Output): Promise<number> {
  if (flags.json)
    throw new InputError('--list-hosts prints a list for people, not JSON', [], { hint: 'drop --json, or use `rollout check --json` for hosts as JSON' });
  const fleet = await loadFleet({ ...flags, askBecomePass: false }, out);
  for (const w of fleet.inventory.warnings) out.note(out.style('yellow', `warning: ${w}`));
  out.line(`hosts (${fleet.hosts.length}):`);
  out.line(table(fleet.hosts.map((h) => [`  ${h.name}`, h.role, `${h.address}:${h.port}`])));
  return ExitCode.Ok;
}
