/**
 * `rollout rollback`: undo the last run of this fleet from its journal, even when the process that
 * made it was killed mid-wave: files back from their on-host backups (byte-identical, owner and
 * mode kept), created files removed, services restarted, fleet verified on its old settings.
 */
import { readFile } from 'node:fs/promises';
import { ExitCode, InputError, RollbackFailedError } from '../../errors.js';
import { changesOf, fleetStateDir, lastRun, Journal } from '../../execute/journal.js';
import { lockFleet } from '../../execute/lock.js';
import { rollback, type ProbeTarget } from '../../execute/rollback.js';
import type { HostSpec } from '../../inventory/types.js';
import { readSettings } from '../../facts/fleet-status.js';
import { endpointsOf } from '../../sensu/host-config.js';
import { closeAll, connectAll } from '../../transport/pool.js';
import type { Transport } from '../../transport/transport.js';
import { askYesNo, canPrompt } from '../../ui/prompts.js';
import { renderUndo, undoByHost } from '../../ui/rollback-view.js';
import { loadFleet, type FleetFlags } from '../context.js';
import { table, type Output } from '../output.js';

/**
 * Where a host is verified once its files are back: its config and environment file read as the
 * restored service reads them (one command), Sensu's defaults when they cannot be read.
 */
async function verifyTargetOf(host: HostSpec, t: Transport | undefined): Promise<ProbeTarget> {
  const settings = t
    ? await readSettings(host, t).then(
        (r) => r.settings,
        () => undefined,
      )
    : undefined;
  const at = endpointsOf(settings ?? {}, host.role);
  return host.role === 'backend' ? { host, apiPort: at.apiPort } : { host, apiPort: at.agentApiPort, agentApiHost: at.agentApiHost };
}

/** Options of `rollout rollback`. */
export interface RollbackFlags extends FleetFlags {
  json?: boolean;
  /** Do not ask before rolling back (needed without a terminal), as `secure --yes`. */
  yes?: boolean;
  /** `--force-unlock`: take the fleet lock whoever holds it. */
  forceUnlock?: boolean;
}

/** Runs `rollout rollback`; returns the exit code or throws. */
export async function runRollback(flags: RollbackFlags, out: Output): Promise<number> {
  const fleet = await loadFleet(flags, out);
  for (const w of fleet.inventory.warnings) out.note(out.style('yellow', `warning: ${w}`));
  const dir = fleetStateDir(fleet.inventory.file);
  const lock = lockFleet(dir, 'rollback', { force: flags.forceUnlock === true });
  try {
    const last = lastRun(dir);
    // Nothing to do is said in words, or under --json as the document's message.
    const nothing = (runId: string | null, message: string): number => {
      if (flags.json) out.json('rollback', { runId, rolledBack: false, message });
      else out.line(message);
      return ExitCode.Ok;
    };
    if (!last) return nothing(null, `no run of ${flags.inventory} is recorded: nothing to roll back`);
    const ended = last.entries.filter((e) => e.type === 'rolled-back');
    if (ended.length > 0) return nothing(last.runId, `the last run (${last.runId}) was already rolled back: nothing to do`);
    const changes = changesOf(last.entries);
    if (changes.length === 0) return nothing(last.runId, `the last run (${last.runId}) changed nothing: nothing to roll back`);
    const names = new Set(changes.map((c) => c.host));
    const missing = [...names].filter((n) => !fleet.inventory.hosts.some((h) => h.name === n));
    if (missing.length > 0)
      throw new InputError(`the last run changed hosts this inventory does not list: ${missing.join(', ')}`, [], {
        hint: 'use the inventory the run was made with',
      });
    const hosts = fleet.inventory.hosts.filter((h) => names.has(h.name) || fleet.hosts.includes(h));
    // Undoing restarts services across the fleet: shown and confirmed like secure's plan.
    const undo = undoByHost(changes);
    if (flags.json) out.json('rollback', { runId: last.runId, rolledBack: false, undo });
    else for (const line of renderUndo(last.runId, undo)) out.line(line);
    if (!flags.yes) {
      // A question would land in the middle of the JSON on stdout.
      if (flags.json) throw new InputError('--json does not ask, and --yes not given: nothing was rolled back', [], { hint: 'add --yes' });
      if (!canPrompt())
        throw new InputError('no terminal to confirm on, and --yes not given: nothing was rolled back', [], {
          hint: 'run it from a terminal to be asked, or add --yes',
        });
      if (!(await askYesNo(`Roll back run ${last.runId} on ${names.size} host(s)?`, false))) {
        out.note('nothing rolled back');
        return ExitCode.Ok;
      }
    }
    out.note(`rolling back run ${last.runId}: ${changes.length} change(s) on ${names.size} host(s)`);
    const connections = await connectAll(hosts, fleet.open, { forks: flags.forks });
    try {
      const transports = new Map(connections.filter((c) => c.transport).map((c) => [c.host, c.transport as Transport]));
      const ca = hosts.find((h) => h.sensu.caFile)?.sensu.caFile;
      const results = await rollback({
        changes,
        transports,
        // Read after the restore: a half-written config of the killed run must not decide where to probe.
        targets: () => Promise.all(hosts.map((h) => verifyTargetOf(h, transports.get(h.name)))),
        ca: ca ? await readFile(ca, 'utf8') : undefined,
        forks: flags.forks,
        progress: (line) => out.note(line),
      });
      const bad = results.filter((r) => !r.ok);
      for (const r of results) out.trace.record({ type: 'rollback', host: r.host, ok: r.ok, state: r.state });
      const journal = new Journal(dir, last.runId);
      journal.append({ type: bad.length === 0 ? 'rolled-back' : 'rollback-failed', runId: last.runId, at: new Date().toISOString() });
      journal.close();
      if (flags.json) out.json('rollback', { runId: last.runId, rolledBack: bad.length === 0, hosts: results });
      else out.line(table([['HOST', 'STATE'], ...results.map((r) => [r.host, r.ok ? out.style('green', r.state) : out.style('red', r.state)])]));
      if (bad.length > 0)
        throw new RollbackFailedError(`rollback incomplete on ${bad.map((r) => r.host).join(', ')}`, {
          hint: 'fix the hosts named (their backups are under /etc/sensu/.rollout-backups/), then run rollout rollback again',
        });
      if (!flags.json) out.line(out.style('green', `run ${last.runId} rolled back; every host verified healthy`));
      return ExitCode.Ok;
    } finally {
      await closeAll(connections);
    }
  } finally {
    lock.release();
  }
}
