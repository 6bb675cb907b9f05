/**
 * The one read-only shell script that gathers a host's facts in a single round trip, and the
 * parser of its output. Private keys are detected on the host and only their hash comes back.
 *
 * Every process the script starts costs the host a fork and an exec (2–6 ms of CPU on a small VM,
 * and a lab runs 200 hosts on one machine), so it starts five, whatever the number of files: one
 * `stat` over the directories above the files (root reads nothing in a directory another user
 * controls) and the files themselves at once, one `sha256sum` and one `grep` over every file at
 * once, one `cat` that carries the paths and the readable files' contents raw (the controller cuts
 * them apart by size and checks each piece against its hash), and `systemctl show`
 * (test/facts-script.test.ts holds it to that). The hostname, the kinds of paths and the per-file
 * choices are shell builtins. A process per file and per field (the obvious script) costs ~100
 * forks per host. A second `stat` runs only when a managed directory holds files nobody asked
 * about (not on a fleet rollout made, nor on a fresh one).
 *
 * Output, one record per line, then the raw bytes:
 *   H <hostname>
 *   K <one letter per path: d directory, f file, l link (not followed), o other, - missing,
 *      u in a directory root must not read through (nothing else of it is looked at)>
 *   Z <a directory root must not read through> (one line each)
 *   W <one letter per path: c content wanted, m meta only>
 *   T                       then one stat line (mode owner group size) per existing file or directory
 *   U                       then one `sha256sum` line per file within MAX_READ_BYTES
 *   P                       then one count of "PRIVATE KEY" lines per file within MAX_READ_BYTES
 *   S                       then `systemctl show` lines (Key=Value)
 *   B                       then, raw: every path, NUL-terminated, in order, then the wanted,
 *                           key-free files' contents; then a newline and
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

/** Files larger than this are neither hashed, searched nor read back: refused unread (no Sensu config or certificate is this large). */
export const MAX_READ_BYTES = 1024 * 1024;

/** One `stat` format for directories and files: what `untrusted` judges, then what T reports. */
const STAT_FORMAT = "'%u %g %f %a %U %G %s'";

// Each helper gets the path list as its arguments and keeps those it needs: `for p; do shift;
// … set -- "$@" "$p"; done` filters the positional parameters in place, the one array sh has.
// `RK` holds one kind letter per path as builtins saw it (`kind1`: a link is never followed), `K`
// the same with `u` for paths in a directory root must not read through; the helpers walk them
// beside the paths instead of testing the paths again.
//
// `statall` stats, in one `stat`, every directory above the paths that exists (the controller
// lists them, outer first) and then every path that is a file or a directory (never following a
// link). `untrusted` reads the directories' lines and keeps in B those root must not read through:
// not root's, writable by another user, or a link (src/transport/trusted-dir.ts has the same rule
// for writes; C: the ones whose whole chain is bad, sticky world-writable directories like /tmp
// being fine above but not as the parent). A path in such a directory comes back as `u`, and
// nothing of it is read: another user could swap it for a link to /etc/shadow between two reads.
// Its metadata was looked at (as `[ -e ]` always did), never its content. `stat` prints one line per
// path it could stat: a count that is not one per argument (something vanished between the
// builtins' look and stat's) would misalign every line after it, so the script stops instead.
const HELPERS = `NL='
'
lines() { n=0; x=$1; while [ -n "$x" ]; do n=$((n + 1)); case $x in *"$NL"*) x=\${x#*"$NL"};; *) x=;; esac; done; }
changed() { echo 'files changed while they were read: run again' >&2; exit 3; }
kind1() { if [ -L "$1" ]; then x=l; elif [ -d "$1" ]; then x=d; elif [ -f "$1" ]; then x=f; elif [ -e "$1" ]; then x=o; else x=-; fi; }
kinds() { K=; k=$RK; for p; do x=\${k%"\${k#?}"}; k=\${k#?}; z=\${p%/*}; z=\${z:-/}
  case "$NL$B" in *"$NL$z$NL"*) if [ "$x" = - ]; then K="\${K}-"; else K="\${K}u"; fi; continue;; esac; K=$K$x; done; echo "K $K"; }
stats() { T=; k=$RK; q=$K; f=$F; for p; do x=\${k%"\${k#?}"}; k=\${k#?}; y=\${q%"\${q#?}"}; q=\${q#?}
  case $x in d|f) l=\${f%%"$NL"*}; f=\${f#*"$NL"}; [ "$y" = u ] || T="$T\${l#* * * }$NL";; esac; done; }
listed() { i=0; k=$RK; for p; do shift; i=$((i + 1)); x=\${k%"\${k#?}"}; k=\${k#?}; [ $i -gt $NP ] || continue; case $x in d|f) set -- "$@" "$p";; esac; done
  [ $# -eq 0 ] || stat -c ${STAT_FORMAT} -- "$@" 2>/dev/null; }
untrusted() { B=; C=; i=0; d=$DN
  while [ $i -lt $ND ] && read -r u g f rest; do i=$((i + 1)); n=\${d%%"$NL"*}; d=\${d#*"$NL"}
    z=\${n%/*}; z=\${z:-/}; [ "$n" != / ] || z=; s=bad; c=bad
    if [ "$u" = 0 ]; then m=$((0x$f)); w=$((m & 2)); [ "$g" = 0 ] || w=$((w | (m & 16)))
      if [ $((m & 0xF000)) -eq 16384 ]; then [ $w -ne 0 ] || s=ok; if [ $w -eq 0 ] || [ $((m & 512)) -ne 0 ]; then c=ok; fi; fi; fi
    case "$NL$C" in *"$NL$z$NL"*) s=bad; c=bad;; esac
    [ $s = ok ] || B="$B$n$NL"; [ $c = ok ] || C="$C$n$NL"
  done <<UNTRUSTED_EOF
$R
UNTRUSTED_EOF
}
regular() { k=$K; t=$T; for p; do shift; x=\${k%"\${k#?}"}; k=\${k#?}
  case $x in d|f) l=\${t%%"$NL"*}; t=\${t#*"$NL"};; *) continue;; esac
  [ "$x" = f ] && [ "\${l##* }" -le ${MAX_READ_BYTES} ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || "$P" "$@"; }
sums() { P=sha256sum regular "$@"; }
counts() { P=counts1 regular "$@"; }
counts1() { grep -c -h -- 'PRIVATE KEY' "$@"; }
contents() { c=$1; t=$2; shift 2; [ $# -eq 0 ] || printf '%s\\0' "$@"; w=$W; k=$K; for p; do shift; x=\${w%"\${w#?}"}; w=\${w#?}; y=\${k%"\${k#?}"}; k=\${k#?}
  case $y in d|f) z=\${t%%"$NL"*}; t=\${t#*"$NL"};; *) continue;; esac
  z=\${z##* }; [ $y = f ] && [ "$z" -le ${MAX_READ_BYTES} ] || continue; n=\${c%%"$NL"*}; c=\${c#*"$NL"}
  [ "$x" = c ] && [ "$n" = 0 ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || cat -- "$@"; }`;

