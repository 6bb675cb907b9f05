/**
 * Rollback: every file the run changed goes back to what it was (byte-identical, same owner and
 * mode; files the run created are removed), the services that read them are restarted, and the
 * fleet is verified healthy on its old settings. Agents that were cut off while the backends were
 * on TLS are restarted too, so none sits in a two-minute retry backoff.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectError } from '../errors.js';
import { agentHealthz, backendHealth } from '../facts/health.js';
import type { HostSpec } from '../inventory/types.js';
import { forEachLimited } from '../transport/pool.js';
import type { Transport } from '../transport/transport.js';
import { restartUnit, undoChange } from './apply.js';
import { undoEtcdMember } from './etcd-member.js';
import type { JournalChange } from './journal.js';

/** Where a host's Sensu can be probed on its old settings. */
export interface ProbeTarget {
  host: HostSpec;
  /** Backends: API port. Agents: API host and port on the host. */
  apiPort: number;
  agentApiHost?: string;
  /**
   * Agents: whether it must hold a backend connection to count as back (default true). Not for an
   * agent that was cut off before the run, nor for one put back alone on ws:// while its backends
   * serve TLS: running, with its old files, is what "as it was" means for those.
   */
  connected?: boolean;
}

/** How a host came out of the rollback. */
export interface RollbackHostResult {
  host: string;
  ok: boolean;
  /** What state the host is in, for the operator (one line). */
  state: string;
}

/** Progress callback: one line per event. */
export type RollbackProgress = (line: string) => void;

async function verifyBackend(target: ProbeTarget, ca: string | undefined, deadlineMs: number): Promise<{ ok: boolean; detail: string }> {
  const end = Date.now() + deadlineMs;
  let detail = '';
  // At least one look, however short the deadline.
  for (;;) {
    for (const scheme of ['http', 'https'] as const) {
      const h = await backendHealth(target.host.address, target.apiPort, scheme, { ...(ca ? { ca } : {}), timeoutMs: 3000 });
      detail = `${scheme} /health: ${h.detail}`;
      if (h.ok) return { ok: true, detail };
      if (!h.detail.includes('serves TLS')) break;
    }
    if (Date.now() + 1000 >= end) break;
    await sleep(1000);
  }
  return { ok: false, detail };
}

async function verifyAgent(target: ProbeTarget, transport: Transport, deadlineMs: number): Promise<{ ok: boolean; detail: string }> {
  const end = Date.now() + deadlineMs;
  let detail = '';
  while (Date.now() < end) {
    try {
      const socket = await transport.forward(target.agentApiHost ?? '127.0.0.1', target.apiPort);
      const h = await agentHealthz(socket, target.agentApiHost ?? '127.0.0.1', target.apiPort, 3000);
      detail = h.detail;
      if (h.ok) return { ok: true, detail };
      if (target.connected === false && h.status !== undefined) return { ok: true, detail: `running, not connected, as before (${detail})` };
    } catch (err) {
      detail = (err as Error).message;
    }
    await sleep(1000);
  }
  return { ok: false, detail };
}

