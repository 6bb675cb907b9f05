/**
 * `rollout secure --step` end to end: the real CLI in a real pseudo-terminal (tmux, 80 columns,
 * NO_COLOR) on the lab, answered key by key. Refused without a terminal and with --yes or --json;
 * a skip the run needs is refused and asked again, and skipping the TLS wave stages certificates
 * only; abort mid agent wave and Ctrl-C at a question both roll the run back byte-identical and
 * healthy; diff, yes and continue secure the fleet, and a second run finds nothing to do.
 */
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { agentHealthz, eventually, fileSnapshot, keepaliveSeconds, labCa, servedCertificate } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { Terminal } from './helpers/terminal.js';
import type { Lab } from './lab/lab.js';
import { scratchDir } from './helpers/scratch.js';

const getLab = useLab({ backends: 2, agents: 3, net: 45 });
const stateDir = scratchDir('rollout-state-');
const env = { ROLLOUT_STATE_DIR: stateDir };
const args = (): string[] => ['secure', '-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];

/** Runs `rollout secure --step …extra` on a terminal, lets `drive` answer, always ends the terminal. */
async function stepRun(
  extra: string[],
  drive: (t: Terminal) => Promise<void>,
): Promise<{ code: number; transcript: string; questions: string[]; styled: string }> {
  const t = await Terminal.start([...args(), '--step', ...extra], { env });
  try {
    await drive(t);
    const code = await t.exited();
    return { code, transcript: await t.transcript(), questions: t.questions(), styled: await t.styled() };
  } finally {
    const ended = t.exitCode() !== undefined;
    await t.kill();
    // A run stopped by a failed expectation is killed mid-way: undo it for the tests after.
    if (!ended) await rollout(['rollback', '--yes', '-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath], { env });
  }
}

/** Every line of a question fits 80 columns (none was wrapped: the prompt redraws in place). */
function questionsFit(questions: readonly string[]): void {
  expect(questions.length).toBeGreaterThan(0);
  for (const l of questions) expect(l.length, l).toBeLessThanOrEqual(80);
}

async function healthyOnPlainWs(lab: Lab): Promise<void> {
  for (const b of lab.state.hosts.filter((h) => h.role === 'backend')) {
    const res = await fetch(`http://${b.address}:8080/health`);
    const health = (await res.json()) as { ClusterHealth: { Healthy: boolean }[] };
    expect(health.ClusterHealth.every((m) => m.Healthy)).toBe(true);
  }
  for (const a of lab.state.hosts.filter((h) => h.role === 'agent')) {
    expect(lab.readFile(a.name, '/etc/sensu/agent.yml')).not.toContain('wss://');
    await eventually(`${a.name} healthy`, 30_000, async () => (await agentHealthz(lab, a.name)) === 200);
  }
}

/** The snapshot without /etc/sensu/tls (the certificates a skipped wave leaves staged). */
const withoutTls = (snapshot: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(snapshot).map(([h, s]) => [
      h,
      s
        .split('\n')
        .filter((l) => !l.startsWith('/etc/sensu/tls'))
        .join('\n'),
    ]),
  );

describe('rollout secure --step', () => {
  it('refuses without a terminal, with --yes and with --json: exit 2, nothing touched', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const noTty = await rollout([...args(), '--step'], { env });
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain('--step needs a terminal');
    const yes = await rollout([...args(), '--step', '--yes'], { env });
    expect(yes.code).toBe(2);
    expect(yes.stderr).toContain('--step and --yes contradict each other');
    const json = await rollout([...args(), '--step', '--json'], { env });
    expect(json.code).toBe(2);
    expect(json.stderr).toContain('--step and --json contradict each other');
    expect(await fileSnapshot(lab)).toEqual(before);
  });

  it('refuses to skip an upload the wave needs; "no" on the first wave task stages the certificates and skips the whole tls wave', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const r = await stepRun([], async (t) => {
      await t.expect('? Create /etc/sensu/tls on 5 hosts (batch 1/1)');
      await t.answer('y');
      await t.expect('? Upload the CA on 5 hosts (batch 1/1)');
      await t.answer('n');
      await t.expect('cannot skip this: "Point the backend at its certificate" on backend-1');
      await t.expect('? Upload the CA on 5 hosts (batch 1/1)');
      await t.answer('y');
      await t.expect('? Upload the backend certificate on 2 backends (batch 1/1)');
      await t.press('Enter'); // Enter is yes
      await t.expect('? Upload the backend key on 2 backends (batch 1/1)');
      await t.answer('y');
      await t.expect('? Point the backend at its certificate on backend-1');
      await t.expect('n) no, skip it and with it the whole tls wave');
      await t.answer('n');
      await t.expect('skipped, and with it the whole tls wave (backends-tls, agents-wss)');
    });
    expect(r.code, r.transcript).toBe(0);
    expect(r.transcript).toContain('✔ distribute: 5 host(s), 14 change(s)');
    expect(r.transcript).toContain('backends-tls: 2 host(s), 0 change(s), 4 skipped');
    expect(r.transcript).toMatch(/agents-wss: .*\[SKIPPED: with the whole tls wave, as answered\]/);
    expect(r.transcript).toContain('step(s) skipped, as answered');
    questionsFit(r.questions);
    // The certificates are staged; every config is as it was, and the fleet healthy on ws://.
    const ca = labCa(lab);
    for (const h of lab.state.hosts) expect(lab.readFile(h.name, '/etc/sensu/tls/ca.pem')).toBe(ca);
    expect(withoutTls(await fileSnapshot(lab))).toEqual(withoutTls(before));
    await healthyOnPlainWs(lab);
    const check = await rollout([...args(), '--check'], { env });
    expect(check.code).toBe(5);
    expect(check.stdout).toMatch(/distribute: .*\n {2}nothing to change on 5 host\(s\)/);
  }, 600_000);

  it('abort in the middle of the agent wave rolls the run back: exit 3, files byte-identical, fleet healthy on ws://', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    // --forks 2: the agents go in two batches, so the wave can be stopped between them.
    const r = await stepRun(['--forks', '2'], async (t) => {
      await t.expect('? Point the backend at its certificate on backend-1');
      await t.answer('y');
      await t.expect('? Restart sensu-backend on backend-1');
      await t.answer('n');
      await t.expect('cannot skip this: the new configuration of backend-1 is already written');
      await t.expect('? Restart sensu-backend on backend-1');
      await t.answer('y');
      await t.expect('✓ gate: Backend healthy over TLS on backend-1');
      await t.expect(/https:\/\/127\.45\.0\.1:8080\/health: 2 etcd members healthy/);
      await t.expect('? Point the backend at its certificate on backend-2');
      await t.answer('y');
      await t.expect('? Restart sensu-backend on backend-2');
      await t.answer('y');
      await t.expect('? Switch the agent to wss:// on 2 agents (batch 1/2)');
      await t.answer('y');
      await t.expect('? Restart sensu-agent on 2 agents (batch 1/2)');
      await t.answer('y');
      await t.expect('✓ gate: Agent connected over wss:// on agent-0');
      await t.expect(/\/healthz 200 ok; keepalive/);
      await t.expect('? Switch the agent to wss:// on agent-03');
      await t.answer('n');
      await t.expect('cannot skip this: the tls wave has started (backend-1 changed)');
      await t.expect('? Switch the agent to wss:// on agent-03');
      await t.answer('a');
    });
    expect(r.code, r.transcript).toBe(3);
    expect(r.transcript).toContain('Rolling back: aborted by the operator');
    expect(r.transcript).toMatch(/agent-01\s+agent\s+rolled back/);
    expect(r.transcript).toContain(
      'error: aborted at "Switch the agent to wss://": the run was rolled back and the fleet verified healthy on its old settings',
    );
    questionsFit(r.questions);
    expect(await fileSnapshot(lab)).toEqual(before);
    await healthyOnPlainWs(lab);
  }, 600_000);

  it('Ctrl-C at a question, with the backends on TLS, rolls the run back and exits 130', async () => {
    const lab = getLab();
    const before = await fileSnapshot(lab);
    const r = await stepRun([], async (t) => {
      for (const backend of ['backend-1', 'backend-2']) {
        await t.expect(`? Point the backend at its certificate on ${backend}`);
        await t.answer('y');
        await t.expect(`? Restart sensu-backend on ${backend}`);
        await t.answer('y');
      }
      await t.expect('? Switch the agent to wss:// on 3 agents (batch 1/1)');
      await t.press('C-c');
    });
    expect(r.code, r.transcript).toBe(130);
    expect(r.transcript).toContain('Rolling back: interrupted at a question (Ctrl-C)');
    // The rollback's progress and the recap are shown: the prompt let go of the terminal.
    expect(r.transcript).toContain('verified the fleet on its old settings');
    expect(r.transcript).toMatch(/backend-2\s+backend\s+rolled back/);
    expect(r.transcript).toContain('error: interrupted: the run was rolled back');
    expect(await fileSnapshot(lab)).toEqual(before);
    await healthyOnPlainWs(lab);
  }, 600_000);

  it('diff, yes and continue secure the fleet at 80 columns without colour; a second run changes nothing', async () => {
    const lab = getLab();
    const t0 = Math.floor(Date.now() / 1000);
    const r = await stepRun([], async (t) => {
      await t.expect('? Point the backend at its certificate on backend-1');
      await t.answer('d');
      await t.expect('--- backend-1:/etc/sensu/backend.yml');
      await t.expect('-api-url: "http://127.45.0.1:8080"');
      await t.expect('+api-url: "https://127.45.0.1:8080"');
      await t.expect('+cert-file: "/etc/sensu/tls/backend-1.pem"');
      await t.expect('? Point the backend at its certificate on backend-1');
      await t.answer('y');
      await t.expect('? Restart sensu-backend on backend-1');
      await t.press('Enter');
      await t.expect('✓ gate: Backend healthy over TLS on backend-1');
      await t.expect('? Point the backend at its certificate on backend-2');
      await t.answer('c');
    });
    expect(r.code, r.transcript).toBe(0);
    for (const a of ['agent-01', 'agent-02', 'agent-03']) expect(r.transcript).toContain(`✓ gate: Agent connected over wss:// on ${a}`);
    expect(r.transcript).toMatch(/agent-03\s+agent\s+changed/);
    questionsFit(r.questions);
    // NO_COLOR: no colour or style sequence reached the terminal.
    // eslint-disable-next-line no-control-regex
    expect(r.styled).not.toMatch(/\x1b\[[0-9;]*m/);
    const ca = labCa(lab);
    for (const b of lab.state.hosts.filter((h) => h.role === 'backend')) {
      for (const port of [8080, 8081]) expect((await servedCertificate(b.address, port, ca)).subject.CN).toBe(b.name);
    }
    for (const a of lab.state.hosts.filter((h) => h.role === 'agent')) {
      expect(lab.readFile(a.name, '/etc/sensu/agent.yml')).not.toContain('ws://');
      expect(await agentHealthz(lab, a.name)).toBe(200);
      expect(await keepaliveSeconds(lab, 'backend-1', a.name, 'https')).toBeGreaterThanOrEqual(t0 - 1);
    }
    const again = await rollout([...args(), '--check'], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('no changes: the fleet is already secured');
  }, 600_000);
});
