/**
 * Waiting for the store at startup, as sensu-go does: the member must be ready and the backend's
 * own client (dialing the advertised client URLs) must read `/sensu.io`, which needs a quorum.
 * A fresh 3-member cluster is ready only once enough peers have started.
 */
import type { EtcdClient } from './etcd-client.js';
import { EtcdError } from './etcd-client.js';
import type { EtcdProcess } from './etcd-process.js';

/** sensu-go's `EtcdStartupTimeout`: 60 seconds. */
export const ETCD_STARTUP_TIMEOUT_S = 60;

/** Why the store did not come up. */
export type EtcdWait = { ok: true } | { ok: false; reason: string; lastError: string };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until a linearizable read succeeds, etcd exits, or `timeoutS` passes.
 * `reason` is the text after `error starting etcd: `.
 */
export async function waitForEtcd(client: EtcdClient, proc: EtcdProcess | undefined, timeoutS = ETCD_STARTUP_TIMEOUT_S): Promise<EtcdWait> {
  const deadline = Date.now() + timeoutS * 1000;
  let lastError = '';
  let exited: string | undefined;
  void proc?.exited.then((e) => {
    exited = e.reason;
  });
  while (Date.now() < deadline) {
    if (exited !== undefined) return { ok: false, reason: exited, lastError };
    try {
      await client.get('/sensu.io', Math.min(2000, Math.max(100, deadline - Date.now())));
      // The client may have reached another member (a wrong advertise URL, a port taken by a
      // neighbour): only a member of our own that is up and serving counts as started.
      if (proc) {
        const serving = proc.servingClients();
        if (serving === undefined) await sleep(1000);
        if (serving === false) {
          lastError = 'etcd has not reported serving clients yet';
          await sleep(200);
          continue;
        }
        if (exited !== undefined || !proc.running) continue;
      }
      return { ok: true };
    } catch (err) {
      lastError = err instanceof EtcdError ? err.detail || err.message : String(err);
    }
    // Give a dying etcd a moment to be noticed before the next attempt.
    await sleep(200);
  }
  if (exited !== undefined) return { ok: false, reason: exited, lastError };
  return { ok: false, reason: `Etcd failed to start in ${timeoutS} seconds`, lastError };
}
