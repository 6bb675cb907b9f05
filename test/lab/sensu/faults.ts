/**
 * Lab fault switches: an empty file `$SENSU_LAB_DIR/faults/<name>` turns a fault on for the
 * host's next service start. Without SENSU_LAB_DIR (tests, manual runs) no fault is ever on.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Faults sensu-backend understands. */
export type BackendFault =
  | 'crash-on-start'
  | 'crash-on-tls'
  | 'hang-on-start'
  | 'wrong-cert'
  | 'refuse-agents'
  | 'dashboard-ignores-cert'
  | 'crash-on-peer-tls'
  | 'no-web-ui';
/** Faults sensu-agent understands. */
export type AgentFault = 'crash-on-start' | 'hang-on-start';

/** True when the fault's switch file exists. */
export function faultOn(name: BackendFault | AgentFault, env: NodeJS.ProcessEnv = process.env): boolean {
  const dir = env.SENSU_LAB_DIR;
  if (!dir) return false;
  return existsSync(join(dir, 'faults', name));
}

/** Keeps the process alive without doing anything, until a signal ends it ("hang-on-start"). */
export function hangForever(): void {
  setInterval(() => undefined, 1 << 30);
}
