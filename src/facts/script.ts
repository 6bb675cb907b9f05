/**
 * The one read-only shell script that gathers a host's facts in a single round trip, and the
 * parser of its output. Paths travel base64-encoded so no file name can break a record; private
 * keys are detected on the host and only their hash comes back.
 */
import type { FileFact, HostFacts, ServiceFact } from './types.js';
import { quote } from '../transport/shell.js';

/** What to learn about one path. */
export interface PathRequest {
  path: string;
  /** `content`: bring the text back (unless it holds a private key); `meta`: only stat and hash. */
  want: 'content' | 'meta';
}

const HELPERS = `f() {
  p="$1"; w="$2"; pb=$(printf %s "$p" | base64 -w0)
  if [ ! -e "$p" ]; then echo "F $pb missing"; return 0; fi
  if [ -d "$p" ]; then echo "F $pb dir $(stat -c '%a %U %G 0' -- "$p") -"; return 0; fi
  h=$(sha256sum -- "$p" | cut -d' ' -f1)
  if grep -q 'PRIVATE KEY' -- "$p" 2>/dev/null; then c=secret
  elif [ "$w" = content ]; then c="b64:$(base64 -w0 -- "$p")"
  else c=-; fi
  echo "F $pb file $(stat -c '%a %U %G %s' -- "$p") $h $c"
}`;

/** Builds the facts script for one host (run with sudo). */
export function factsScript(paths: readonly PathRequest[], listDirs: readonly string[], unit: string): string {
  const lines = [HELPERS, 'echo "H $(hostname)"'];
  for (const p of paths) lines.push(`f ${quote(p.path)} ${p.want}`);
  for (const d of listDirs) {
    // Every file already in a managed directory: what a rollback must leave as it found it.
    lines.push(`if [ -d ${quote(d)} ]; then for x in ${quote(d)}/* ${quote(d)}/.[!.]*; do [ -e "$x" ] && f "$x" content; done; fi`);
  }
  lines.push(`systemctl show -p LoadState,ActiveState,SubState,MainPID,NRestarts ${quote(unit)} 2>/dev/null | sed 's/^/S /'`);
  lines.push('echo END');
  return lines.join('\n');
}

/** Parses the script's output into facts. Throws when the output is cut short. */
export function parseFacts(host: string, unit: string, output: string): HostFacts {
  const facts: HostFacts = {
    host,
    hostname: host,
    files: {},
    service: { unit, exists: false, activeState: 'unknown', subState: 'unknown', mainPid: 0, nRestarts: 0 },
  };
  const service: Record<string, string> = {};
  let complete = false;
  for (const line of output.split('\n')) {
    const [tag, ...rest] = line.split(' ');
    if (tag === 'H') facts.hostname = rest.join(' ').trim() || host;
    else if (tag === 'S') {
      const [k, ...v] = rest.join(' ').split('=');
      if (k) service[k] = v.join('=');
    } else if (tag === 'END') complete = true;
    else if (tag === 'F') {
      const [pb = '', state = '', mode, owner, group, size, sha, content] = rest;
      const path = Buffer.from(pb, 'base64').toString('utf8');
      const fact: FileFact = { path, exists: state !== 'missing' };
      if (state === 'dir' || state === 'file') {
        Object.assign(fact, { kind: state, mode: parseInt(mode ?? '0', 8), owner, group, size: Number(size) });
      }
      if (state === 'file') {
        fact.sha256 = sha;
        if (content === 'secret') fact.secret = true;
        else if (content?.startsWith('b64:')) fact.text = Buffer.from(content.slice(4), 'base64').toString('utf8');
      }
      facts.files[path] = fact;
    }
  }
  if (!complete) throw new Error(`facts of ${host} were cut short`);
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
