/**
 * Puts a lab fleet back as it was before a full run, whichever tool made it (Ansible leaves no
 * journal to roll back from): every file under /etc/sensu and /etc/default/sensu-* as snapshotted
 * right after the lab started (content, owner, mode), /etc/sensu/tls and rollout's backups gone,
 * units reset and restarted, and every host healthy again on plain ws://.
 */
import { chmodSync, chownSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { waitForHealthy, type Lab } from '../lab/lab.js';

interface FileCopy {
  path: string;
  data: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

/** The files a rollout touches, per host, as they are now. */
export type FleetSnapshot = Map<string, FileCopy[]>;

const root = (lab: Lab, host: string): string => `/proc/${lab.host(host).holderPid}/root`;

function filesUnder(base: string, dir: string): string[] {
  const full = join(base, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(base, join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

export function snapshotFleet(lab: Lab): FleetSnapshot {
  const snap: FleetSnapshot = new Map();
  for (const h of lab.state.hosts) {
    const base = root(lab, h.name);
    const paths = [...filesUnder(base, '/etc/sensu'), ...['/etc/default/sensu-backend', '/etc/default/sensu-agent'].filter((p) => existsSync(join(base, p)))];
    snap.set(
      h.name,
      paths.map((path) => {
        const st = lstatSync(join(base, path));
        return { path, data: readFileSync(join(base, path)), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      }),
    );
  }
  return snap;
}

export async function resetFleet(lab: Lab, snap: FleetSnapshot): Promise<void> {
  const limit = pLimit(16);
  await Promise.all(
    lab.state.hosts.map((h) =>
      limit(async () => {
        const base = root(lab, h.name);
        const files = snap.get(h.name) ?? [];
        for (const dir of ['/etc/sensu/tls', '/etc/sensu/.rollout-backups']) rmSync(join(base, dir), { recursive: true, force: true });
        // Anything else a tool left under /etc/sensu (temp files, new env files) goes too.
        for (const path of filesUnder(base, '/etc/sensu')) if (!files.some((f) => f.path === path)) rmSync(join(base, path), { force: true });
        for (const f of files) {
          writeFileSync(join(base, f.path), f.data);
          chownSync(join(base, f.path), f.uid, f.gid);
          chmodSync(join(base, f.path), f.mode);
        }
        const unit = h.role === 'backend' ? 'sensu-backend' : 'sensu-agent';
        await lab.exec(h.name, 'systemctl', ['reset-failed', unit]).catch(() => undefined);
        await lab.exec(h.name, 'systemctl', ['restart', unit]);
      }),
    ),
  );
  await waitForHealthy(lab.state, 180_000);
}
