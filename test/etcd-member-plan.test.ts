/**
 * Planning an etcd member's peer URL change from the member list (facts in, step out), and where
 * rollout asks etcd: pure, no lab.
 */
import { describe, expect, it } from 'vitest';
import type { EtcdFact, HostFacts } from '../src/facts/types.js';
import type { HostSpec } from '../src/inventory/types.js';
import { planEtcdMember } from '../src/modules/etcd-member.js';
import type { TaskContext } from '../src/plan/plan.js';
import { clientEndpoints, withUrlScheme } from '../src/sensu/etcd-gateway.js';

const member = (n: number, peer: 'http' | 'https'): EtcdFact['members'][number] => ({
  id: String(1000 + n),
  name: `backend-${n}`,
  peerURLs: [`${peer}://10.0.0.${n}:2380`],
  clientURLs: [`https://10.0.0.${n}:2379`],
});

function plan(etcd: EtcdFact | undefined): { steps: ReturnType<typeof planEtcdMember>; problems: string[] } {
  const problems: string[] = [];
  const ctx = {
    id: 'etcd-peers-tls/0/backend-2',
    host: { name: 'backend-2', role: 'backend' } as HostSpec,
    facts: { host: 'backend-2', hostname: 'backend-2', files: {}, ...(etcd ? { etcd } : {}) } as unknown as HostFacts,
    phase: { name: 'etcd-peers-tls' },
    task: { name: 'Peers dial this member over https', module: 'etcd_member' },
    args: { peer_scheme: 'https' },
    problem: (m: string) => problems.push(m),
  } as unknown as TaskContext;
  return { steps: planEtcdMember(ctx), problems };
}

describe('planning etcd_member', () => {
  const cases: { name: string; etcd: EtcdFact | undefined; status?: 'change' | 'noop'; reason?: RegExp; problem?: RegExp }[] = [
    {
      name: 'http peer URL: change',
      etcd: { members: [member(1, 'https'), member(2, 'http'), member(3, 'http')], self: member(2, 'http') },
      status: 'change',
      reason: /peer URLs http:\/\/10\.0\.0\.2:2380 → https:\/\/10\.0\.0\.2:2380/,
    },
    { name: 'already https: no-op', etcd: { members: [member(2, 'https')], self: member(2, 'https') }, status: 'noop', reason: /already has peer URLs https/ },
    {
      name: 'member list unreadable: problem',
      etcd: { members: [], error: 'etcd did not answer: connection refused' },
      problem: /cannot read the etcd member list: etcd did not answer/,
    },
    { name: 'not gathered: problem', etcd: undefined, problem: /not gathered/ },
    {
      name: 'no member of that name: problem',
      etcd: { members: [member(1, 'http')] },
      problem: /no etcd member of this backend in the member list \(backend-1\)/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { steps, problems } = plan(c.etcd);
      if (c.problem) {
        expect(steps).toEqual([]);
        expect(problems.join('\n')).toMatch(c.problem);
        return;
      }
      expect(problems).toEqual([]);
      expect(steps[0]?.status).toBe(c.status);
      expect(steps[0]?.reason).toMatch(c.reason ?? /./);
    });
  }

  it('asks its own member first, then the others, each on both schemes', () => {
    const { steps } = plan({ members: [member(1, 'http'), member(2, 'http'), member(3, 'http')], self: member(2, 'http') });
    expect(steps[0]?.endpoints.map((e) => `${e.scheme}://${e.address}:${e.port}`)).toEqual([
      'https://10.0.0.2:2379',
      'http://10.0.0.2:2379',
      'https://10.0.0.1:2379',
      'http://10.0.0.1:2379',
      'https://10.0.0.3:2379',
      'http://10.0.0.3:2379',
    ]);
    expect([steps[0]?.memberId, steps[0]?.before, steps[0]?.after]).toEqual(['1002', ['http://10.0.0.2:2380'], ['https://10.0.0.2:2380']]);
  });
});

describe('etcd endpoints', () => {
  it('dials a wildcard or localhost listener on loopback, keeps the port, tries its scheme first', () => {
    expect(clientEndpoints('http://0.0.0.0:2379,http://10.0.0.1:2379')).toEqual([
      { address: '127.0.0.1', port: 2379, scheme: 'http' },
      { address: '127.0.0.1', port: 2379, scheme: 'https' },
    ]);
    expect(clientEndpoints('https://localhost:12379')[0]).toEqual({ address: '127.0.0.1', port: 12379, scheme: 'https' });
    expect(clientEndpoints('')[0]).toEqual({ address: '127.0.0.1', port: 2379, scheme: 'http' });
  });

  it('switches schemes and nothing else', () => {
    expect(withUrlScheme(['http://a:2380', 'HTTP://b:2380', 'https://c:2380'], 'https')).toEqual(['https://a:2380', 'https://b:2380', 'https://c:2380']);
  });
});
