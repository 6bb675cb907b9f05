/**
 * One side of the lock race in test/lock.test.ts: for each round, waits for the round's start
 * file, tries the lock of that round's own state directory, and writes whether it won.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lockFleet } from '../../src/execute/lock.js';

const [base, side, rounds] = process.argv.slice(2);
for (let round = 0; round < Number(rounds); round++) {
  writeFileSync(join(base ?? '', `ready-${round}-${side ?? ''}`), '');
  while (!existsSync(join(base ?? '', `go-${round}`))) await new Promise((r) => setImmediate(r));
  let won: boolean;
  try {
    lockFleet(join(base ?? '', `fleet-${round}`), `racer ${side ?? ''}`);
    won = true;
  } catch {
    won = false;
  }
  // Written whole, then named: the test reads it as soon as the name appears.
  const result = join(base ?? '', `result-${round}-${side ?? ''}`);
  writeFileSync(`${result}.tmp`, won ? 'won' : 'lost');
  renameSync(`${result}.tmp`, result);
}
