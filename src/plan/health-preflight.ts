/**
 * Preflight's verdict on the hosts as they are: which stop the run, which agents it may leave out
 * (`--max-unreachable`), and which agents it switches although they are not connected now. Pure:
 * facts in, verdict out.
 *
 * Backends are never optional: one unreachable or unhealthy stops the run. An agent that cannot be
 * reached, or whose sensu-agent is not running, may be left out up to the bound; past it, every
 * one of them is a problem as before. An agent that runs but holds no connection because it dials
 * ws:// while its backends serve TLS (cut off by an earlier run that left it behind) is healthy
 * enough to switch: its gate after the switch proves it.
 */
import type { HealthFact, HostFacts } from '../facts/types.js';
import type { HostSpec } from '../inventory/types.js';
import { agentIdentity } from '../sensu/agent-identity.js';
import { backendUrlTarget } from '../sensu/urls.js';
import type { BatchSize, LeftBehind, PlanProblem } from './types.js';

/** A host that could not be reached at all (connection refused, no route, timed out). */
export interface Unreachable {
  host: string;
  message: string;
  fix?: string;
}

/** What preflight decided about the hosts' reachability and health. */
export interface HealthVerdict {
  problems: PlanProblem[];
  leftBehind: LeftBehind[];
  notes: string[];
}

/** A bound on agents (`--max-unreachable`, `--max-fail-percentage`) as a count of `agents`: a percentage rounds down. */
export function allowedOf(bound: BatchSize | undefined, agents: number): number {
  if (!bound) return 0;
  return 'count' in bound ? bound.count : Math.floor((agents * bound.percent) / 100);
}

function unhealthy(host: HostSpec, health: HealthFact): PlanProblem {
  return {
    host: host.name,
    message: `is not healthy before the run (${health.detail}): a gate could not tell a failed change from this`,
    fix:
      host.role === 'backend'
        ? 'bring the backend back first (systemctl status sensu-backend)'
        : 'bring the agent back first (systemctl status sensu-agent), or take the host out of the inventory',
  };
}

/** Whether the agent dials only ws:// (so it is cut off from backends that serve TLS). */
function dialsPlain(host: HostSpec, facts: HostFacts): boolean {
  try {
    const urls = agentIdentity(host, facts).backendUrls;
    return urls.length > 0 && urls.every((u) => backendUrlTarget(u)?.scheme === 'ws');
  } catch {
    return false; // its config's own problem is reported by its steps
  }
}

/** Decides, in inventory order, what each unreachable or unhealthy host means for the run. */
export function healthVerdict(input: {
  hosts: readonly HostSpec[];
  facts: ReadonlyMap<string, HostFacts>;
  unreachable: readonly Unreachable[];
  maxUnreachable?: BatchSize;
}): HealthVerdict {
  const problems: PlanProblem[] = [];
  const notes: string[] = [];
  const candidates: (LeftBehind & { problem: PlanProblem })[] = [];
  const backends = input.hosts.filter((h) => h.role === 'backend');
  // Backends already on TLS (or none in this run: a retry of agents alone): an agent on ws:// is cut off, not sick.
  const backendsOnTls = backends.every((b) => input.facts.get(b.name)?.health?.scheme === 'https');
  for (const host of input.hosts) {
    const down = input.unreachable.find((u) => u.host === host.name);
    const facts = input.facts.get(host.name);
    const leavable = host.role === 'agent';
    if (down) {
      const problem = { host: host.name, message: down.message, ...(down.fix ? { fix: down.fix } : {}) };
      // "(127.0.0.5:22): connection refused" reads better as "unreachable at 127.0.0.5:22: connection refused".
      if (leavable)
        candidates.push({
          host: host.name,
          reason: `unreachable${down.message.replace(/^\(([^)]*)\):/, ' at $1:').replace(/^(?! at )/, ': ')}`,
          stage: 'preflight',
          problem,
        });
      else problems.push(problem);
      continue;
    }
    const health = facts?.health;
    // An unreadable config is the plan's to report, with its fix: one line, not two.
    if (!facts || !health || health.ok || health.detail.startsWith('config unreadable')) continue;
    if (leavable && health.agent === 'down') {
      candidates.push({
        host: host.name,
        reason: `sensu-agent is not running (${health.detail.replace(`${host.name}: `, '')})`,
        stage: 'preflight',
        problem: unhealthy(host, health),
      });
      continue;
    }
    if (leavable && health.agent === 'disconnected' && backendsOnTls && dialsPlain(host, facts)) {
      notes.push(`${host.name}: not connected now (it dials ws:// and the backends serve TLS): switched like the others, its gate proves it`);
      continue;
    }
    problems.push(unhealthy(host, health));
  }
  const agents = input.hosts.filter((h) => h.role === 'agent').length;
  const allowed = allowedOf(input.maxUnreachable, agents);
  if (candidates.length > 0 && candidates.length <= allowed) {
    return { problems, leftBehind: candidates.map((c) => ({ host: c.host, reason: c.reason, stage: c.stage })), notes };
  }
  for (const c of candidates) {
    problems.push({
      ...c.problem,
      fix: `${c.problem.fix ?? 'bring it back'}; or leave such agents for a later run with --max-unreachable (${candidates.length} now, ${allowed} allowed)`,
    });
  }
  // Problems are listed in the inventory's order.
  const order = new Map(input.hosts.map((h, i) => [h.name, i]));
  problems.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
  return { problems, leftBehind: [], notes };
}
