/**
 * The failure suite, part 2: faults during the run (issue 9). Each test breaks the lab the way a
 * real fleet breaks (a backend that crashes, hangs or serves the wrong certificate, an agent that
 * cannot verify, SSH cut off mid-wave, a full or read-only disk, Ctrl-C, a killed controller, a
 * second run, a file edited by hand) and asserts the exit code, the one line that names it, no
 * secret in any output, and the fleet as it was: every file under /etc/sensu and /etc/default
 * byte-identical with the same owner and mode, every service healthy on its old settings. The
 * last test secures the fleet cleanly, proving nothing a fault did is left in the way.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRootCa } from '../src/certs/generate.js';
import { rollout, type CliResult } from './helpers/cli.js';
import { baseline, expectCleanOutput, expectHealthyOnOldSettings, expectRestored, type Baseline } from './helpers/failure-checks.js';
import { agentHealthz, eventually, fileSnapshot } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { killSshd, readOnly, smallDisk, startSshd, unmount } from './lab/host-faults.js';
import type { Lab } from './lab/lab.js';
import { scratchDir } from './helpers/scratch.js';

const getLab = useLab({ backends: 2, agents: 3, net: 49 });
const stateDir = scratchDir('rollout-state-49-');
const env = { ROLLOUT_STATE_DIR: stateDir };
const LONG = 300_000;

function secureArgs(extra: string[] = [], inventory?: string): string[] {
  const lab = getLab();
  return ['secure', '-i', inventory ?? lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--gate-timeout', '20', '--yes', ...extra];
}

function rollbackRun(): Promise<CliResult> {
  const lab = getLab();
  return rollout(['rollback', '--yes', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath], { env });
}

const journals = (): string[] =>
  readdirSync(stateDir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.jsonl'));

/** A run in the background, with ways to wait for the point a fault should hit it. */
function startRun(extra: string[] = [], inventory?: string): { done: Promise<CliResult>; pid: () => number; journaled: (text: string) => Promise<void> } {
  const earlier = new Set(journals());
  let pid = 0;
  const done = rollout(secureArgs(extra, inventory), { env, onSpawn: (p) => (pid = p) });
  let ended = false;
  void done.then(() => (ended = true));
  return {
    done,
    pid: () => pid,
    // The journal is written before each change: the surest sign of where the run is.
    journaled: (text) =>
      eventually(`the run to journal ${text}`, 120_000, () => {
        if (ended) throw new Error('the run ended first');
        return journals()
          .filter((f) => !earlier.has(f))
          .some((f) => readFileSync(join(stateDir, f), 'utf8').includes(text));
      }),
  };
}

/** Waits until a host's unit was started again after `starts` (the run's restart reached it). */
function restartedSince(lab: Lab, host: string, starts: number): Promise<void> {
  return eventually(`${host} restarted by the run`, 120_000, () => lab.unitStatus(host).starts > starts);
}

/**
 * Lifts a hang once the run's restart has started the hung process: the stand-in reads its fault
 * switches a moment after it starts (Node's start-up), so a switch lifted at once would be missed.
 */
async function liftWhenHung(lab: Lab, host: string, fault: string, starts: number): Promise<void> {
  await restartedSince(lab, host, starts);
  await new Promise((r) => setTimeout(r, 3000));
  lab.setFault(host, fault, false);
}

const AGENT_WAVE = '"host":"agent-02","path":"/etc/sensu/agent.yml"';

/**
 * Runs `secure` with `host`'s agent hanging after the run restarts it, so the run sits in that
 * agent's gate; `during` then strikes. Returns how the run ended; the hang never outlives it.
 */
async function heldInAgentWave(
  lab: Lab,
  host: string,
  before: Baseline,
  during: (run: ReturnType<typeof startRun>) => Promise<void> | void,
  extra: string[] = [],
): Promise<CliResult> {
  lab.setFault(host, 'hang-on-start', true);
  try {
    const run = startRun(extra);
    await run.journaled(AGENT_WAVE);
    await liftWhenHung(lab, host, 'hang-on-start', before.starts[host] ?? 0);
    await during(run);
    return await run.done;
  } finally {
    lab.setFault(host, 'hang-on-start', false);
  }
}