/** Every directory above the given paths, outer first, each once (what `untrusted` judges). */
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
  const asked = paths.map((p) => quote(p.path)).join(' ');
  const dirs = directoriesAbove([...paths.map((p) => p.path), ...listDirs.map((d) => `${d}/x`)]);
  const lines = [
    HELPERS,
    // One `stat`: the directories above the paths that exist (DN, ND), then every path that is a
    // file or a directory, as builtins found it (RK).
    `set -- ${dirs.map(quote).join(' ')}`,
    'DN=; ND=0; for p; do shift; { [ -e "$p" ] || [ -L "$p" ]; } || continue; set -- "$@" "$p"; DN="$DN$p$NL"; ND=$((ND + 1)); done',
    `RK=; for p in ${asked}; do kind1 "$p"; RK=$RK$x; case $x in d|f) set -- "$@" "$p";; esac; done`,
    `R=; [ $# -eq 0 ] || R=$(stat -c ${STAT_FORMAT} -- "$@" 2>/dev/null); lines "$R"; [ $n -eq $# ] || changed; [ -z "$R" ] || R="$R$NL"`,
    'untrusted',
    // F: the files' lines, after the directories'.
    'F=$R; i=0; while [ $i -lt $ND ]; do F=${F#*"$NL"}; i=$((i + 1)); done',
    `set -- ${asked}`,
    `NP=$#; W=${paths.map((p) => (p.want === 'content' ? 'c' : 'm')).join('')}`,
  ];
  for (const d of listDirs) {
    // Every file already in a managed directory: what a rollback must leave as it found it. Not
    // listed when the directory is not root's alone: its names are another user's to choose.
    // A name asked for already is not asked twice; the others are stat'ed together (\`listed\`).
    lines.push(
      `if [ -d ${quote(d)} ] && [ ! -L ${quote(d)} ]; then case "$NL$B" in *"$NL"${quote(d)}"$NL"*) ;; *) for e in ${quote(d)}/* ${quote(d)}/.[!.]*; do { [ -e "$e" ] || [ -L "$e" ]; } || continue; a=; for q in ${asked}; do [ "$q" != "$e" ] || a=1; done; [ -z "$a" ] || continue; set -- "$@" "$e"; W="\${W}c"; kind1 "$e"; RK=$RK$x; done;; esac; fi`,
    );
  }
  lines.push(
    'if [ $# -gt $NP ]; then R=$(listed "$@"); lines "$R"; m=$n; n=0; k=$RK; i=0; while [ -n "$k" ]; do i=$((i + 1)); [ $i -le $NP ] || case $k in d*|f*) n=$((n + 1));; esac; k=${k#?}; done; [ $m -eq $n ] || changed; [ -z "$R" ] || F="$F$R$NL"; fi',
    // The kernel's hostname of this UTS namespace, read by a builtin; `hostname` where /proc lacks it.
    '{ read -r h < /proc/sys/kernel/hostname; } 2>/dev/null || h=$(hostname); echo "H $h"',
    'kinds "$@"',
    // The directories root will not read through, for the operator's message.
    'x=$B; while [ -n "$x" ]; do echo "Z ${x%%"$NL"*}"; x=${x#*"$NL"}; done',
    'echo "W $W"',
    'stats "$@"; echo T; printf %s "$T"',
    'echo U; sums "$@"',
    // Counts kept for `contents`: a file holding a private key is never read back.
    'C=$(counts "$@"); echo P; [ -z "$C" ] || printf \'%s\\n\' "$C"',
    `echo S; systemctl show -p LoadState,ActiveState,SubState,MainPID,NRestarts ${quote(unit)} 2>/dev/null`,
    // Raw bytes last: nothing after them is read as lines.
    'echo B; contents "$C" "$T" "$@"; echo; echo END',
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
export function parseFacts(host: string, unit: string, output: Buffer): HostFacts {
  const facts: HostFacts = {
    host,
    hostname: host,
    files: {},
    service: { unit, exists: false, activeState: 'unknown', subState: 'unknown', mainPid: 0, nRestarts: 0 },
  };
  const service: Record<string, string> = {};
  // Lines up to the one that is just "B" (no record is), then raw bytes, a newline and END.
  const marker = output.indexOf('\nB\n');
  const tail = Buffer.from('\nEND\n');
  if (marker < 0 || output.length < marker + 3 + tail.length - 1 || !output.subarray(output.length - tail.length).equals(tail))
    throw new Error(`facts of ${host} were cut short`);
  const blob = output.subarray(marker + 3, output.length - tail.length);
  let kinds = '';
  let wants = '';
  const sections: Record<'T' | 'U' | 'P' | 'S', string[]> = { T: [], U: [], P: [], S: [] };
  let section: keyof typeof sections | undefined;
  for (const line of output.subarray(0, marker).toString('utf8').split('\n')) {
    const tag = line.slice(0, line.indexOf(' ') >= 0 ? line.indexOf(' ') : line.length);
    const rest = line.slice(tag.length + 1);
    if (tag === 'T' || tag === 'U' || tag === 'P' || tag === 'S') section = tag;
    else if (tag === 'H') facts.hostname = rest.trim() || host;
    else if (tag === 'K') kinds = rest;
    else if (tag === 'Z') (facts.untrustedDirs ??= []).push(rest);
    else if (tag === 'W') wants = rest;
    else if (section && line !== '') sections[section].push(line);
  }
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
  const statOf = new Map(existing.map((p, i) => [p, sections.T[i] ?? '']));
  const sizeOf = (p: string): number => Number((statOf.get(p) ?? '').split(' ')[3] ?? 0);
  // Hashed and searched for keys: regular files within the limit (a larger one is refused unread).
  const files = names.filter((p, i) => kinds[i] === 'f' && sizeOf(p) <= MAX_READ_BYTES);
  if (names.length !== kinds.length || sections.T.length !== existing.length || sections.U.length !== files.length || sections.P.length !== files.length) {
    throw new Error(`facts of ${host} do not add up (files changed while they were read): run again`);
  }
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
    if (kind === 'f' && Number(size) > MAX_READ_BYTES) fact.tooLarge = true;
    else if (kind === 'f' && at !== undefined) {
      // sha256sum starts a line with "\" when it had to escape the name; the hash follows.
      fact.sha256 = /[0-9a-f]{64}/.exec(sections.U[at] ?? '')?.[0] ?? '';
      if (Number(sections.P[at]) > 0) fact.secret = true;
      else if (wants[i] === 'c') {
        const piece = blob.subarray(offset, offset + Number(size));
        offset += Number(size);
        if (sha256(piece) !== fact.sha256) throw new Error(`facts of ${host}: ${path} changed while it was read: run again`);
        const bad = firstInvalidUtf8(piece);
        if (bad === undefined) fact.text = piece.toString('utf8');
        else fact.notUtf8At = bad;
      }
    }
    // Paths come once (the script skips a managed directory's names asked for already); should one
    // come twice, the first answer stands.
    facts.files[path] ??= fact;
  });
  // Every byte cat sent was a wanted file's: more means a file grew after it was stat'ed.
  if (offset !== blob.length) throw new Error(`facts of ${host}: a file changed while it was read: run again`);
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
