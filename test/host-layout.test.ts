/**
 * Issue 18: one place knows a host's Sensu layout (unit, config file, environment file, ports), and
 * every command reads it the same way. The case that drifted: an agent whose API port comes from
 * its environment file (/etc/default/sensu-agent), not its YAML. `secure` probed it there; `rollout
 * rollback` read the YAML alone and verified the agent on the default port, so a good rollback
 * ended in exit 4.
 */
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { agentHealthz, eventually, fileSnapshot } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { scratchDir } from './helpers/scratch.js';

const getLab = useLab({ backends: 1, agents: 2, net: 57 });
const env = { ROLLOUT_STATE_DIR: scratchDir('rollout-state-57-') };

describe('an agent whose API port is set in its environment file', () => {
  it('is gated on that port by secure, and verified on it by rollback (exit 0)', async () => {
    const lab = getLab();
    await lab.exec('agent-02', '/bin/sh', ['-c', "printf 'SENSU_API_PORT=3032\\n' > /etc/default/sensu-agent && systemctl restart sensu-agent"]);
    const healthz = (port: number): Promise<number> =>
      fetch(`http://${lab.host('agent-02').address}:${port}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
        (r) => r.status,
        () => 0,
      );
    await eventually('agent-02 answering on 3032', 30_000, async () => (await healthz(3032)) === 200);
    expect(await healthz(3031)).toBe(0);
    expect(await agentHealthz(lab, 'agent-01')).toBe(200);
    const before = await fileSnapshot(lab);
    const args = ['-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--yes'];
    const secured = await rollout(['secure', ...args, '--gate-timeout', '20'], { env });
    expect(secured.code, secured.stdout + secured.stderr).toBe(0);
    const back = await rollout(['rollback', ...args], { env });
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.stdout + back.stderr).not.toContain('UNHEALTHY');
    expect(await fileSnapshot(lab)).toEqual(before);
    await eventually('agent-02 back on ws:// and connected', 30_000, async () => (await healthz(3032)) === 200);
  }, 300_000);
});