/** A gate that fails: how to make the fault, and the line that must name it. */
interface GateCase {
  name: string;
  host: string;
  fault?: string;
  /** Hangs must be lifted once the run restarted the host, so the rollback's restart is a normal one. */
  liftAfterRestart?: boolean;
  inventory?: (lab: Lab) => Promise<string>;
  extra?: string[];
  message: RegExp;
}

const gateCases: GateCase[] = [
  {
    name: 'a backend that crashes on TLS',
    host: 'backend-2',
    fault: 'crash-on-tls',
    message: /backend-2: Backend healthy over TLS: health gate failed: sensu-backend (keeps crashing|is crash-looping)/,
  },
  {
    name: 'a backend that hangs on start (gate deadline)',
    host: 'backend-2',
    fault: 'hang-on-start',
    liftAfterRestart: true,
    extra: ['--gate-timeout', '8'],
    message: /backend-2: Backend healthy over TLS: health gate failed: .*after 8 s/,
  },
  {
    name: 'a backend that serves a wrong certificate',
    host: 'backend-1',
    fault: 'wrong-cert',
    message: /backend-1: Backend healthy over TLS: health gate failed: .*(certificate|verify|signed)/i,
  },
  {
    name: 'an agent whose CA does not verify the backend',
    host: 'agent-03',
    inventory: async (lab) => {
      const other = await createRootCa({ commonName: 'someone else' });
      writeFileSync(join(lab.dir, 'pki', 'other-ca.pem'), other.certPem);
      const text = readFileSync(lab.inventoryPath, 'utf8').replace(/(agent-03:\n\s+ansible_host: [\d.]+\n)/, '$1          sensu_ca_file: pki/other-ca.pem\n');
      expect(text).toContain('sensu_ca_file: pki/other-ca.pem');
      const file = join(lab.dir, 'wrong-ca.yml');
      writeFileSync(file, text);
      return file;
    },
    message: /agent-03: Agent connected over wss:\/\/: health gate failed: \/healthz 503 sensu backend unavailable \(after 20 s\)/,
  },
];

describe('a gate fails: the whole wave is rolled back, exit 3', () => {
  for (const c of gateCases) {
    it(
      c.name,
      async () => {
        const lab = getLab();
        const before = await baseline(lab);
        const inventory = c.inventory ? await c.inventory(lab) : undefined;
        if (c.fault) lab.setFault(c.host, c.fault, true);
        let r: CliResult;
        try {
          const run = startRun(c.extra, inventory);
          if (c.fault && c.liftAfterRestart) {
            await liftWhenHung(lab, c.host, c.fault, before.starts[c.host] ?? 0);
          }
          r = await run.done;
        } finally {
          if (c.fault) lab.setFault(c.host, c.fault, false);
        }
        expect(r.code, r.stdout + r.stderr).toBe(3);
        expect(r.stderr).toMatch(c.message);
        expect(r.stderr).toContain('rolled back and verified healthy on its old settings');
        expect(r.stdout).toMatch(new RegExp(`${c.host}\\s+\\w+\\s+failed`));
        expectCleanOutput(lab, r);
        await expectRestored(lab, before);
      },
      LONG,
    );
  }
});

