/**
 * Root on a host never acts through a path another user can change. rollout writes, backs up,
 * restores and removes files only in directories that only root can write: then no one can plant
 * a symbolic link or swap a file between a check and the write, because no one else can touch the
 * directory's entries at all. The `sensu` user runs every check command, so a directory it owns
 * (Sensu's own guide chowns /etc/sensu/tls to it) is exactly what this refuses.
 *
 * A directory is trusted when it and every directory above it are real directories (not links)
 * owned by root, and no one else may write it: group write only for group root, never world
 * write. A directory above may be world-writable if it is sticky (like /tmp): others cannot rename
 * or remove the root-owned entry below it. One `stat` per check, whatever the depth.
 */

/** Exit status of a script that refused an untrusted path (nothing of that item was done). */
export const EXIT_UNTRUSTED = 67;

/**
 * `trusted_dir DIR`: status 0 when DIR is trusted; else 1, with one line on stderr naming the
 * first directory that is not and why. Paths are absolute (the inventory's are checked so).
 */
export const TRUSTED_DIR_FN = `trusted_dir() {
  x=$1; set -- "$1"
  while [ "$x" != / ]; do x=\${x%/*}; [ -n "$x" ] || x=/; set -- "$@" "$x"; done
  r=$(stat -c '%u %g %f %n' -- "$@" 2>/dev/null) || { echo "$1, or a directory above it, is missing or cannot be read" >&2; return 1; }
  i=0
  while read -r u g f n; do
    i=$((i + 1)); m=$((0x$f))
    if [ $((m & 0xF000)) -ne 16384 ]; then echo "$n is not a directory (a symbolic link?): root does not write through it" >&2; return 1; fi
    if [ "$u" != 0 ]; then echo "$n is owned by uid $u, not root: root does not write in a directory another user controls" >&2; return 1; fi
    w=$((m & 2)); [ "$g" = 0 ] || w=$((w | (m & 16)))
    [ $i -gt 1 ] && [ $((m & 512)) -ne 0 ] && w=0
    if [ $w -ne 0 ]; then echo "$n is writable by users other than root (group $g): root does not write in it" >&2; return 1; fi
  done <<TRUSTED_DIR_EOF
$r
TRUSTED_DIR_EOF
}`;

/**
 * The line that stops a script before root acts on `$p` when it is a link or anything but a
 * regular file (a missing one is fine): `what` says what was not done.
 */
export function refuseNonRegular(what: string): string {
  return `if [ -L "$p" ] || { [ -e "$p" ] && [ ! -f "$p" ]; }; then echo "$p is not a regular file (a symbolic link, a directory or a device): ${what}" >&2; exit ${EXIT_UNTRUSTED}; fi`;
}
