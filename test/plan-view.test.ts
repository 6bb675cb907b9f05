/**
 * The plan as shown (src/ui/plan-view.ts), from plain Plan data: hosts whose changes differ only
 * by their own name and address share one section, and only then.
 */
import { describe, expect, it } from 'vitest';
import type { FileStep, GateStep, Plan, RestartStep, Step } from '../src/plan/types.js';
import { renderPlan, renderSteps } from '../src/ui/plan-view.js';

const agentYml = (name: string, address: string, scheme: string, extra = ''): string =>
  [
    `# ${name}`,
    `name: "${name}"`,
    'backend-url:',
    `  - "${scheme}://backend-1:8081"`,
    `  - "${scheme}://backend-2:8081"`,
    extra,
    `api-host: "${address}"`,
    'keepalive-interval: 20',
    '',
  ].join('\n');

function agentSteps(name: string, address: string, options: { ca?: string } = {}): Step[] {
  const base = { phase: 'agents-wss', module: 'sensu_config', status: 'change' as const, host: name };
  const config: FileStep = {
    ...base,
    id: `agents-wss/0/${name}`,
    kind: 'file',
    task: 'Switch the agent to wss://',
    path: '/etc/sensu/agent.yml',
    before: { exists: true, text: agentYml(name, address, 'ws'), sha256: 'a'.repeat(64), mode: 0o640, owner: 'root', group: 'sensu' },
    after: {
      exists: true,
      text: agentYml(name, address, 'wss', `trusted-ca-file: "${options.ca ?? '/etc/sensu/tls/ca.pem'}"`),
      sha256: 'b'.repeat(64),
      mode: 0o640,
      owner: 'root',
      group: 'sensu',
    },
    secret: false,
  };
  const restart: RestartStep = {
    ...base,
    module: 'service',
    id: `agents-wss/1/${name}`,
    kind: 'restart',
    task: 'Restart sensu-agent',
    unit: 'sensu-agent',
    after: [config.id],
  };
  const gate: GateStep = {
    ...base,
    module: 'health',
    id: `agents-wss/2/${name}`,
    kind: 'gate',
    task: 'Agent connected over wss://',
    gate: 'agent_health',
    after: [config.id],
    tls: true,
    timeoutMs: 60_000,
    probe: { address, port: 3031, scheme: 'http' },
  };
  return [config, restart, gate];
}

function planOf(steps: Step[]): Plan {
  const hosts = [...new Set(steps.map((s) => s.host))];
  return {
    playbook: 'secure',
    phases: [{ name: 'agents-wss', description: 'Agents dial wss://', wave: 'tls', batches: [{ hosts, steps }] }],
    problems: [],
    changedHosts: hosts,
    changes: steps.filter((s) => s.kind !== 'gate').length,
    leftBehind: [],
    notes: [],
  };
}

const fleet = Array.from({ length: 12 }, (_, i) => ({ name: `agent-${String(i + 1).padStart(2, '0')}`, address: `127.30.1.${i + 1}` }));
const addresses = new Map(fleet.map((h) => [h.name, h.address]));

describe('renderPlan --diff', () => {
  it('shows one diff for agents that differ only by their own name and address, and lists the others', () => {
    const out = renderPlan(planOf(fleet.flatMap((h) => agentSteps(h.name, h.address))), { diff: true, color: false, secrets: [], addresses });
    expect(out.match(/^ {4}--- /gm)).toHaveLength(1);
    expect(out).toContain('  ── agent-01 and 11 more, the same change with their own name and address:');
    expect(out).toContain('     agent-02, agent-03, agent-04,');
    expect(out).toMatch(/agent-11, agent-12\n/);
    expect(out).toContain('    --- agent-01:/etc/sensu/agent.yml');
    expect(out).toContain('    +  - "wss://backend-1:8081"');
    expect(out).toContain('    ✓ gate: Agent connected over wss:// (http://127.30.1.1:3031, up to 60 s)');
    // Every listed line fits 80 columns.
    for (const l of out.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
  });

  it('keeps a host whose change differs in anything else in a section of its own', () => {
    const steps = fleet.slice(0, 4).flatMap((h) => agentSteps(h.name, h.address, h.name === 'agent-03' ? { ca: '/etc/sensu/tls/other-ca.pem' } : {}));
    const out = renderPlan(planOf(steps), { diff: true, color: false, secrets: [], addresses });
    expect(out).toContain('  ── agent-01 and 2 more, the same change with their own name and address:\n     agent-02, agent-04\n');
    expect(out).toContain('  ── agent-03\n');
    expect(out).toContain('+trusted-ca-file: "/etc/sensu/tls/other-ca.pem"');
    expect(out.match(/^ {4}--- /gm)).toHaveLength(2);
  });

  it("is exact: each grouped host's own rendering is the first one's with its name and address put in", () => {
    const steps = fleet.slice(0, 3).flatMap((h) => agentSteps(h.name, h.address));
    const one = (name: string): string =>
      renderSteps(
        steps.filter((s) => s.host === name),
        { color: false, secrets: [] },
      );
    const first = one('agent-01');
    expect(one('agent-03')).toBe(first.replaceAll('agent-01', 'agent-03').replaceAll('127.30.1.1', '127.30.1.3'));
    // Without the addresses a host's own address still counts where its gate probes it.
    expect(renderSteps(steps, { color: false, secrets: [] })).toContain('── agent-01 and 2 more, the same change');
  });

  it('without --diff shows counts only', () => {
    const out = renderPlan(planOf(fleet.flatMap((h) => agentSteps(h.name, h.address))), { diff: false, color: false, secrets: [], addresses });
    expect(out).toContain('  Switch the agent to wss://: 12 host(s)');
    expect(out).not.toContain('──');
  });
});

describe('renderPlan with hosts never reached', () => {
  const phases = [
    { name: 'preflight', description: 'Every host reachable with sudo', batches: [{ hosts: ['agent-01', 'agent-02', 'agent-03'], steps: [] }] },
    { name: 'agents-wss', description: 'Agents dial wss://', wave: 'tls', batches: [{ hosts: ['agent-01', 'agent-02', 'agent-03'], steps: [] as Step[] }] },
  ];
  const problems = ['agent-01', 'agent-02', 'agent-03'].map((host) => ({ host, message: 'connection refused' }));

  it('with no host connected, shows no phase and claims no pass', () => {
    const out = renderPlan(
      { playbook: 'secure', phases, problems, changedHosts: [], changes: 0, leftBehind: [], notes: [] },
      { diff: true, color: false, secrets: [], addresses },
    );
    expect(out).toBe('');
  });

  it('with some connected, counts only those, and names the ones that failed preflight', () => {
    const steps = agentSteps('agent-02', '127.30.1.2');
    const some = phases.map((p) => (p.name === 'agents-wss' ? { ...p, batches: [{ hosts: p.batches[0]?.hosts ?? [], steps }] } : p));
    const out = renderPlan(
      {
        playbook: 'secure',
        phases: some,
        problems: [problems[0], problems[2], { host: 'agent-02', message: 'certificate expired' }].filter((p) => p !== undefined),
        changedHosts: ['agent-02'],
        changes: 2,
        leftBehind: [],
        notes: [],
      },
      { diff: false, color: false, secrets: [], addresses },
    );
    expect(out).not.toContain('passed on');
    expect(out).toContain('  failed on 1 host(s): agent-02');
    expect(out).toContain('  Switch the agent to wss://: 1 host(s)');
  });
});
