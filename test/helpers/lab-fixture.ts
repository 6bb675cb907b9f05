/**
 * A lab per test file: started in beforeAll, stopped in afterAll even when tests fail. Each file
 * passes its own `net` (127.N.0.0/16) so files running in parallel never share addresses:
 * lab.test 40, check.test 41, transport.test 42, secure-check.test 43 … rollback-confirm.test 58,
 * the installed-package smoke (test/smoke/installed.sh) 61 (keep this list unique).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startLab, type Lab, type LabOptions } from '../lab/lab.js';

/** Registers a lab for the current test file; the getter is valid inside tests. */
export function useLab(options: Omit<LabOptions, 'dir'> & { keepDir?: boolean }): () => Lab {
  let lab: Lab | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `rollout-lab-${options.net ?? 0}-`));
    lab = await startLab({ ...options, dir });
  });
  afterAll(async () => {
    if (lab) await lab.stop();
    if (dir && !options.keepDir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!lab) throw new Error('lab not started');
    return lab;
  };
}
