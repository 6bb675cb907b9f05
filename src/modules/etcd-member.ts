/**
 * Planning `etcd_member`: the host's member gets peer URLs with the new scheme in the cluster's
 * member list. Plans on the member list gathered from the cluster (facts), not on backend.yml: its
 * `etcd-initial-*` keys are ignored once the member has data, so only the list says what peers dial.
 */
import { clientEndpoints, withUrlScheme } from '../sensu/etcd-urls.js';
import { z } from 'zod';
import type { TaskContext } from '../plan/plan.js';
import type { EtcdMemberStep } from '../plan/types.js';
import { stepBase, type PlaybookModule } from './module.js';

/**
 * The host's etcd member gets peer URLs with this scheme in the cluster's member list (`member
 * update`, raft-committed): what its peers dial from then on. Backends only.
 */
export const etcdMember: PlaybookModule = {
  args: z.object({ peer_scheme: z.enum(['https']) }).strict(),
  plan: (ctx) => planEtcdMember(ctx),
};

/** Plans one member's peer URL change, or says why there is none. */
export function planEtcdMember(ctx: TaskContext): EtcdMemberStep[] {
  const { peer_scheme: scheme } = ctx.args as { peer_scheme: 'https' };
  const etcd = ctx.facts.etcd;
  if (ctx.host.role !== 'backend') return [];
  if (!etcd || etcd.error !== undefined) {
    ctx.problem(
      `cannot read the etcd member list: ${etcd?.error ?? 'not gathered'}`,
      'check that the backend and its embedded etcd are up (systemctl status sensu-backend)',
    );
    return [];
  }
  const self = etcd.self;
  if (!self) {
    ctx.problem(
      `no etcd member of this backend in the member list (${etcd.members.map((m) => m.name).join(', ') || 'empty'})`,
      'check etcd-name in backend.yml: it must match the member name etcd knows',
    );
    return [];
  }
  const after = withUrlScheme(self.peerURLs, scheme);
  const base = {
    ...stepBase(ctx),
    kind: 'etcd_member' as const,
    member: self.name,
    memberId: self.id,
    before: [...self.peerURLs],
    after,
    // Its own port first: answering proves the member is up; the others' for an undo while it is down.
    endpoints: [self, ...etcd.members.filter((m) => m.id !== self.id)].flatMap((m) => clientEndpoints(m.clientURLs.join(','))),
  };
  if (after.join(',') === self.peerURLs.join(',')) return [{ ...base, status: 'noop', reason: `member ${self.name} already has peer URLs ${after.join(',')}` }];
  return [{ ...base, status: 'change', reason: `member ${self.name}: peer URLs ${self.peerURLs.join(',')} → ${after.join(',')}` }];
}
