/**
 * Step mode's skip rules (src/execute/step-policy.ts), case by case on a small plan shaped like
 * the secure playbook: one backend and one agent, distribute then the tls wave.
 */
import { describe, expect, it } from 'vitest';
import { skipRule, type StepProgress } from '../src/execute/step-policy.js';
import type { DirStep, FileStep, GateStep, PhasePlan, Plan, RestartStep, Step } from '../src/plan/types.js';

const own = { mode: 0o644, owner: 'sensu', group: 'sensu' };
const base = (id: string, host: string, task: string, module: string): Pick<Step, 'id' | 'host' | 'phase' | 'task' | 'module' | 'status'> => ({
  id,
  host,
  phase: id.split('/')[0] ?? '',
  task,
  module,
  status: 'change',
});

function dir(id: string, host: string, exists: boolean): DirStep {
  return {
    ...base(id, host, 'Create /etc/sensu/tls', 'directory'),
    kind: 'dir',
    path: '/etc/sensu/tls',
    before: { exists, ...(exists ? { mode: 0o755, owner: 'root', group: 'root' } : {}) },
    after: { ...own, mode: 0o750 },
  };
}

function file(
  id: string,
  host: string,
  task: string,
  path: string,
  options: { before?: string; after?: string; text?: string; module?: string } = {},
): FileStep {
  return {
    ...base(id, host, task, options.module ?? 'copy'),
    kind: 'file',
    path,
    before: options.before ? { exists: true, sha256: options.before, mode: 0o600, owner: 'root', group: 'root' } : { exists: false },
    after: { exists: true, sha256: options.after ?? 'new', ...own, ...(options.text ? { text: options.text } : {}) },
    secret: false,
  };
}

function restart(id: string, host: string, after: string[]): RestartStep {
  return { ...base(id, host, 'Restart', 'service'), kind: 'restart', unit: 'sensu-backend', after };
}

function gate(id: string, host: string, after: string[]): GateStep {
  return {
    ...base(id, host, 'Healthy', 'backend_health'),
    kind: 'gate',
    gate: 'backend_health',
    after,
    tls: true,
    timeoutMs: 1000,
    probe: { address: '127.0.0.1', port: 8080, scheme: 'https' },
  };
}

const backendYml = 'api-url: "https://b1:8080"\ncert-file: "/etc/sensu/tls/b1.pem"\ntrusted-ca-file: "/etc/sensu/tls/ca.pem"\n';
const agentYml = 'backend-url:\n  - "wss://b1:8081"\ntrusted-ca-file: "/etc/sensu/tls/ca.pem"\n';

const steps = {
  dirB: dir('distribute/0/b1', 'b1', false),
  dirA: dir('distribute/0/a1', 'a1', true),
  caB: file('distribute/1/b1', 'b1', 'Upload the CA', '/etc/sensu/tls/ca.pem'),
  caA: file('distribute/1/a1', 'a1', 'Upload the CA', '/etc/sensu/tls/ca.pem', { before: 'same', after: 'same' }),
  extraA: file('distribute/2/a1', 'a1', 'Upload a note', '/etc/sensu/tls/README'),
  cfgB: file('backends-tls/0/b1', 'b1', 'Point the backend at its certificate', '/etc/sensu/backend.yml', {
    before: 'old',
    text: backendYml,
    module: 'sensu_config',
  }),
  restartB: restart('backends-tls/1/b1', 'b1', ['backends-tls/0/b1']),
  gateB: gate('backends-tls/2/b1', 'b1', ['backends-tls/1/b1']),
  cfgA: file('agents-wss/0/a1', 'a1', 'Switch the agent to wss://', '/etc/sensu/agent.yml', { before: 'old', text: agentYml, module: 'sensu_config' }),
};

const phases: PhasePlan[] = [
  { name: 'distribute', description: '', batches: [{ hosts: ['b1', 'a1'], steps: [steps.dirB, steps.caB, steps.dirA, steps.caA, steps.extraA] }] },
  { name: 'backends-tls', description: '', wave: 'tls', batches: [{ hosts: ['b1'], steps: [steps.cfgB, steps.restartB, steps.gateB] }] },
  { name: 'agents-wss', description: '', wave: 'tls', batches: [{ hosts: ['a1'], steps: [steps.cfgA] }] },
];
const plan: Plan = { playbook: 'secure', phases, problems: [], changedHosts: ['b1', 'a1'], changes: 8, leftBehind: [], notes: [] };
const [distribute, backends, agents] = phases as [PhasePlan, PhasePlan, PhasePlan];

function progress(applied: Step[] = [], more: Partial<StepProgress> = {}): StepProgress {
  return {
    applied: new Set(applied.map((s) => s.id)),
    skipped: new Set(),
    skippedWaves: new Set(),
    roleOf: (h) => (h.startsWith('b') ? 'backend' : 'agent'),
    ...more,
  };
}

describe('step mode: what "no" may skip', () => {
  it('refuses a directory that later uploads go into; allows one that only changes mode', () => {
    const r = skipRule(plan, distribute, [steps.dirB, steps.dirA], progress());
    expect(r).toEqual({ allowed: false, why: expect.stringContaining('"Upload the CA" on b1 writes into /etc/sensu/tls') as unknown });
    expect(skipRule(plan, distribute, [steps.dirA], progress())).toEqual({ allowed: true });
  });

  it('refuses a CA the wave will point at; allows it when the same content is already there, or nothing reads the file', () => {
    const r = skipRule(plan, distribute, [steps.caB, steps.caA], progress([steps.dirB]));
    expect(r.allowed).toBe(false);
    expect(!r.allowed && r.why).toContain('"Point the backend at its certificate" on b1 points at /etc/sensu/tls/ca.pem');
    expect(skipRule(plan, distribute, [steps.caA], progress())).toEqual({ allowed: true });
    expect(skipRule(plan, distribute, [steps.extraA], progress())).toEqual({ allowed: true });
  });

  it('allows the CA once the wave that reads it was skipped', () => {
    expect(skipRule(plan, distribute, [steps.caB], progress([], { skippedWaves: new Set(['tls']) }))).toEqual({ allowed: true });
  });

  it('lets the first task of a wave skip the whole wave, and nothing of it once it changed anything', () => {
    const first = skipRule(plan, backends, [steps.cfgB], progress([steps.dirB, steps.caB]));
    expect(first).toMatchObject({ allowed: true, wave: 'tls' });
    expect(first.allowed && first.means).toContain('the whole tls wave (backends-tls, agents-wss)');
    const agentsAfter = skipRule(plan, agents, [steps.cfgA], progress([steps.cfgB, steps.restartB]));
    expect(agentsAfter.allowed).toBe(false);
    expect(!agentsAfter.allowed && agentsAfter.why).toContain('the tls wave has started (b1 changed)');
    expect(!agentsAfter.allowed && agentsAfter.why).toContain('these agents would stay on ws://');
  });

  it('refuses a restart once its configuration is written, and never skips a gate', () => {
    const r = skipRule(plan, backends, [steps.restartB], progress([steps.cfgB]));
    expect(!r.allowed && r.why).toContain('the new configuration of b1 is already written');
    expect(skipRule(plan, backends, [steps.gateB], progress([steps.cfgB, steps.restartB])).allowed).toBe(false);
  });
});
