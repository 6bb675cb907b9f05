/**
 * The one read-only shell script that gathers a host's facts in a single round trip, and the
 * parser of its output. Private keys are detected on the host and only their hash comes back.
 *
 * Every process the script starts costs the host a fork and an exec (2–6 ms of CPU on a small VM,
 * and a lab runs 200 hosts on one machine), so it starts seven, whatever the number of files: one
 * `stat` over the directories above the files (root reads nothing in a directory another user
 * controls), one `stat`, one `sha256sum` and one `grep` over every file at once, one `cat | base64`
 * that carries the paths and the readable files' contents (the controller cuts them apart by size
 * and checks each piece against its hash), and `systemctl show` (test/facts-script.test.ts holds it
 * to that). The hostname, the kinds of paths and the per-file choices are shell builtins. A process per file and per field (the obvious script)
 * costs ~100 forks per host.
 *
 * Output, one record per line:
 *   H <hostname>
 *   K <one letter per path: d directory, f file, l link (not followed), o other, - missing,
 *      u in a directory root must not read through (nothing else of it is looked at)>
 *   Z <a directory root must not read through> (one line each)
 *   W <one letter per path: c content wanted, m meta only>
 *   T                       then one `stat` line per existing file or directory
 *   U                       then one `sha256sum` line per file
 *   P                       then one count of "PRIVATE KEY" lines per file
 *   B <base64 of every path, NUL-terminated, in order, then the wanted, key-free files' contents>
 *   S                       then `systemctl show` lines (Key=Value)
 *   END
 */
import { createHash } from 'node:crypto';
import type { FileFact, HostFacts, ServiceFact } from './types.js';
import { quote } from '../transport/shell.js';

/** What to learn about one path. */
export interface PathRequest {
  path: string;
  /** `content`: bring the text back (unless it holds a private key); `meta`: only stat and hash. */
  want: 'content' | 'meta';
}

/** Files larger than this are hashed but never read back (no Sensu config or certificate is). */
export const MAX_READ_BYTES = 1024 * 1024;

// Each helper gets the path list as its arguments and keeps those it needs: `for p; do shift;
// … set -- "$@" "$p"; done` filters the positional parameters in place, the one array sh has.
// `K` holds one kind letter per path (see `kinds`); the helpers walk it beside the paths instead
// of testing the paths again, so a path is looked at once and a link is never followed.
//
// `untrusted` stats every directory above the paths at once (the controller lists them, outer
// first) and keeps in B those root must not read through: not root's, writable by another user, or
// a link (src/transport/trusted-dir.ts has the same rule for writes; C: the ones whose whole chain
// is bad, sticky world-writable directories like /tmp being fine above but not as the parent).
// A path in such a directory comes back as `u`, and nothing of it is read: another user could
// swap it for a link to /etc/shadow between two reads.
const HELPERS = `NL='
'
untrusted() { B=; C=; [ $# -eq 0 ] && return 0; r=$(stat -c '%u %g %f %n' -- "$@" 2>/dev/null) || true
  while read -r u g f n; do [ -n "$n" ] || continue
    z=\${n%/*}; z=\${z:-/}; [ "$n" != / ] || z=; s=bad; c=bad
    if [ "$u" = 0 ]; then m=$((0x$f)); w=$((m & 2)); [ "$g" = 0 ] || w=$((w | (m & 16)))
      if [ $((m & 0xF000)) -eq 16384 ]; then [ $w -ne 0 ] || s=ok; if [ $w -eq 0 ] || [ $((m & 512)) -ne 0 ]; then c=ok; fi; fi; fi
    case "$NL$C" in *"$NL$z$NL"*) s=bad; c=bad;; esac
    [ $s = ok ] || B="$B$n$NL"; [ $c = ok ] || C="$C$n$NL"
  done <<UNTRUSTED_EOF
$r
UNTRUSTED_EOF
}
kinds() { K=; for p; do z=\${p%/*}; z=\${z:-/}
  case "$NL$B" in *"$NL$z$NL"*) if [ -e "$p" ] || [ -L "$p" ]; then K="\${K}u"; else K="\${K}-"; fi; continue;; esac
  if [ -L "$p" ]; then K="\${K}l"; elif [ -d "$p" ]; then K="\${K}d"; elif [ -f "$p" ]; then K="\${K}f"; elif [ -e "$p" ]; then K="\${K}o"; else K="\${K}-"; fi
done; echo "K $K"; }
stats() { k=$K; for p; do shift; x=\${k%"\${k#?}"}; k=\${k#?}; case $x in d|f) set -- "$@" "$p";; esac; done; [ $# -eq 0 ] || stat -c '%a %U %G %s' -- "$@"; }
regular() { k=$K; for p; do shift; x=\${k%"\${k#?}"}; k=\${k#?}; [ "$x" != f ] || set -- "$@" "$p"; done; [ $# -eq 0 ] || "$P" "$@"; }
sums() { P=sha256sum regular "$@"; }
counts() { P=counts1 regular "$@"; }
counts1() { grep -c -h -- 'PRIVATE KEY' "$@"; }
contents() { c=$1; t=$2; shift 2; [ $# -eq 0 ] || printf '%s\\0' "$@"; w=$W; k=$K; for p; do shift; x=\${w%"\${w#?}"}; w=\${w#?}; y=\${k%"\${k#?}"}; k=\${k#?}
  case $y in d|f) z=\${t%%"$NL"*}; t=\${t#*"$NL"};; *) continue;; esac
  [ $y = f ] || continue; n=\${c%%"$NL"*}; c=\${c#*"$NL"}; z=\${z##* }
  [ "$x" = c ] && [ "$n" = 0 ] && [ "$z" -le ${MAX_READ_BYTES} ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || cat -- "$@"; }`;

