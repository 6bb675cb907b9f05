/**
 * The one read-only shell script that gathers a host's facts in a single round trip, and the
 * parser of its output. Private keys are detected on the host and only their hash comes back.
 *
 * Every process the script starts costs the host a fork and an exec (2–6 ms of CPU on a small VM,
 * and a lab runs 200 hosts on one machine), so it starts six, whatever the number of files: one
 * `stat`, one `sha256sum` and one `grep` over every file at once, one `cat | base64` that carries
 * the paths and the readable files' contents (the controller cuts them apart by size and checks
 * each piece against its hash), and `systemctl show` (test/facts-script.test.ts holds it to that). The hostname, the kinds of paths and the
 * per-file choices are shell builtins. A process per file and per field (the obvious script)
 * costs ~100 forks per host.
 *
 * Output, one record per line:
 *   H <hostname>
 *   K <one letter per path: d directory, f file, o other, - missing>
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

// Each helper gets the path list as its arguments and keeps those it needs: `for p; do shift;
// … set -- "$@" "$p"; done` filters the positional parameters in place, the one array sh has.
const HELPERS = `NL='
'
kinds() { k=; for p; do if [ -d "$p" ]; then k="\${k}d"; elif [ -f "$p" ]; then k="\${k}f"; elif [ -e "$p" ]; then k="\${k}o"; else k="\${k}-"; fi; done; echo "K $k"; }
stats() { for p; do shift; { [ -d "$p" ] || [ -f "$p" ]; } && set -- "$@" "$p"; done; [ $# -eq 0 ] || stat -c '%a %U %G %s' -- "$@"; }
sums() { for p; do shift; [ -f "$p" ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || sha256sum -- "$@"; }
counts() { for p; do shift; [ -f "$p" ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || grep -c -h -- 'PRIVATE KEY' "$@"; }
contents() { c=$1; shift; [ $# -eq 0 ] || printf '%s\\0' "$@"; w=$W; for p; do shift; x=\${w%"\${w#?}"}; w=\${w#?}; [ -f "$p" ] || continue; n=\${c%%"$NL"*}; c=\${c#*"$NL"}; [ "$x" = c ] && [ "$n" = 0 ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || cat -- "$@"; }`;

/** Builds the facts script for one host (run with sudo). */
export function factsScript(paths: readonly PathRequest[], listDirs: readonly string[], unit: string): string {
  const lines = [
    HELPERS,
    `set -- ${paths.map((p) => quote(p.path)).join(' ')}`,
    `W=${paths.map((p) => (p.want === 'content' ? 'c' : 'm')).join('')}`,
  ];
  for (const d of listDirs) {
    // Every file already in a managed directory: what a rollback must leave as it found it.
    lines.push(`if [ -d ${quote(d)} ]; then for x in ${quote(d)}/* ${quote(d)}/.[!.]*; do [ -e "$x" ] && set -- "$@" "$x" && W="\${W}c"; done; fi`);
  }
  lines.push(
    // The kernel's hostname of this UTS namespace, read by a builtin; `hostname` where /proc lacks it.
    '{ read -r h < /proc/sys/kernel/hostname; } 2>/dev/null || h=$(hostname); echo "H $h"',
    'kinds "$@"',
    'echo "W $W"',
    'echo T; stats "$@"',
    'echo U; sums "$@"',
    // Counts kept for `contents`: a file holding a private key is never read back.
    'C=$(counts "$@"); echo P; [ -z "$C" ] || printf \'%s\\n\' "$C"',
    `printf 'B '; contents "$C" "$@" | base64 -w0; echo`,
    `echo S; systemctl show -p LoadState,ActiveState,SubState,MainPID,NRestarts ${quote(unit)} 2>/dev/null`,
    'echo END',
  );
  return lines.join('\n');
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

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
    if (kind === 'd' || kind === 'f') Object.assign(fact, { kind: kind === 'd' ? 'dir' : 'file', mode: parseInt(mode ?? '0', 8), owner, group, size: Number(size) });
    const at = fileIndex.get(path);
    if (kind === 'f' && at !== undefined) {
      // sha256sum starts a line with "\" when it had to escape the name; the hash follows.
      fact.sha256 = /[0-9a-f]{64}/.exec(sections.U[at] ?? '')?.[0] ?? '';
      if (Number(sections.P[at]) > 0) fact.secret = true;
      else if (wants[i] === 'c') {
        const piece = blob.subarray(offset, offset + Number(size));
        offset += Number(size);
        if (sha256(piece) !== fact.sha256) throw new Error(`facts of ${host}: ${path} changed while it was read: run again`);
        fact.text = piece.toString('utf8');
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
