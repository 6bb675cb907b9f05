/**
 * Sensu's open-source build accepts the dashboard keys but serves no web UI: nothing listens on
 * 3000 (found running the real 6.12 binaries; the lab's `no-web-ui` switch makes the stand-in do
 * the same). A backend gate that waited for the UI's certificate would roll back every run on
 * such a fleet: rollout gates on the web UI only where one answered before the run.
 */
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { expectCleanOutput } from './helpers/failure-checks.js';
import { useLab } from './helpers/lab-fixture.js';
import { scratchDir } from './helpers/scratch.js';
import { tcpOpen } from './lab/lab.js';

const getLab = useLab({ backends: 2, agents: 2, net: 55, faults: { 'backend-1': ['no-web-ui'], 'backend-2': ['no-web-ui'] } });
const env = { ROLLOUT_STATE_DIR: scratchDir('rollout-state-55-') };
const args = (): string[] => ['-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];

describe('backends without a web UI (the open-source build)', () => {
  it('are secured without waiting for a UI on 3000, and status says secured', async () => {
    const lab = getLab();
    for (const b of lab.state.hosts.filter((h) => h.role === 'backend')) expect(await tcpOpen(b.address, 3000)).toBe(false);
    const r = await rollout(['secure', ...args(), '--yes'], { env, timeoutMs: 240_000 });
    expectCleanOutput(lab, r);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const again = await rollout(['secure', ...args(), '--check'], { env });
    expect(again.code).toBe(0);
    const status = await rollout(['status', ...args()], { env });
    expect(status.code, status.stdout).toBe(0);
  }, 300_000);
});