describe('a host fails under the run', () => {
  it(
    'SSH dropped in the agent wave and back a few seconds later: the run reconnects and completes',
    async () => {
      const lab = getLab();
      const before = await baseline(lab);
      // agent-02 hangs after its restart, so the run sits in its gate when the connection drops.
      const r = await heldInAgentWave(lab, 'agent-02', before, async () => {
        expect(await killSshd(lab, 'agent-02')).toBeGreaterThan(1);
        await new Promise((res) => setTimeout(res, 3000));
        // The host comes back (sshd restarted, the agent with it) while the gate still waits.
        await lab.exec('agent-02', 'systemctl', ['restart', 'sensu-agent']);
        await startSshd(lab, 'agent-02');
      });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('changed=5');
      expectCleanOutput(lab, r);
      expect(lab.readFile('agent-02', '/etc/sensu/agent.yml')).toContain('wss://');
      expect(await agentHealthz(lab, 'agent-02')).toBe(200);
      // Back to the starting point for the next tests, which is itself a proof of `rollout rollback`.
      const back = await rollbackRun();
      expect(back.code, back.stdout + back.stderr).toBe(0);
      await expectRestored(lab, before);
    },
    LONG,
  );

  it(
    'SSH dropped in the agent wave for good: exit 4 naming the host, the rest restored; `rollout rollback` finishes once it is back',
    async () => {
      const lab = getLab();
      const before = await baseline(lab);
      const r = await heldInAgentWave(lab, 'agent-02', before, async () => {
        await killSshd(lab, 'agent-02');
      });
      try {
        expect(r.code, r.stdout + r.stderr).toBe(4);
        expect(r.stderr).toMatch(
          /rollback incomplete; these hosts need attention:\n\s+agent-02: not reachable \(the SSH connection was lost and could not be reopened.*\): \d change\(s\) NOT undone; run `rollout rollback` once it is back/,
        );
        expect(r.stdout).toMatch(/agent-02\s+agent\s+needs attention/);
        for (const h of ['backend-1', 'backend-2', 'agent-01', 'agent-03']) expect(r.stdout).toMatch(new RegExp(`${h}\\s+\\w+\\s+rolled back`));
        expectCleanOutput(lab, r);
        // Everything but the unreachable host is already as it was.
        const now = await fileSnapshot(lab);
        for (const h of ['backend-1', 'backend-2', 'agent-01', 'agent-03']) expect(now[h]).toEqual(before.files[h]);
      } finally {
        await startSshd(lab, 'agent-02');
      }
      const back = await rollbackRun();
      expect(back.code, back.stdout + back.stderr).toBe(0);
      expect(back.stdout).toContain('every host verified healthy');
      expectCleanOutput(lab, back);
      await expectRestored(lab, before);
    },
    LONG,
  );

  it(
    'a disk that fills up during the certificate upload: exit 3 naming host and file, everything restored',
    async () => {
      const lab = getLab();
      // Room for the CA and the certificate, not for the key after them.
      await smallDisk(lab, 'backend-2', '/etc/sensu', 8);
      let r: CliResult;
      try {
        const before = await baseline(lab);
        r = await rollout(secureArgs(), { env });
        expect(r.code, r.stdout + r.stderr).toBe(3);
        expect(r.stderr).toMatch(/error: backend-2: Upload the backend key: cannot write \/etc\/sensu\/tls\/backend-2\.key: .*No space left on device/);
        expectCleanOutput(lab, r);
        await expectRestored(lab, before);
      } finally {
        await unmount(lab, 'backend-2', '/etc/sensu');
      }
    },
    LONG,
  );

  it(
    '/etc/sensu read-only on one host: exit 3 naming host and directory, everything restored',
    async () => {
      const lab = getLab();
      await readOnly(lab, 'agent-03', '/etc/sensu');
      try {
        const before = await baseline(lab);
        const r = await rollout(secureArgs(), { env });
        expect(r.code, r.stdout + r.stderr).toBe(3);
        expect(r.stderr).toMatch(/error: agent-03: Create \/etc\/sensu\/tls: cannot create \/etc\/sensu\/tls: .*Read-only file system/);
        expectCleanOutput(lab, r);
        await expectRestored(lab, before);
      } finally {
        await unmount(lab, 'agent-03', '/etc/sensu');
      }
    },
    LONG,
  );
});

