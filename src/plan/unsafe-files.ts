/**
 * Files the planner must not act on as they are: root never writes through a link or in a
 * directory another user can change, and never rewrites text it could not read faithfully.
 * The facts script (src/facts/script.ts) says what it saw; this turns that into the problem an
 * operator reads, with the fix.
 */
import type { FileFact } from '../facts/types.js';

/** Why a path cannot be planned on, and what fixes it. */
export interface UnsafeFile {
  message: string;
  fix: string;
}

const size = (bytes: number): string =>
  bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(1)} GiB` : bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${bytes} bytes`;

/**
 * The problem with acting on `fact` as root, if any. `untrustedOk`: the file is replaced without
 * being read, in a directory the same run takes back for root (a directory rollout manages).
 */
export function unsafeFile(
  path: string,
  fact: FileFact | undefined,
  options: { untrustedOk?: boolean; untrustedDirs?: readonly string[] } = {},
): UnsafeFile | undefined {
  if (!fact?.exists) return undefined;
  if (fact.untrusted && !options.untrustedOk) {
    const dir = options.untrustedDirs?.filter((d) => path.startsWith(`${d}/`)).sort((a, b) => a.length - b.length)[0];
    return {
      message: `${path} lies in ${dir ?? 'a directory'} that a user other than root owns or can write: root neither reads nor writes there`,
      fix: `make ${dir ?? 'each directory above it'} root's and writable by root alone (chown root: …; chmod go-w …), then run again`,
    };
  }
  if (fact.kind === 'link') {
    return {
      message: `${path} is a symbolic link: rollout does not follow links (root would write wherever it points)`,
      fix: `name the file itself in the inventory (readlink -f ${path}), or put the file in the link's place`,
    };
  }
  if (fact.kind === 'other') return { message: `${path} is not a regular file (a device, socket or pipe)`, fix: 'move it away' };
  if (fact.tooLarge) {
    return {
      message: `${path} is ${size(fact.size ?? 0)}, larger than any Sensu config or certificate can be`,
      fix: 'move it away; rollout will not read or back it up',
    };
  }
  if (fact.notUtf8At !== undefined) {
    return {
      message: `${path} is not UTF-8 (byte ${fact.notUtf8At} is not): rollout edits UTF-8 text only, and changed nothing`,
      fix: `convert it first, e.g. iconv -f latin1 -t utf-8 ${path}, then run again`,
    };
  }
  return undefined;
}
