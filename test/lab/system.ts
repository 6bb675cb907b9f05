/**
 * What the machine itself needs before a lab can start: the Debian packages (installed by
 * prepare.mjs), a login user, the `sensu` system user, sshd's privilege-separation directory, and
 * the mount points a Sensu package would create. Idempotent; run as root.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';

/** The login user every lab host accepts (key auth; sudo per host). */
export const LOGIN_USER = 'labops';
/** The service user, as the Sensu packages create it. */
export const SERVICE_USER = 'sensu';

/** Commands the lab runs; missing ones mean prepare.mjs has not run. */
const REQUIRED = ['/usr/sbin/sshd', '/usr/bin/ssh-keygen', '/usr/bin/sudo', '/usr/bin/etcd', '/usr/bin/nsenter', '/usr/bin/setpriv', '/usr/bin/unshare'];

function userExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Numeric uid/gid of a user. */
export function idsOf(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
  return { uid, gid };
}

/** Makes the machine ready to host labs. Throws with the fix when it cannot. */
export function ensureSystem(): void {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (it creates namespaces and runs sshd)');
  const missing = REQUIRED.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: run 'node test/lab/prepare.mjs' first`);
  if (!userExists(SERVICE_USER)) {
    execFileSync('useradd', ['--system', '--user-group', '--home-dir', '/var/lib/sensu', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER]);
  }
  if (!userExists(LOGIN_USER)) {
    execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', LOGIN_USER]);
  }
  // A locked account ("!") is refused by sshd even for key auth; "*" means "no password" and is not.
  execFileSync('usermod', ['-p', '*', LOGIN_USER]);
  // What the packages would create: sshd's privsep dir, and mount points for per-host Sensu dirs.
  for (const dir of ['/run/sshd', '/var/lib/sensu', '/var/log/sensu', '/etc/sudoers.d']) {
    mkdirSync(dir, { recursive: true });
  }
}
