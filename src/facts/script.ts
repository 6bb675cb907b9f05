/**
 * The one read-only shell script that gathers a host's facts in a single round trip, and the
 * parser of its output. Private keys are detected on the host and only their hash comes back.
 *
 * The script forks a handful of processes per host, whatever the number of files: one `stat`,
 * one `sha256sum` and one `grep` over every file at once, and the readable files' contents
 * concatenated through one `base64` (the controller cuts them apart by size and checks each piece
 * against its hash). A process per file and per field (the obvious script) costs ~100 forks per
 * host, which on 200 hosts is more CPU than everything else in a dry run.
 *
 * Output, one record per line:
 *   H <hostname>
 *   N <base64 of every path, NUL-terminated, in order>
 *   K <one letter per path: d directory, f file, o other, - missing>
 *   W <one letter per path: c content wanted, m meta only>
 *   T                       then one `stat` line per existing file or directory
 *   U                       then one `sha256sum` line per file
 *   P                       then one count of "PRIVATE KEY" lines per file
 *   B <base64 of the wanted, key-free files' contents, concatenated in order>
 *   S <systemctl show property>
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
const HELPERS = `kinds() { k=; for p; do if [ -d "$p" ]; then k="\${k}d"; elif [ -f "$p" ]; then k="\${k}f"; elif [ -e "$p" ]; then k="\${k}o"; else k="\${k}-"; fi; done; echo "K $k"; }
stats() { for p; do shift; { [ -d "$p" ] || [ -f "$p" ]; } && set -- "$@" "$p"; done; [ $# -eq 0 ] || stat -c '%a %U %G %s' -- "$@"; }
sums() { for p; do shift; [ -f "$p" ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || sha256sum -- "$@"; }
counts() { for p; do shift; [ -f "$p" ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || grep -c -h -- 'PRIVATE KEY' "$@"; }
contents() { c=$1; shift; w=$W; for p; do shift; x=\${w%"\${w#?}"}; w=\${w#?}; [ -f "$p" ] || continue; n=\${c%%' '*}; c=\${c#*' '}; [ "$x" = c ] && [ "$n" = 0 ] && set -- "$@" "$p"; done; printf 'B '; [ $# -eq 0 ] || cat -- "$@" | base64 -w0; echo; }`;

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
    // The kernel's hostname of this UTS namespace, without a fork; `hostname` where /proc lacks it.
    'h=$(cat /proc/sys/kernel/hostname 2>/dev/null || hostname); echo "H $h"',
    `printf 'N '; [ $# -eq 0 ] || printf '%s\\0' "$@" | base64 -w0; echo`,
    'kinds "$@"',
    'echo "W $W"',
    'echo T; stats "$@"',
    'echo U; sums "$@"',
    // Counts kept for `contents`: a file holding a private key is never read back.
    'C=$(counts "$@" | tr "\\n" " "); echo P; for n in $C; do echo "$n"; done',
    'contents "$C" "$@"',
    `systemctl show -p LoadState,ActiveState,SubState,MainPID,NRestarts ${quote(unit)} 2>/dev/null | sed 's/^/S /'`,
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
  let names: string[] = [];
  let kinds = '';
  let wants = '';
  let blob = Buffer.alloc(0);
  const sections: Record<'T' | 'U' | 'P', string[]> = { T: [], U: [], P: [] };
  let section: keyof typeof sections | undefined;
  let complete = false;
  for (const line of lines) {
    const tag = line.slice(0, line.indexOf(' ') >= 0 ? line.indexOf(' ') : line.length);
    const rest = line.slice(tag.length + 1);
    if (tag === 'T' || tag === 'U' || tag === 'P') section = tag;
    else if (tag === 'H') facts.hostname = rest.trim() || host;
    else if (tag === 'N') names = rest ? Buffer.from(rest, 'base64').toString('utf8').split('\0').slice(0, -1) : [];
    else if (tag === 'K') kinds = rest;
    else if (tag === 'W') wants = rest;
    else if (tag === 'B') {
      section = undefined;
      blob = Buffer.from(rest, 'base64');
    } else if (tag === 'S') {
      const [k, ...v] = rest.split('=');
      if (k) service[k] = v.join('=');
    } else if (tag === 'END') complete = true;
    else if (section && line !== '') sections[section].push(line);
  }
  if (!complete) throw new Error(`facts of ${host} were cut short`);
  const existing = names.filter((_, i) => kinds[i] === 'd' || kinds[i] === 'f');
  const files = names.filter((_, i) => kinds[i] === 'f');
  if (names.length !== kinds.length || sections.T.length !== existing.length || sections.U.length !== files.length || sections.P.length !== files.length) {
    throw new Error(`facts of ${host} do not add up (files changed while they were read): run again`);
  }
  const statOf = new Map(existing.map((p, i) => [p, sections.T[i] ?? '']));
  const fileIndex = new Map(files.map((p, i) => [p, i]));
  let offset = 0;
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