/** Rolls back `changes` (in reverse), restarts, and verifies every host in `targets`. */
export async function rollback(options: {
  changes: readonly JournalChange[];
  transports: ReadonlyMap<string, Transport>;
  /** Where to verify each host; a function is called after the files are restored (it may read them). */
  targets: readonly ProbeTarget[] | (() => Promise<readonly ProbeTarget[]>);
  ca: string | undefined;
  forks: number;
  deadlineMs?: number;
  progress?: RollbackProgress;
  /**
   * Backends one at a time even when no etcd peer moved (a run with etcd TLS that failed earlier):
   * restoring every host's files first would delete certificates that members still on TLS need
   * for each new handshake, and restarting backends together stops a quorum of etcd members.
   */
  serialBackends?: boolean;
}): Promise<RollbackHostResult[]> {
  const say = options.progress ?? (() => undefined);
  const deadline = options.deadlineMs ?? 120_000;
  const results = new Map<string, RollbackHostResult>();
  const byHost = new Map<string, JournalChange[]>();
  for (const c of options.changes) byHost.set(c.host, [...(byHost.get(c.host) ?? []), c]);

  // A run that moved etcd peers (or asked to): backends go back one member at a time (see rollbackEtcdMembers).
  let resolved: readonly ProbeTarget[] | undefined;
  const targetsNow = async (): Promise<readonly ProbeTarget[]> =>
    (resolved ??= typeof options.targets === 'function' ? await options.targets() : options.targets);
  if (options.serialBackends === true || options.changes.some((c) => c.action === 'etcd-member-updated')) {
    const serial = await rollbackEtcdMembers(options.changes, options.transports, targetsNow, options.ca, deadline, say);
    for (const [host, r] of serial) {
      byHost.delete(host);
      if (r) results.set(host, r);
    }
  }

  // 1. Files back, newest change first.
  await forEachLimited([...byHost.entries()], options.forks, async ([host, changes]) => {
    const t = options.transports.get(host);
    if (!t) {
      results.set(host, { host, ok: false, state: 'not reachable: its changes were NOT undone' });
      return;
    }
    const problems: string[] = [];
    for (const [i, c] of [...changes].reverse().entries()) {
      try {
        const p = await undoChange(c, t);
        if (p) problems.push(p);
      } catch (err) {
        if (!(err instanceof ConnectError)) {
          problems.push((err as Error).message);
          continue;
        }
        // A host that cannot be reached keeps every change not yet undone: say so once, precisely.
        const left = changes.length - i;
        results.set(host, {
          host,
          ok: false,
          state: `not reachable (${err.message.replace(`${host}: `, '')}): ${left} change(s) NOT undone; run \`rollout rollback\` once it is back`,
        });
        return;
      }
    }
    if (problems.length > 0) results.set(host, { host, ok: false, state: `files not restored: ${problems.join('; ')}` });
  });
  say(`restored files on ${byHost.size} host(s)`);
  resolved = undefined;
  const targets = await targetsNow();

  // 2. Restart what read the changed files: backends before agents, so agents find them.
  const unitsOf = (host: string): string[] => [...new Set((byHost.get(host) ?? []).map((c) => c.unit).filter((u): u is string => u !== undefined))];
  for (const role of ['backend', 'agent'] as const) {
    const hosts = targets.filter((t) => t.host.role === role && unitsOf(t.host.name).length > 0 && !results.has(t.host.name));
    await forEachLimited(hosts, options.forks, async (target) => {
      const t = options.transports.get(target.host.name);
      if (!t) return;
      for (const unit of unitsOf(target.host.name)) {
        await restartUnit(t, unit).catch((err: Error) =>
          results.set(target.host.name, { host: target.host.name, ok: false, state: `restored, but ${err.message}` }),
        );
      }
    });
    if (hosts.length > 0) say(`restarted ${hosts.length} ${role}(s) on their old settings`);
  }

  // 3. Verify on the old settings. An agent that is still cut off gets one restart to skip its backoff.
  const backends = targets.filter((t) => t.host.role === 'backend');
  await forEachLimited(backends, options.forks, async (target) => {
    if (results.has(target.host.name)) return;
    const v = await verifyBackend(target, options.ca, deadline);
    results.set(target.host.name, { host: target.host.name, ok: v.ok, state: v.ok ? `healthy (${v.detail})` : `UNHEALTHY after rollback: ${v.detail}` });
  });
  const agents = targets.filter((t) => t.host.role === 'agent');
  await forEachLimited(agents, options.forks, async (target) => {
    if (results.has(target.host.name)) return;
    const t = options.transports.get(target.host.name);
    if (!t) {
      results.set(target.host.name, { host: target.host.name, ok: false, state: 'not reachable' });
      return;
    }
    let v = await verifyAgent(target, t, 5000);
    if (!v.ok) {
      await restartUnit(t, 'sensu-agent').catch(() => undefined);
      v = await verifyAgent(target, t, deadline);
    }
    results.set(target.host.name, { host: target.host.name, ok: v.ok, state: v.ok ? `healthy (${v.detail})` : `UNHEALTHY after rollback: ${v.detail}` });
  });
  say('verified the fleet on its old settings');
  return [...results.values()];
}

