/**
 * Sensu URLs: parse them the way Sensu does, rewrite their scheme without touching the rest, and
 * say which hosts a client will dial (the names and addresses a certificate needs as SANs).
 *
 * Parsing is done by hand rather than with WHATWG `URL`: `new URL('ws://a:80')` drops the port
 * because 80 is the ws default, and then we could not tell `ws://a:80` (dial 80) from `ws://a`
 * (Sensu dials 8081). Rewriting never re-serialises: the operator's text stays, only the scheme
 * letters change.
 */
import { isIP } from 'node:net';

/** The port the agent adds to a backend-url that has none (Sensu does this, not the URL default). */
export const BACKEND_URL_DEFAULT_PORT = 8081;

/** One URL as written, split into its parts. */
export interface SensuUrl {
  /** The text it was parsed from. */
  text: string;
  /** Scheme in lower case, without `://`. */
  scheme: string;
  /** Host without IPv6 brackets, as written (case kept). */
  host: string;
  /** Port written in the URL, or undefined when there is none. */
  port: number | undefined;
  /** Path, query and fragment as written (often ''). */
  rest: string;
}

/** A host a client dials, for SAN checks: IP addresses need IP SANs, names need DNS SANs. */
export interface DialedHost {
  /** The host as written, brackets removed. */
  host: string;
  /** `ip` needs an IP SAN, `dns` a DNS SAN (Go ignores the CN). */
  kind: 'ip' | 'dns';
}

const URL_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?([/?#].*)?$/s;

/** Parse one URL; undefined when it is not `scheme://host[:port][rest]`. */
export function parseSensuUrl(text: string): SensuUrl | undefined {
  const m = URL_RE.exec(text.trim());
  if (!m) return undefined;
  const [, scheme = '', rawHost = '', port, rest = ''] = m;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (host === '') return undefined;
  return {
    text,
    scheme: scheme.toLowerCase(),
    host,
    port: port === undefined || port === '' ? undefined : Number(port),
    rest,
  };
}

/**
 * Where an agent dials for a backend-url entry: Sensu accepts only ws/wss and adds port 8081
 * when the URL has none. Returns undefined for anything Sensu would refuse at startup.
 */
export function backendUrlTarget(text: string): { scheme: 'ws' | 'wss'; host: string; port: number } | undefined {
  const u = parseSensuUrl(text);
  if (!u || (u.scheme !== 'ws' && u.scheme !== 'wss')) return undefined;
  return { scheme: u.scheme, host: u.host, port: u.port ?? BACKEND_URL_DEFAULT_PORT };
}

/** The message sensu-agent exits with for a backend-url it refuses, or undefined when it is fine. */
export function backendUrlProblem(text: string): string | undefined {
  const u = parseSensuUrl(text);
  if (u && (u.scheme === 'ws' || u.scheme === 'wss')) return undefined;
  return `backend URL (${text}) must have ws:// or wss:// scheme`;
}

/** The port a client dials: the written one, else Sensu's 8081 for ws/wss, else the scheme default. */
export function effectivePort(u: SensuUrl): number | undefined {
  if (u.port !== undefined) return u.port;
  switch (u.scheme) {
    case 'ws':
    case 'wss':
      return BACKEND_URL_DEFAULT_PORT;
    case 'http':
      return 80;
    case 'https':
      return 443;
    default:
      return undefined;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Rewrite every URL scheme `from://` to `to://` in a text that holds one URL or a list of them:
 * comma- or space-separated (`etcd-listen-client-urls`, `SENSU_BACKEND_URL`), `name=url` lists
 * (`etcd-initial-cluster`), or raw YAML/shell source with quotes and brackets around the URLs.
 * A scheme only counts at the start or after a separator, so `ws://` never matches inside
 * `wss://` and hosts, ports and paths are left exactly as written. Case-insensitive, as schemes are.
 */
export function rewriteSchemes(text: string, from: string, to: string): string {
  const re = new RegExp(`(^|[\\s,=\\[\\]"'])${escapeRe(from)}://`, 'gi');
  return text.replace(re, (_m, sep: string) => `${sep}${to}://`);
}

/** True when the text holds at least one URL with scheme `scheme` (same boundaries as rewriteSchemes). */
export function hasScheme(text: string, scheme: string): boolean {
  return new RegExp(`(^|[\\s,=\\[\\]"'])${escapeRe(scheme)}://`, 'i').test(text);
}

/** Split a URL list as Sensu accepts it: comma and/or whitespace separated; empty items dropped. */
export function splitUrlList(text: string): string[] {
  return text.split(/[\s,]+/).filter((s) => s !== '');
}

/** Parse `etcd-initial-cluster` (`name=url,name=url`). Items without `=` are returned with name ''. */
export function parseInitialCluster(text: string): { name: string; url: string }[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((item) => {
      const eq = item.indexOf('=');
      return eq < 0 ? { name: '', url: item } : { name: item.slice(0, eq), url: item.slice(eq + 1) };
    });
}

/** Parse a listen address such as `[::]:8080`, `0.0.0.0:8080` or `10.0.0.5:8080`. */
export function parseListenAddress(text: string): { host: string; port: number | undefined } {
  const m = /^(?:\[([^\]]*)\]|([^:]*))(?::(\d+))?$/.exec(text.trim());
  if (!m) return { host: text.trim(), port: undefined };
  return { host: m[1] ?? m[2] ?? '', port: m[3] === undefined ? undefined : Number(m[3]) };
}

/** True for bind-everything addresses (`[::]`, `0.0.0.0`, ''), which nobody dials. */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '' || h === '::' || h === '0.0.0.0';
}

/** Whether a host needs an IP SAN or a DNS SAN. */
export function hostKind(host: string): 'ip' | 'dns' {
  return isIP(host.replace(/^\[|\]$/g, '')) === 0 ? 'dns' : 'ip';
}

/**
 * The hosts clients will dial for these URLs, deduplicated (names case-insensitively), in first-seen
 * order. Entries that are not URLs are skipped; wildcard hosts are skipped because nobody dials them.
 */
export function dialedHosts(urls: readonly string[]): DialedHost[] {
  const seen = new Set<string>();
  const out: DialedHost[] = [];
  for (const text of urls) {
    const u = parseSensuUrl(text);
    if (!u || isWildcardHost(u.host)) continue;
    const id = u.host.toLowerCase();
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ host: u.host, kind: hostKind(u.host) });
  }
  return out;
}
