/**
 * Issue 19's arithmetic and flags, without a lab: how --serial cuts batches (Ansible's rules),
 * how many agents --max-unreachable allows, and the errors bad values get.
 */
import { describe, expect, it } from 'vitest';
import { allowedOf } from '../src/plan/health-preflight.js';
import { serialBatches } from '../src/plan/plan.js';
import { rollout } from './helpers/cli.js';

const hosts = Array.from({ length: 20 }, (_, i) => `agent-${i + 1}`);
const sizes = (batches: string[][]): number[] => batches.map((b) => b.length);

describe('--serial batches', () => {
  it('cuts each size in turn, the last repeating; percentages of the phase hosts, rounded up', () => {
    expect(sizes(serialBatches(hosts, [{ count: 1 }, { percent: 5 }, { percent: 100 }]))).toEqual([1, 1, 18]);
    expect(sizes(serialBatches(hosts, [{ count: 2 }, { percent: 50 }]))).toEqual([2, 10, 8]);
    expect(sizes(serialBatches(hosts, [{ count: 3 }]))).toEqual([3, 3, 3, 3, 3, 3, 2]);
    expect(sizes(serialBatches(hosts, [{ percent: 1 }]))).toEqual(Array.from({ length: 20 }, () => 1));
    expect(serialBatches(hosts, [{ count: 1 }, { percent: 100 }]).flat()).toEqual(hosts);
  });
});

describe('--max-unreachable', () => {
  it("a count is a count; a percentage of the run's agents rounds down; unset allows none", () => {
    expect(allowedOf({ count: 2 }, 20)).toBe(2);
    expect(allowedOf({ percent: 10 }, 20)).toBe(2);
    expect(allowedOf({ percent: 10 }, 19)).toBe(1);
    expect(allowedOf({ percent: 10 }, 9)).toBe(0);
    expect(allowedOf(undefined, 20)).toBe(0);
  });
});

describe('bad values are refused before anything connects', () => {
  for (const [flag, value, message] of [
    ['--serial', '0,100%', '--serial takes a whole number above 0 or a percentage like 10% (got "0")'],
    ['--serial', '1,150%', '--serial takes a whole number above 0 or a percentage like 10% (got "150%")'],
    ['--max-unreachable', 'some', '--max-unreachable takes a whole number or a percentage like 10% (got "some")'],
    ['--max-fail-percentage', '120', '--max-fail-percentage takes a percentage from 0 to 100 (got "120")'],
  ] as const) {
    it(`${flag} ${value}`, async () => {
      const r = await rollout(['secure', '-i', 'inventory/does-not-matter.yml', '--check', flag, value]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    });
  }
});