describe('the operator and the controller', () => {
  it(
    'Ctrl-C in the agent wave: finishes the steps in flight, rolls back, exit 130',
    async () => {
      const lab = getLab();
      const before = await baseline(lab);
      const r = await heldInAgentWave(lab, 'agent-03', before, (run) => {
        process.kill(run.pid(), 'SIGINT');
      });
      expect(r.code, r.stdout + r.stderr).toBe(130);
      expect(r.stderr).toContain('interrupted: the run was rolled back and the fleet verified healthy on its old settings');
      expectCleanOutput(lab, r);
      await expectRestored(lab, before);
    },
    LONG,
  );

  it(
    "the controller killed (SIGKILL) in the agent wave: `rollout rollback` restores the fleet from the journal and the hosts' backups",
    async () => {
      const lab = getLab();
      const before = await baseline(lab);
      const killed = await heldInAgentWave(lab, 'agent-03', before, (run) => {
        process.kill(run.pid(), 'SIGKILL');
      });
      expect(killed.code).toBeNull();
      // Half-switched: backends on TLS, agents on wss://.
      expect(lab.readFile('backend-1', '/etc/sensu/backend.yml')).toContain('cert-file');
      expect(lab.readFile('agent-02', '/etc/sensu/agent.yml')).toContain('wss://');
      const r = await rollbackRun();
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/rolled back; every host verified healthy/);
      expectCleanOutput(lab, r);
      await expectRestored(lab, before);
      const again = await rollbackRun();
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('already rolled back');
    },
    LONG,
  );

  it(
    'two runs on one fleet at once: the second refuses, naming the run that holds the lock',
    async () => {
      const lab = getLab();
      const before = await baseline(lab);
      // The first run waits in the agent wave on a hung agent until its gate gives up.
      const first = await heldInAgentWave(
        lab,
        'agent-03',
        before,
        async (run) => {
          const second = await rollout(secureArgs(), { env });
          expect(second.code, second.stdout + second.stderr).toBe(2);
          expect(second.stderr).toContain(`error: another rollout (secure, pid ${run.pid()} on `);
          expect(second.stderr).toContain('is working on this fleet');
          expectCleanOutput(lab, second);
        },
        ['--gate-timeout', '10'],
      );
      expect(first.code, first.stdout + first.stderr).toBe(3);
      expect(first.stderr).toMatch(/agent-03: Agent connected over wss:\/\/: health gate failed/);
      expectCleanOutput(lab, first);
      await expectRestored(lab, before);
    },
    LONG,
  );

  it(
    'a file changed by hand after the plan was made: the run refuses to overwrite it, rolls back, and the hand edit stays',
    async () => {
      const lab = getLab();
      const before = await baseline(lab);
      const original = lab.readFile('agent-03', '/etc/sensu/agent.yml');
      const edited = `${original}# tuned by hand during the change window\n`;
      let r: CliResult;
      try {
        const run = startRun();
        // Agents are written after every backend is on TLS: edit agent-03 while the backends switch.
        await run.journaled('"host":"backend-1","path":"/etc/sensu/backend.yml"');
        await lab.exec('agent-03', '/bin/sh', ['-c', `printf '# tuned by hand during the change window\\n' >> /etc/sensu/agent.yml`]);
        r = await run.done;
        expect(r.code, r.stdout + r.stderr).toBe(3);
        expect(r.stderr).toMatch(/error: agent-03: Switch the agent to wss:\/\/: \/etc\/sensu\/agent\.yml changed since the plan was made; not overwritten/);
        expectCleanOutput(lab, r);
        expect(lab.readFile('agent-03', '/etc/sensu/agent.yml')).toBe(edited);
        const now = await fileSnapshot(lab);
        for (const h of ['backend-1', 'backend-2', 'agent-01', 'agent-02']) expect(now[h]).toEqual(before.files[h]);
        // agent-03 differs by exactly the hand edit: its other files are as they were.
        const without = (s: string | undefined): string =>
          (s ?? '')
            .split('\n')
            .filter((l) => !l.startsWith('/etc/sensu/agent.yml '))
            .join('\n');
        expect(without(now['agent-03'])).toEqual(without(before.files['agent-03']));
        await expectHealthyOnOldSettings(lab);
      } finally {
        await lab.exec('agent-03', '/bin/sh', ['-c', `cat > /etc/sensu/agent.yml <<'EOF'\n${original}EOF`]);
      }
      expect(await fileSnapshot(lab)).toEqual(before.files);
    },
    LONG,
  );

  it(
    'after every fault above, a clean run secures the fleet and a second run changes nothing',
    async () => {
      const lab = getLab();
      const r = await rollout(secureArgs(), { env });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('changed=5');
      expectCleanOutput(lab, r);
      for (const a of ['agent-01', 'agent-02', 'agent-03']) {
        expect(lab.readFile(a, '/etc/sensu/agent.yml')).toContain('wss://');
        expect(await agentHealthz(lab, a)).toBe(200);
      }
      const again = await rollout(secureArgs(), { env });
      expect(again.code).toBe(0);
      expect(again.stdout + again.stderr).toContain('no changes');
    },
    LONG,
  );
});
