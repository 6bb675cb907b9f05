/**
 * The planner on real data, without a lab: a real inventory file and certificates on disk, the
 * shipped playbook, and facts built from real config texts (the lab's operator-style files, Sensu's
 * packaged agent.yml, an environment file), exactly as the facts script reports them. No casts:
 * whatever `plan()` needs, the test gives it in its real shape.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileFact, HostFacts } from '../src/facts/types.js';
import { gatherLocalFiles } from '../src/facts/gather.js';
import { loadInventory } from '../src/inventory/load.js';
import type { HostSpec } from '../src/inventory/types.js';
import { plan, type PlanInput } from '../src/plan/plan.js';
import type { FileStep, GateStep, Plan } from '../src/plan/types.js';
import { loadPlaybook } from '../src/playbook/load.js';
import { workspace, type Workspace } from './fixtures/inventory/workspace.js';
import type { LabHost } from './lab/addresses.js';
import { agentConfig, backendConfig } from './lab/configs.js';
import { writeLabPki } from './lab/pki.js';

const backends = [1, 2].map((i) => ({ name: `backend-${i}`, address: `127.90.0.${i}` }));
const agents = [1, 2, 3, 4].map((i) => ({ name: `agent-0${i}`, address: `127.90.1.${i}` }));

let ws: Workspace;
let hosts: HostSpec[];
let base: Omit<PlanInput, 'facts'>;

beforeAll(async () => {
  ws = workspace();
  await writeLabPki(`${ws.dir}/pki`, [...backends, ...agents]);
  const hostLines = (list: { name: string; address: string }[]): string =>
    list
      .map(
        (h) =>
          `        ${h.name}:\n          ansible_host: ${h.address}\n          sensu_cert_file: pki/${h.name}.pem\n          sensu_key_file: pki/${h.name}.key\n`,
      )
      .join('');
  const file = ws.write(
    'prod.yml',
    `all:\n  vars:\n    ansible_user: ops\n    sensu_ca_file: pki/ca.pem\n    sensu_api_user: admin\n    sensu_api_password: not-a-real-one\n  children:\n    backends:\n      hosts:\n${hostLines(backends)}    agents:\n      hosts:\n${hostLines(agents)}`,
  );
  const inventory = await loadInventory(file);
  hosts = inventory.hosts;
  base = { hosts, allHosts: hosts, playbook: await loadPlaybook('secure'), local: await gatherLocalFiles(hosts), preflight: [], forks: 2 };
});
afterAll(() => ws.remove());

/** A file as the facts script reports it: root's, group sensu, 0640, with its hash and text. */
function file(path: string, text: string): FileFact {
  return {
    path,
    exists: true,
    kind: 'file',
    mode: 0o640,
    owner: 'root',
    group: 'sensu',
    size: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
    text,
  };
}

/** A host's facts: its config (and any other file), its unit running, healthy as its role reports it. */
function factsOf(
  host: HostSpec,
  files: Record<string, string>,
  health: HostFacts['health'] = host.role === 'backend'
    ? { ok: true, scheme: 'http', detail: 'ok', webUi: true }
    : { ok: true, detail: '/healthz 200 ok', agent: 'connected' },
): HostFacts {
  const unit = host.role === 'backend' ? 'sensu-backend' : 'sensu-agent';
  return {
    host: host.name,
    hostname: host.name,
    files: Object.fromEntries(Object.entries(files).map(([p, t]) => [p, file(p, t)])),
    service: { unit, exists: true, activeState: 'active', subState: 'running', mainPid: 100, nRestarts: 0 },
    health,
  };
}

const labHost = (h: { name: string; address: string }, role: 'backend' | 'agent'): LabHost => ({ name: h.name, address: h.address, role });
const labBackends = backends.map((b) => labHost(b, 'backend'));

function fleetFacts(agentFiles: (name: string) => Record<string, string>): Map<string, HostFacts> {
  return new Map(
    hosts.map((h) => [
      h.name,
      factsOf(h, h.role === 'backend' ? { '/etc/sensu/backend.yml': backendConfig(labHost(h, 'backend'), labBackends) } : agentFiles(h.name)),
    ]),
  );
}

const stepsOf = (p: Plan): FileStep[] => p.phases.flatMap((ph) => ph.batches.flatMap((b) => b.steps)).filter((s): s is FileStep => s.kind === 'file');
const agentYaml = (name: string): string => agentConfig(labHost(agents.find((a) => a.name === name) ?? { name, address: '' }, 'agent'), labBackends);