/** Every directory above the given paths, outer first, each once (what `untrusted` stats). */
function directoriesAbove(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) {
    let x = p;
    while (x.lastIndexOf('/') > 0) {
      x = x.slice(0, x.lastIndexOf('/'));
      dirs.add(x);
    }
    dirs.add('/');
  }
  return [...dirs].sort((a, b) => (a === '/' ? -1 : b === '/' ? 1 : a.split('/').length - b.split('/').length || a.localeCompare(b)));
}

/** Builds the facts script for one host (run with sudo). */
export function factsScript(paths: readonly PathRequest[], listDirs: readonly string[], unit: string): string {
  const lines = [
    HELPERS,
    `untrusted ${directoriesAbove([...paths.map((p) => p.path), ...listDirs.map((d) => `${d}/x`)])
      .map(quote)
      .join(' ')}`,
    `set -- ${paths.map((p) => quote(p.path)).join(' ')}`,
    `W=${paths.map((p) => (p.want === 'content' ? 'c' : 'm')).join('')}`,
  ];
  for (const d of listDirs) {
    // Every file already in a managed directory: what a rollback must leave as it found it. Not
    // listed when the directory is not root's alone: its names are another user's to choose.
    lines.push(
      `if [ -d ${quote(d)} ] && [ ! -L ${quote(d)} ]; then case "$NL$B" in *"$NL"${quote(d)}"$NL"*) ;; *) for x in ${quote(d)}/* ${quote(d)}/.[!.]*; do { [ -e "$x" ] || [ -L "$x" ]; } && set -- "$@" "$x" && W="\${W}c"; done;; esac; fi`,
    );
  }
  lines.push(
    // The kernel's hostname of this UTS namespace, read by a builtin; `hostname` where /proc lacks it.
    '{ read -r h < /proc/sys/kernel/hostname; } 2>/dev/null || h=$(hostname); echo "H $h"',
    'kinds "$@"',
    // The directories root will not read through, for the operator's message.
    'printf %s "$B" | while read -r x; do echo "Z $x"; done',
    'echo "W $W"',
    'T=$(stats "$@"); echo T; [ -z "$T" ] || printf \'%s\\n\' "$T"',
    'echo U; sums "$@"',
    // Counts kept for `contents`: a file holding a private key is never read back.
    'C=$(counts "$@"); echo P; [ -z "$C" ] || printf \'%s\\n\' "$C"',
    `printf 'B '; contents "$C" "$T" "$@" | base64 -w0; echo`,
    `echo S; systemctl show -p LoadState,ActiveState,SubState,MainPID,NRestarts ${quote(unit)} 2>/dev/null`,
    'echo END',
  );
  return lines.join('\n');
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * The byte offset of the first byte that is not UTF-8 (where the bad sequence starts), or
 * undefined when all is. A config in another encoding must not be decoded with replacement
 * characters and written back so.
 */
export function firstInvalidUtf8(data: Uint8Array): number | undefined {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return undefined;
  } catch {
    for (let i = 0; i < data.length; ) {
      const lead = data[i] ?? 0;
      const len = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
      if (len === 0) return i;
      const chunk = data.subarray(i, i + len);
      if (chunk.length < len) return i;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(chunk);
      } catch {
        return i;
      }
      i += len;
    }
    return data.length;
  }
}

