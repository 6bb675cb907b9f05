/**
 * Faults a real host can throw at a rollout, made inside one lab host: its SSH daemon gone (with
 * every session it carried, so connections really drop), a small disk over a directory, a
 * directory mounted read-only. Each is undone by its counterpart; all work in the host's own mount
 * namespace (through its holder process), so only that host sees them.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tcpOpen, type Lab } from './lab.js';

function mountNamespaceOf(pid: number | string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Pids of the sshd processes (listener and per-connection sessions) in a host's namespace. */
function sshdPids(lab: Lab, name: string): number[] {
  const ns = mountNamespaceOf(lab.host(name).holderPid);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || mountNamespaceOf(entry) !== ns) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    // OpenSSH 9.8+ runs each connection as `sshd-session`; older ones as `sshd`.
    if (comm === 'sshd' || comm.startsWith('sshd-')) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Kills a host's sshd and every SSH session on it: established connections drop at once (as when
 * a host reboots or a firewall cuts it off) and new ones are refused until `startSshd`.
 */
export async function killSshd(lab: Lab, name: string): Promise<number> {
  const pids = sshdPids(lab, name);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const h = lab.host(name);
  for (let i = 0; i < 50 && (sshdPids(lab, name).length > 0 || (await tcpOpen(h.address, h.sshPort))); i++) await new Promise((r) => setTimeout(r, 100));
  return pids.length;
}

/**
 * Starts a host's sshd again and waits until it answers: same config and host key, or `config`
 * (a changed host key, as after a reinstall or on a machine in the middle).
 */
export async function startSshd(lab: Lab, name: string, config?: string): Promise<void> {
  const h = lab.host(name);
  const logFd = openSync(join(h.dir, 'sshd.log'), 'a');
  const child = spawn(
    '/usr/bin/nsenter',
    [`--target=${h.holderPid}`, '--mount', '--uts', '--', '/usr/sbin/sshd', '-D', '-e', '-f', config ?? join(h.dir, 'sshd_config')],
    { stdio: ['ignore', logFd, logFd], detached: true },
  );
  closeSync(logFd);
  child.unref();
  for (let i = 0; i < 100; i++) {
    if (await tcpOpen(h.address, h.sshPort)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`lab: sshd on ${name} did not come back`);
}

async function sh(lab: Lab, name: string, script: string): Promise<string> {
  return (await lab.exec(name, '/bin/sh', ['-c', script])).stdout;
}

/**
 * Puts a small tmpfs over `dir` on one host, holding a copy of what was there (contents, owner and
 * mode alike) and room for `freeKb` more: the host looks the same until something bigger is
 * written, then its disk is full.
 */
export async function smallDisk(lab: Lab, name: string, dir: string, freeKb: number): Promise<void> {
  await sh(
    lab,
    name,
    // tmpfs counts whole 4 KiB pages per file.
    `set -e; d='${dir}'; used=$(find "$d" -type f -printf '%s\\n' | awk '{ k += int(($1 + 4095) / 4096) * 4 } END { print k + 0 }'); t=$(mktemp -d)
     mount -t tmpfs -o size=$((used + ${freeKb}))k lab-small "$t"
     if ! cp -a "$d/." "$t/"; then umount "$t"; rmdir "$t"; exit 1; fi
     chown "$(stat -c %u:%g "$d")" "$t"; chmod "$(stat -c %a "$d")" "$t"; mount --move "$t" "$d"; rmdir "$t"`,
  );
}

/** Mounts `dir` read-only on one host (a read-only bind over itself). */
export async function readOnly(lab: Lab, name: string, dir: string): Promise<void> {
  await sh(lab, name, `set -e; mount --bind '${dir}' '${dir}'; mount -o remount,bind,ro '${dir}'`);
}

/** Undoes `smallDisk` or `readOnly`: what was under the mount shows again. */
export async function unmount(lab: Lab, name: string, dir: string): Promise<void> {
  await sh(lab, name, `umount '${dir}'`);
}
