/**
 * Host keys as Ansible reads them: `agent-[01:20]`, `db-[a:f]`, `web[1:10:2]`, several ranges in
 * one key, and a `name:port` suffix (`10.0.0.5:2222`, `[2001:db8::1]:2222`).
 */
import { isIP } from 'node:net';

/** A host key expanded: the host names, and the port if the key carried one. */
export type HostPatternResult = { ok: true; hosts: string[]; port?: number } | { ok: false; message: string };

/** A range bigger than this is almost certainly a typo (`[1:10000000]`), and would exhaust memory. */
export const MAX_RANGE_HOSTS = 10_000;

// Ansible's string.ascii_letters order, so `[a:Z]` means a…z then A…Z, as there.
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

class PatternError extends Error {}

/**
 * Why a name cannot be an inventory host, if it cannot. Names become parts of paths on the hosts
 * (`/etc/sensu/tls/<name>.pem`) and of files on this machine, so only what a host name or an
 * address may hold: letters, digits, `-`, `_`, `.` (no `..`, no leading `.`), or an IPv6 address.
 */
export function hostNameProblem(name: string): string | undefined {
  if (isIP(name) === 6) return undefined;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name) || name.includes('..')) {
    return `"${name}" is not a host name: use letters, digits, -, _ and . only (it becomes part of file names on the hosts)`;
  }
  if (name.length > 253) return `"${name.slice(0, 20)}…" is longer than a host name can be (253)`;
  return undefined;
}

/** Expands one host key of a `hosts:` mapping. Never throws: a bad key gives `ok: false`. */
export function expandHostPattern(key: string): HostPatternResult {
  try {
    const { name, port } = splitPort(key.trim());
    if (name === '') throw new PatternError('empty host name');
    if (/\s/.test(name)) throw new PatternError('a host name cannot contain spaces');
    const hosts = expandRanges(name);
    for (const host of hosts) {
      const problem = hostNameProblem(host);
      if (problem) throw new PatternError(problem);
    }
    return port === undefined ? { ok: true, hosts } : { ok: true, hosts, port };
  } catch (e) {
    if (e instanceof PatternError) return { ok: false, message: e.message };
    throw e;
  }
}

function splitPort(key: string): { name: string; port?: number } {
  // `[2001:db8::1]:2222`: brackets around an IPv6 address, not a range (a range has one or two colons).
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(key);
  if (v6?.[1] !== undefined && (v6[1].match(/:/g) ?? []).length >= 2) {
    return v6[2] === undefined ? { name: v6[1] } : { name: v6[1], port: parsePort(v6[2]) };
  }
  const colons = colonsOutsideBrackets(key);
  if (colons.length === 0) return { name: key };
  const at = colons[0] ?? 0;
  if (colons.length === 1) {
    return { name: key.slice(0, at), port: parsePort(key.slice(at + 1)) };
  }
  // Two or more colons outside brackets: a bare IPv6 address, which cannot carry a port.
  if (/^[0-9a-fA-F:.]+$/.test(key)) return { name: key };
  throw new PatternError('too many ":" in host name (use name:port, or [ipv6]:port)');
}

function colonsOutsideBrackets(s: string): number[] {
  const out: number[] = [];
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ':' && depth === 0) out.push(i);
  }
  return out;
}

function parsePort(text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PatternError(`bad port "${text}" after ":" (expected integer 1–65535)`);
  }
  return port;
}

/** Expands the first `[…]` range, then recurses on each result, as Ansible's expand_hostname_range does. */
function expandRanges(name: string): string[] {
  const open = name.indexOf('[');
  const close = name.indexOf(']');
  if (open === -1 && close === -1) return [name];
  if (close === -1) throw new PatternError('"[" without "]" in host range');
  if (open === -1 || close < open) throw new PatternError('"]" without "[" in host range');
  const head = name.slice(0, open);
  const inner = name.slice(open + 1, close);
  const tail = name.slice(close + 1);
  const items = rangeItems(inner);
  const out: string[] = [];
  for (const item of items) {
    for (const host of expandRanges(head + item + tail)) {
      out.push(host);
      if (out.length > MAX_RANGE_HOSTS) {
        throw new PatternError(`host range expands to more than ${MAX_RANGE_HOSTS} hosts`);
      }
    }
  }
  return out;
}

function rangeItems(inner: string): string[] {
  const bounds = inner.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) {
    throw new PatternError(`bad host range [${inner}]: expected [begin:end] or [begin:end:step]`);
  }
  const [rawBegin = '', end = '', rawStep] = bounds;
  const begin = rawBegin === '' ? '0' : rawBegin;
  if (end === '') throw new PatternError(`bad host range [${inner}]: missing end`);
  let step = 1;
  if (rawStep !== undefined) {
    step = /^\d+$/.test(rawStep) ? Number(rawStep) : NaN;
    if (!Number.isInteger(step) || step < 1) {
      throw new PatternError(`bad host range [${inner}]: step must be a positive integer`);
    }
  }

  const bi = begin.length === 1 ? LETTERS.indexOf(begin) : -1;
  const ei = end.length === 1 ? LETTERS.indexOf(end) : -1;
  if (bi !== -1 || ei !== -1) {
    if (bi === -1 || ei === -1) {
      throw new PatternError(`bad host range [${inner}]: begin and end must both be letters or both numbers`);
    }
    if (bi > ei) throw new PatternError(`bad host range [${inner}]: begin comes after end`);
    const letters: string[] = [];
    for (let i = bi; i <= ei; i += step) letters.push(LETTERS[i] ?? '');
    return letters;
  }

  if (!/^\d+$/.test(begin) || !/^\d+$/.test(end)) {
    throw new PatternError(`bad host range [${inner}]: expected numbers or single letters`);
  }
  // A leading zero asks for zero padding to the width of the bounds (`[01:20]` → 01…20).
  const padded = begin.length > 1 && begin.startsWith('0');
  if (padded && begin.length !== end.length) {
    throw new PatternError(`bad host range [${inner}]: zero-padded begin and end must have the same width`);
  }
  const b = Number(begin);
  const e = Number(end);
  if (b > e) throw new PatternError(`bad host range [${inner}]: begin is greater than end`);
  if ((e - b) / step >= MAX_RANGE_HOSTS) {
    throw new PatternError(`host range expands to more than ${MAX_RANGE_HOSTS} hosts`);
  }
  const out: string[] = [];
  for (let i = b; i <= e; i += step) out.push(padded ? String(i).padStart(begin.length, '0') : String(i));
  return out;
}
