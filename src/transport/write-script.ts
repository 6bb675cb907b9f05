/**
 * One shell script that makes several files and directories on a host, so a host's uploads cost
 * one command (one sudo) instead of one each. Each file is still written the careful way: checked
 * against what the plan saw, backed up, written to a temp file beside it, verified by hash, owned,
 * synced and renamed into place. Each program it starts is a fork and an exec on the host (a few
 * ms of CPU each on a small VM): a new file costs four (dd, sha256sum, chown, mv), a replaced one
 * seven (sha256sum, cp, sync besides). The contents follow each other on stdin; `dd … iflag=fullblock`
 * takes exactly each file's bytes (`head -c` would read ahead into the next file).
 *
 * The script stops at the first item that fails (set -e) and prints `rollout-done <i>` after each
 * item it finished, so the caller knows what was made: the items before the failure, never the
 * ones after it. Exit 65: a file changed since the plan (nothing of that item written); exit 66:
 * an upload arrived incomplete (the temp file is removed, the file left as it was); exit 67: a
 * directory another user can write, or a link where a file belongs (nothing of that item done).
 */
import { createHash, randomBytes } from 'node:crypto';
import { quote } from './shell.js';
import { EXIT_UNTRUSTED, refuseNonRegular, TRUSTED_DIR_FN } from './trusted-dir.js';

/** Ownership and permission bits of what is written. */
export interface Ownership {
  mode: number;
  owner: string;
  group: string;
}

/** A file to write. */
export interface FileWrite extends Ownership {
  kind: 'file';
  path: string;
  content: Buffer;
  /** Copy the current file (owner and mode kept) here first; the copy and the write are one command. */
  backupTo?: string;
  /** Refuse unless the current file has this sha256, or, when null, unless there is none. */
  expectSha256?: string | null;
  /**
   * Keep the backups of this many runs (this one included): older run directories beside the
   * backup's are removed when it is first made. Old private keys must not pile up on hosts.
   */
  keepRuns?: number;
}

/** A directory to create (or whose owner and mode to fix). */
export interface DirWrite extends Ownership {
  kind: 'dir';
  path: string;
}

export type WriteItem = FileWrite | DirWrite;

/** The script, and the bytes it reads from stdin. */
export interface WriteScript {
  script: string;
  stdin: Buffer;
}

/** The line the script prints after finishing item `i`. */
export const DONE_MARK = 'rollout-done';

/** Exit statuses the script uses besides its commands' own. */
export const EXIT_CHANGED = 65;
export const EXIT_INCOMPLETE = 66;

const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/**
 * Before root acts on `$p` (set by the caller) in directory `$d`: the directory is trusted (only
 * root can change its entries, src/transport/trusted-dir.ts) and `$p` is a regular file or
 * missing, never a link: a link there could only have been put there by root, but a link is not
 * what rollout manages, and following it is how root gets tricked into writing elsewhere.
 */
const GUARD_FILE = [`[ "$d" = "$td" ] || { trusted_dir "$d" || exit ${EXIT_UNTRUSTED}; td=$d; }`, refuseNonRegular('not replaced')];

