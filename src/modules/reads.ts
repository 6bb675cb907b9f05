/**
 * What a Sensu unit reads at its next start, shared by `copy` (may a file in use be replaced
 * unread?) and `service` (which changes call for a restart?).
 */
import type { TaskContext } from '../plan/plan.js';
import { configPathOf, envFilesOf } from '../sensu/host-config.js';

/**
 * Whether the unit reads a file at its next start: its config files, and files its config names
 * as this run will have left them. A client certificate uploaded before the config points at it
 * waits for the restart that comes with that config (no restart for a file nothing reads yet).
 */
export function readByUnit(ctx: TaskContext, path: string | undefined): boolean {
  if (path === undefined) return true;
  const configs = [configPathOf(ctx.host), ...envFilesOf(ctx.host.role)];
  return configs.includes(path) || configs.some((c) => ctx.facts.files[c]?.text?.includes(path) === true);
}