/** Until some backend's /health (http or https) reports every etcd member healthy, or the deadline. */
async function clusterHealthy(backends: readonly ProbeTarget[], ca: string | undefined, deadlineMs: number): Promise<{ ok: boolean; detail: string }> {
  const end = Date.now() + deadlineMs;
  let detail = 'no backend answered';
  while (Date.now() < end) {
    // While some members are back on plain etcd and others still on TLS, only a TLS one can check
    // every member (a plain one has no certificate to dial the others with): any backend's word counts.
    for (const target of backends) {
      const v = await verifyBackend(target, ca, 0);
      if (v.ok) return { ok: true, detail: `${target.host.name}: ${v.detail}` };
      detail = `${target.host.name}: ${v.detail}`;
    }
    await sleep(500);
  }
  return { ok: false, detail };
}

/**
 * Backends of a run that changed etcd peer URLs go back one member at a time, newest change first:
 * the member's peer URLs back in the member list, its files back, restart, then wait until the
 * cluster reports every member healthy before the next. All at once would stop every member
 * together (no quorum), and a member restarted on its old peer URLs before the list says so is
 * unreachable to its peers. Stops at the first member that does not come back: restarting another
 * then could cost the quorum. Returns each backend handled: its failure, or undefined when it
 * came back (the final verification checks it again with the others).
 */
async function rollbackEtcdMembers(
  changes: readonly JournalChange[],
  transports: ReadonlyMap<string, Transport>,
  targetsNow: () => Promise<readonly ProbeTarget[]>,
  ca: string | undefined,
  deadlineMs: number,
  say: RollbackProgress,
): Promise<Map<string, RollbackHostResult | undefined>> {
  const out = new Map<string, RollbackHostResult | undefined>();
  const targets = await targetsNow();
  const roleOf = (name: string): string | undefined => targets.find((t) => t.host.name === name)?.host.role;
  const hostOf = (name: string): HostSpec | undefined => targets.find((t) => t.host.name === name)?.host;
  // Newest last change first: the member that failed goes back before the ones migrated earlier.
  const order: string[] = [];
  for (const c of [...changes].reverse()) if (roleOf(c.host) === 'backend' && !order.includes(c.host)) order.push(c.host);
  const backends = targets.filter((t) => t.host.role === 'backend');
  let stoppedAt: string | undefined;
  for (const host of order) {
    if (stoppedAt) {
      out.set(host, { host, ok: false, state: `NOT rolled back: stopped after ${stoppedAt} did not come back, so as not to risk etcd's quorum` });
      continue;
    }
    const t = transports.get(host);
    if (!t) {
      out.set(host, { host, ok: false, state: 'not reachable: its changes were NOT undone' });
      continue;
    }
    const problems: string[] = [];
    const mine = changes.filter((c) => c.host === host).reverse();
    for (const c of mine) {
      const p = c.action === 'etcd-member-updated' ? await undoEtcdMember(c, transports, hostOf) : await undoChange(c, t).catch((err: Error) => err.message);
      if (p) problems.push(p);
    }
    if (problems.length > 0) {
      out.set(host, { host, ok: false, state: `not restored: ${problems.join('; ')}` });
      stoppedAt = host;
      continue;
    }
    for (const unit of new Set(mine.map((c) => c.unit).filter((u): u is string => u !== undefined))) {
      await restartUnit(t, unit).catch((err: Error) => problems.push(err.message));
    }
    const v = problems.length > 0 ? { ok: false, detail: problems.join('; ') } : await clusterHealthy(backends, ca, deadlineMs);
    say(`${host}: etcd member back on its old settings${v.ok ? `, cluster healthy (${v.detail})` : ''}`);
    if (!v.ok) {
      out.set(host, { host, ok: false, state: `restored, but the cluster is not healthy: ${v.detail}` });
      stoppedAt = host;
      continue;
    }
    out.set(host, undefined);
  }
  return out;
}