function fileSection(item: FileWrite, i: number, nonce: string): string[] {
  const sha = createHash('sha256').update(item.content).digest('hex');
  const lines = [`p=${quote(item.path)}; d=\${p%/*}; d=\${d:-/}; b=\${p##*/}; s=`, ...GUARD_FILE];
  if (item.expectSha256 === null) {
    lines.push(`if [ -e "$p" ]; then echo "$p appeared since the plan was made" >&2; exit ${EXIT_CHANGED}; fi`);
  } else if (item.expectSha256 !== undefined) {
    lines.push(`[ -e "$p" ] && set -- $(sha256sum < "$p") || set -- none`);
    lines.push(`[ "$1" = ${quote(item.expectSha256)} ] || { echo "$p changed since the plan was made" >&2; exit ${EXIT_CHANGED}; }`);
  }
  if (item.backupTo) {
    // Backups live in a directory of root's own (0700), itself checked like any other: a backup of
    // a private key must never land where another user can read or redirect it.
    lines.push(`k=${quote(item.backupTo)}`);
    // Each level is made only once the one above it is known to be root's alone.
    lines.push(
      `if [ -e "$p" ]; then kd=\${k%/*}; kb=\${kd%/*}`,
      `  [ "$kd" = "$tk" ] || { trusted_dir "\${kb%/*}" || exit ${EXIT_UNTRUSTED}; [ -d "$kb" ] || mkdir -m 0700 -- "$kb"; trusted_dir "$kb" || exit ${EXIT_UNTRUSTED}; [ -d "$kd" ] || mkdir -m 0700 -- "$kd"; trusted_dir "$kd" || exit ${EXIT_UNTRUSTED}; tk=$kd${item.keepRuns ? `; ${pruneRuns(item.keepRuns)}` : ''}; }`,
      `  if [ -e "$k" ] || [ -L "$k" ]; then echo "backup $k exists already" >&2; exit ${EXIT_UNTRUSTED}; fi`,
      '  cp -a -- "$p" "$k"; s=$k',
      'fi',
    );
  }
  const plainMode = (item.mode & ~0o666) === 0;
  lines.push(
    // The temp file is made by the shell itself (noclobber: O_EXCL, so never an existing file or a
    // planted link) under a name no one can guess, already with its final mode when the umask can
    // give it: no mktemp, no chmod. The directory is root's alone, so nothing swaps it afterwards.
    `t="$d/.$b.rollout-${nonce}-${i}"`,
    // Signals too: a dropped connection kills the script with SIGPIPE/SIGHUP, not at exit.
    `trap 'rm -f "$t"' EXIT; trap 'rm -f "$t"; exit 1' HUP INT PIPE TERM`,
    plainMode ? `umask ${octal(0o777 & ~item.mode)}; true > "$t"; umask 0077` : 'true > "$t"',
    // conv=fsync: the new content is on disk before the rename, without a separate sync.
    ...(item.content.length > 0 ? [`dd bs=${item.content.length} count=1 iflag=fullblock oflag=nofollow conv=fsync status=none of="$t"`] : []),
    // A connection lost mid-upload ends stdin early: never rename a truncated file into place.
    `set -- $(sha256sum < "$t"); [ "$1" = ${sha} ] || { echo "upload of $p arrived incomplete" >&2; exit ${EXIT_INCOMPLETE}; }`,
    `chown -h ${quote(`${item.owner}:${item.group}`)} "$t"${plainMode ? '' : `; chmod ${octal(item.mode)} "$t"`}`,
    // The backup must be on disk before the file it saves is replaced.
    '[ -z "$s" ] || sync "$s"',
    'mv -f -T -- "$t" "$p"',
    'trap - EXIT HUP INT PIPE TERM',
    `echo ${DONE_MARK} ${i}`,
  );
  return lines;
}

/**
 * Removes the oldest run directories in `$kb` (run ids sort by time) until `keep` are left, this
 * run's `$kd` always among them. `$kb` was just found trusted: rm never follows a link in it.
 */
function pruneRuns(keep: number): string {
  return `set -- "$kb"/*; n=$#; for x; do [ $n -gt ${Math.max(1, Math.floor(keep))} ] || break; [ "$x" = "$kd" ] || { rm -rf -- "$x"; n=$((n - 1)); }; done`;
}

function dirSection(item: DirWrite, i: number): string[] {
  // The parent must be root's alone; the directory itself is made or taken over (a directory the
  // sensu user owned becomes root's, so nothing in it can be swapped from then on).
  return [
    `p=${quote(item.path)}; d=\${p%/*}; d=\${d:-/}; td=`,
    `trusted_dir "$d" || exit ${EXIT_UNTRUSTED}`,
    `if [ -L "$p" ] || { [ -e "$p" ] && [ ! -d "$p" ]; }; then echo "$p is not a directory (a symbolic link or a file): not used" >&2; exit ${EXIT_UNTRUSTED}; fi`,
    `[ -d "$p" ] || mkdir -m 0700 -- "$p"; chown -h ${quote(`${item.owner}:${item.group}`)} "$p"; chmod ${octal(item.mode)} "$p"; echo ${DONE_MARK} ${i}`,
  ];
}

/** The script for `items`, in order, and its stdin. */
export function writeScript(items: readonly WriteItem[]): WriteScript {
  // noclobber: `true > "$t"` creates each temp file exclusively. umask 0077 until a file asks for
  // its own: nothing the script makes is ever readable by others before its chown. `td` caches the
  // last directory found trusted (a directory step clears it: its owner just changed).
  const lines = ['set -e -C', 'umask 0077', TRUSTED_DIR_FN, 'td=; tk='];
  const nonce = randomBytes(6).toString('hex');
  items.forEach((item, i) => lines.push(...(item.kind === 'file' ? fileSection(item, i, nonce) : dirSection(item, i))));
  // The renames themselves reach the disk with their directories, once for all of them.
  const dirs = [...new Set(items.filter((item) => item.kind === 'file').map((item) => item.path.slice(0, Math.max(1, item.path.lastIndexOf('/')))))];
  if (dirs.length > 0) lines.push(`sync -- ${dirs.map(quote).join(' ')} 2>/dev/null || true`);
  return { script: lines.join('\n'), stdin: Buffer.concat(items.flatMap((item) => (item.kind === 'file' ? [item.content] : []))) };
}

/** How many items the script finished, from its stdout. */
export function itemsDone(stdout: string): number {
  return stdout.split('\n').filter((l) => l.startsWith(`${DONE_MARK} `)).length;
}