describe('plan() on real configs', () => {
  it('an unsecured fleet: backends get their certificates and https, agents wss:// in their YAML, in lockstep, each gated', () => {
    const p = plan({ ...base, facts: fleetFacts((name) => ({ '/etc/sensu/agent.yml': agentYaml(name) })) });
    expect(p.problems).toEqual([]);
    expect(p.phases.map((ph) => ph.name)).toEqual(['preflight', 'distribute', 'backends-tls', 'agents-wss']);
    const agentYamlStep = stepsOf(p).find((s) => s.host === 'agent-02' && s.path === '/etc/sensu/agent.yml');
    expect(agentYamlStep?.after.text).toContain('  - "wss://backend-1:8081"\n  - "wss://backend-2:8081"\ntrusted-ca-file: "/etc/sensu/tls/ca.pem"\n');
    expect(agentYamlStep?.after.text).not.toContain('"ws://');
    // The operator's comments survive the edit.
    for (const line of agentYaml('agent-02')
      .split('\n')
      .filter((l) => l.startsWith('#')))
      expect(agentYamlStep?.after.text).toContain(line);
    const backendStep = stepsOf(p).find((s) => s.host === 'backend-1' && s.path === '/etc/sensu/backend.yml');
    expect(backendStep?.changes?.map((c) => c.key)).toEqual(expect.arrayContaining(['cert-file', 'key-file', 'trusted-ca-file', 'api-url']));
    const gates = p.phases.flatMap((ph) => ph.batches.flatMap((b) => b.steps)).filter((s): s is GateStep => s.kind === 'gate' && s.status === 'change');
    expect(gates.filter((g) => g.gate === 'backend_health').map((g) => g.probe.scheme)).toEqual(['https', 'https']);
    expect(gates.find((g) => g.host === 'agent-03')?.entity).toEqual({ name: 'agent-03', namespace: 'default' });
    // Backends one at a time (etcd quorum), agents in --forks batches.
    expect(p.phases.find((ph) => ph.name === 'backends-tls')?.batches.map((b) => b.hosts)).toEqual([['backend-1'], ['backend-2']]);
    expect(p.phases.find((ph) => ph.name === 'agents-wss')?.batches.map((b) => b.hosts.length)).toEqual([2, 2]);
  });

  it("Sensu's packaged agent.yml with backend-url from /etc/default/sensu-agent: the environment file is what changes", () => {
    const packaged = readFileSync('test/fixtures/yaml/packaged-agent/input.yml', 'utf8');
    const env = 'SENSU_BACKEND_URL="ws://127.90.0.1:8081 ws://127.90.0.2:8081"\n';
    const p = plan({ ...base, facts: fleetFacts(() => ({ '/etc/sensu/agent.yml': packaged, '/etc/default/sensu-agent': env })) });
    expect(p.problems).toEqual([]);
    const mine = stepsOf(p).filter((s) => s.host === 'agent-01' && s.module === 'sensu_config');
    const envStep = mine.find((s) => s.path === '/etc/default/sensu-agent');
    expect(envStep?.after.text).toBe('SENSU_BACKEND_URL="wss://127.90.0.1:8081 wss://127.90.0.2:8081"\n');
    // The YAML gets the CA (a key it does not set from the environment), its comments untouched.
    const yamlStep = mine.find((s) => s.path === '/etc/sensu/agent.yml');
    expect(yamlStep?.after.text).toContain('\ntrusted-ca-file: "/etc/sensu/tls/ca.pem"\n');
    expect(yamlStep?.after.text).not.toContain('wss://');
    expect(yamlStep?.after.text?.split('\n').filter((l) => l.startsWith('#'))).toEqual(packaged.split('\n').filter((l) => l.startsWith('#')));
  });

  it('a fleet the plan has secured already plans no change', () => {
    const first = plan({ ...base, facts: fleetFacts((name) => ({ '/etc/sensu/agent.yml': agentYaml(name) })) });
    // Facts as the first plan's steps leave the hosts (what a second run's facts script reads).
    const after = new Map(
      hosts.map((h) => {
        const files = Object.fromEntries(
          stepsOf(first)
            .filter((s) => s.host === h.name && s.after.text !== undefined)
            .map((s) => [s.path, s.after.text ?? '']),
        );
        const mine = stepsOf(first).filter((s) => s.host === h.name);
        const facts = factsOf(
          h,
          h.role === 'backend'
            ? { '/etc/sensu/backend.yml': backendConfig(labHost(h, 'backend'), labBackends), ...files }
            : { '/etc/sensu/agent.yml': agentYaml(h.name), ...files },
          h.role === 'backend' ? { ok: true, scheme: 'https', detail: 'ok', webUi: true } : undefined,
        );
        // Each uploaded file as the facts script reports it; keys unread (only their hash), as a private key is.
        for (const s of mine)
          facts.files[s.path] = {
            ...facts.files[s.path],
            path: s.path,
            exists: true,
            kind: 'file',
            mode: s.after.mode,
            owner: s.after.owner,
            group: s.after.group,
            sha256: s.after.sha256,
            ...(s.after.text === undefined ? { secret: true } : {}),
          };
        facts.files['/etc/sensu/tls'] = { path: '/etc/sensu/tls', exists: true, kind: 'dir', mode: 0o750, owner: 'root', group: 'sensu' };
        return [h.name, facts];
      }),
    );
    const second = plan({ ...base, facts: after });
    expect(second.problems).toEqual([]);
    expect(second.changes).toBe(0);
  });

  it('--serial makes the first agent batch the canary; agents left out at preflight are named, not refused as a split --limit', () => {
    const left = [{ host: 'agent-04', reason: 'unreachable at 127.90.1.4:22: connection refused', stage: 'preflight' as const }];
    const facts = fleetFacts((name) => ({ '/etc/sensu/agent.yml': agentYaml(name) }));
    facts.delete('agent-04');
    const p = plan({ ...base, hosts: hosts.filter((h) => h.name !== 'agent-04'), facts, agentSerial: [{ count: 1 }, { percent: 100 }], leftBehind: left });
    expect(p.problems).toEqual([]);
    expect(p.leftBehind).toEqual(left);
    const wave = p.phases.find((ph) => ph.name === 'agents-wss');
    expect(wave?.batches.map((b) => [b.hosts, b.canary ?? false])).toEqual([
      [['agent-01'], true],
      [['agent-02', 'agent-03'], false],
    ]);
    // The same selection by --limit alone would cut agent-04 off: refused.
    const split = plan({ ...base, hosts: hosts.filter((h) => h.name !== 'agent-04'), facts });
    expect(split.problems.map((x) => x.message)).toEqual([expect.stringContaining('leaves 1 agent(s) out: they would be cut off')]);
  });
});
