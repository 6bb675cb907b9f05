/**
 * Doing and undoing an etcd member's peer URL change (`member update`), journaled before it is
 * made like every file change. The update is raft-committed: it takes effect on every member at
 * once, so the member itself must then restart listening where its peers now dial (the next step).
 */
import { RemoteCommandError } from '../errors.js';
import { etcdTlsMaterial } from '../facts/etcd-members.js';
import type { HostSpec } from '../inventory/types.js';
import type { EtcdMemberStep } from '../plan/types.js';
import { memberUpdate } from '../sensu/etcd-gateway.js';
import type { Transport } from '../transport/transport.js';
import type { Journal, JournalChange } from './journal.js';

/** Updates the member's peer URLs through its own host's SSH connection. */
export async function applyEtcdMember(step: EtcdMemberStep, ctx: { transport: Transport; journal: Journal; host: HostSpec }): Promise<void> {
  const { member, memberId, before, after, endpoints } = step;
  ctx.journal.append({
    type: 'change',
    stepId: step.id,
    host: step.host,
    path: `etcd member ${member}`,
    action: 'etcd-member-updated',
    unit: 'sensu-backend',
    etcd: { member, memberId, before, after, endpoints },
  });
  const members = await memberUpdate((a, p) => ctx.transport.forward(a, p), endpoints, await etcdTlsMaterial(ctx.host), memberId, after);
  const now = members.find((m) => m.id === memberId);
  if (now && now.peerURLs.join(',') !== after.join(',')) {
    throw new RemoteCommandError(`${step.host}: etcd member ${member} still has peer URLs ${now.peerURLs.join(',')} after the update`, {
      place: { host: step.host },
    });
  }
  ctx.journal.append({ type: 'done', stepId: step.id, host: step.host });
}

/**
 * Puts the member's peer URLs back. Asked through any backend's connection that works, since the
 * member's own host may be the one that failed; a quorum of the others is enough.
 * @returns a problem line, or undefined when done.
 */
export async function undoEtcdMember(
  change: JournalChange,
  transports: ReadonlyMap<string, Transport>,
  hostOf: (name: string) => HostSpec | undefined,
): Promise<string | undefined> {
  const e = change.etcd;
  if (!e) return `${change.path}: no member recorded`;
  const order = [change.host, ...[...transports.keys()].filter((h) => h !== change.host && hostOf(h)?.role === 'backend')];
  const errors: string[] = [];
  for (const name of order) {
    const t = transports.get(name);
    const host = hostOf(name);
    if (!t || !host) continue;
    try {
      await memberUpdate((a, p) => t.forward(a, p), e.endpoints, await etcdTlsMaterial(host), e.memberId, e.before);
      return undefined;
    } catch (err) {
      errors.push(`via ${name}: ${(err as Error).message}`);
    }
  }
  return `${change.path}: peer URLs not put back to ${e.before.join(',')}: ${errors.join('; ') || 'no backend reachable'}`;
}
