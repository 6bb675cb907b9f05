/**
 * Rollback: every file the run changed goes back to what it was (byte-identical, same owner and
 * mode; files the run created are removed), the services that read them are restarted, and the
 * fleet is verified healthy on its old settings. Agents that were cut off while the backends were
 * on TLS are restarted too, so none sits in a two-minute retry backoff.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { agentHealthz, backendHealth } from '../facts/health.js';
import type { HostSpec } from '../inventory/types.js';
import { forEachLimited } from '../transport/pool.js';
import type { Transport } from '../transport/transport.js';
import { restartUnit, undoChange } from './apply.js';
import type { JournalChange } from './journal.js';

/** Where a host's Sensu can be probed on its old settings. */
export interface ProbeTarget {
  host: HostSpec;
  /** Backends: API port. Agents: API host and port on the host. */
  apiPort: number;
  agentApiHost?: string;
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
  while (Date.now() < end) {
    for (const scheme of ['http', 'https'] as const) {
      const h = await backendHealth(target.host.address, target.apiPort, scheme, { ...(ca ? { ca } : {}), timeoutMs: 3000 });
      detail = `${scheme} /health: ${h.detail}`;
      if (h.ok) return { ok: true, detail };
      if (!h.detail.includes('serves TLS')) break;
    }
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
}): Promise<RollbackHostResult[]> {
  const say = options.progress ?? (() => undefined);
  const deadline = options.deadlineMs ?? 120_000;
  const results = new Map<string, RollbackHostResult>();
  const byHost = new Map<string, JournalChange[]>();
  for (const c of options.changes) byHost.set(c.host, [...(byHost.get(c.host) ?? []), c]);

  // 1. Files back, newest change first.
  await forEachLimited([...byHost.entries()], options.forks, async ([host, changes]) => {
    const t = options.transports.get(host);
    if (!t) {
      results.set(host, { host, ok: false, state: 'not reachable: its changes were NOT undone' });
      return;
    }
    const problems: string[] = [];
    for (const c of [...changes].reverse()) {
      const p = await undoChange(c, t).catch((err: Error) => err.message);
      if (p) problems.push(p);
    }
    if (problems.length > 0) results.set(host, { host, ok: false, state: `files not restored: ${problems.join('; ')}` });
  });
  say(`restored files on ${byHost.size} host(s)`);
  const targets = typeof options.targets === 'function' ? await options.targets() : options.targets;

  // 2. Restart what read the changed files: backends before agents, so agents find them.
  const unitsOf = (host: string): string[] => [...new Set((byHost.get(host) ?? []).map((c) => c.unit).filter((u): u is string => u !== undefined))];
  for (const role of ['backend', 'agent'] as const) {
    const hosts = targets.filter((t) => t.host.role === role && unitsOf(t.host.name).length > 0 && !results.has(t.host.name));
    await forEachLimited(hosts, options.forks, async (target) => {
      const t = options.transports.get(target.host.name);
      if (!t) return;
      for (const unit of unitsOf(target.host.name)) {
        await restartUnit(t, unit).catch((err: Error) => results.set(target.host.name, { host: target.host.name, ok: false, state: `restored, but ${err.message}` }));
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