/** Parses the script's output into facts. Throws when the output is cut short or inconsistent. */
export function parseFacts(host: string, unit: string, output: string): HostFacts {
  const facts: HostFacts = {
    host,
    hostname: host,
    files: {},
    service: { unit, exists: false, activeState: 'unknown', subState: 'unknown', mainPid: 0, nRestarts: 0 },
  };
  const service: Record<string, string> = {};
  const lines = output.split('\n');
  let kinds = '';
  let wants = '';
  let blob = Buffer.alloc(0);
  const sections: Record<'T' | 'U' | 'P' | 'S', string[]> = { T: [], U: [], P: [], S: [] };
  let section: keyof typeof sections | undefined;
  let complete = false;
  for (const line of lines) {
    const tag = line.slice(0, line.indexOf(' ') >= 0 ? line.indexOf(' ') : line.length);
    const rest = line.slice(tag.length + 1);
    if (tag === 'T' || tag === 'U' || tag === 'P' || tag === 'S') section = tag;
    else if (tag === 'H') facts.hostname = rest.trim() || host;
    else if (tag === 'K') kinds = rest;
    else if (tag === 'Z') (facts.untrustedDirs ??= []).push(rest);
    else if (tag === 'W') wants = rest;
    else if (tag === 'B') {
      section = undefined;
      blob = Buffer.from(rest, 'base64');
    } else if (tag === 'END') complete = true;
    else if (section && line !== '') sections[section].push(line);
  }
  if (!complete) throw new Error(`facts of ${host} were cut short`);
  // The blob opens with every path, NUL-terminated (a path never holds a NUL), then the contents.
  const names: string[] = [];
  let offset = 0;
  while (names.length < kinds.length) {
    const end = blob.indexOf(0, offset);
    if (end < 0) break;
    names.push(blob.subarray(offset, end).toString('utf8'));
    offset = end + 1;
  }
  for (const line of sections.S) {
    const [k, ...v] = line.split('=');
    if (k) service[k] = v.join('=');
  }
  const existing = names.filter((_, i) => kinds[i] === 'd' || kinds[i] === 'f');
  const files = names.filter((_, i) => kinds[i] === 'f');
  if (names.length !== kinds.length || sections.T.length !== existing.length || sections.U.length !== files.length || sections.P.length !== files.length) {
    throw new Error(`facts of ${host} do not add up (files changed while they were read): run again`);
  }
  const statOf = new Map(existing.map((p, i) => [p, sections.T[i] ?? '']));
  const fileIndex = new Map(files.map((p, i) => [p, i]));
  names.forEach((path, i) => {
    const kind = kinds[i];
    const fact: FileFact = { path, exists: kind !== '-' };
    const [mode, owner, group, size] = (statOf.get(path) ?? '').split(' ');
    if (kind === 'd' || kind === 'f')
      Object.assign(fact, { kind: kind === 'd' ? 'dir' : 'file', mode: parseInt(mode ?? '0', 8), owner, group, size: Number(size) });
    else if (kind === 'l') fact.kind = 'link';
    else if (kind === 'o') fact.kind = 'other';
    else if (kind === 'u') fact.untrusted = true;
    const at = fileIndex.get(path);
    if (kind === 'f' && at !== undefined) {
      // sha256sum starts a line with "\" when it had to escape the name; the hash follows.
      fact.sha256 = /[0-9a-f]{64}/.exec(sections.U[at] ?? '')?.[0] ?? '';
      if (Number(sections.P[at]) > 0) fact.secret = true;
      else if (Number(size) > MAX_READ_BYTES) fact.tooLarge = true;
      else if (wants[i] === 'c') {
        const piece = blob.subarray(offset, offset + Number(size));
        offset += Number(size);
        if (sha256(piece) !== fact.sha256) throw new Error(`facts of ${host}: ${path} changed while it was read: run again`);
        const bad = firstInvalidUtf8(piece);
        if (bad === undefined) fact.text = piece.toString('utf8');
        else fact.notUtf8At = bad;
      }
    }
    // The same path asked twice (a config also listed in its directory): the first answer stands.
    facts.files[path] ??= fact;
  });
  const svc: ServiceFact = {
    unit,
    exists: service.LoadState === 'loaded',
    activeState: service.ActiveState ?? 'unknown',
    subState: service.SubState ?? 'unknown',
    mainPid: Number(service.MainPID ?? 0),
    nRestarts: Number(service.NRestarts ?? 0),
  };
  facts.service = svc;
  return facts;
}
