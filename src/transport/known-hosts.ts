/**
 * OpenSSH known_hosts, read the way ssh reads it: plain and hashed (`|1|salt|hmac`) host
 * patterns, `[host]:port` for non-default ports, wildcards and negation, `@revoked` keys, names
 * lower-cased before matching and hashing (as ssh does). `@cert-authority` lines are parsed but
 * never trusted: ssh2 cannot verify host certificates, so a host known only through a CA is
 * refused with a message that says so, rather than treated as unknown.
 * No well-kept npm package covers hashed entries and markers, so this is ours; it is small.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

/** One parsed known_hosts line. */
export interface KnownHostLine {
  marker: '' | '@revoked' | '@cert-authority';
  /** Comma-separated host patterns, or one hashed entry. */
  patterns: string[];
  keyType: string;
  /** Base64 of the public key blob. */
  key: string;
  /** file:line, for messages. */
  where: string;
}

/** Outcome of checking a host key. */
export type HostKeyVerdict =
  | { status: 'match' }
  | { status: 'revoked'; where: string }
  | { status: 'changed'; where: string; knownTypes: string[] }
  /** `certAuthority`: a `@cert-authority` line covers the host, which rollout cannot use. */
  | { status: 'unknown'; certAuthority?: string };

/** Parses known_hosts text; unparseable lines are ignored, as ssh does. */
export function parseKnownHosts(text: string, file: string): KnownHostLine[] {
  const lines: KnownHostLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    let marker: KnownHostLine['marker'] = '';
    if (parts[0] === '@revoked' || parts[0] === '@cert-authority') {
      marker = parts[0];
      parts.shift();
    }
    const [hosts, keyType, key] = parts;
    if (!hosts || !keyType || !key) return;
    lines.push({ marker, patterns: hosts.split(','), keyType, key, where: `${file}:${i + 1}` });
  });
  return lines;
}

/**
 * The name ssh looks up: `host` for port 22, `[host]:port` otherwise, lower-cased as ssh does
 * before it matches or hashes (a hashed entry for `Web-1` is the HMAC of `web-1`).
 */
export function hostKeyName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** Compiled patterns: every host is checked against every line, so each is compiled once a run. */
const compiled = new Map<string, RegExp>();

function globToRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const escaped = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${escaped}$`, 'i');
    compiled.set(pattern, re);
  }
  return re;
}

function hashedMatches(entry: string, name: string): boolean {
  const [, kind, salt, hash] = entry.split('|');
  if (kind !== '1' || !salt || !hash) return false;
  const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name.toLowerCase()).digest('base64');
  return mac === hash;
}

/** True when a line's host patterns select `name` (negated patterns win, as in ssh). */
function linePatternsMatch(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('|1|')) {
      if (hashedMatches(p, name)) matched = true;
      continue;
    }
    const negated = p.startsWith('!');
    const body = negated ? p.slice(1) : p;
    if (globToRegExp(body).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/**
 * Checks a presented host key against known_hosts lines for every name the host is known by
 * (address and inventory name). Revoked beats everything; a different key for a known host is
 * "changed", which must fail loudly.
 */
export function verifyHostKey(lines: readonly KnownHostLine[], names: readonly string[], keyType: string, keyBase64: string): HostKeyVerdict {
  const revoked = lines.find((l) => l.marker === '@revoked' && l.key === keyBase64);
  if (revoked) return { status: 'revoked', where: revoked.where };
  const forHost = lines.filter((l) => l.marker === '' && names.some((n) => linePatternsMatch(l.patterns, n)));
  if (forHost.some((l) => l.key === keyBase64 && l.keyType === keyType)) return { status: 'match' };
  const sameType = forHost.find((l) => l.keyType === keyType);
  if (sameType) return { status: 'changed', where: sameType.where, knownTypes: forHost.map((l) => l.keyType) };
  // Known only with other key types: ssh treats this as a mismatch too (a downgrade or a new key).
  const first = forHost[0];
  if (first) return { status: 'changed', where: first.where, knownTypes: forHost.map((l) => l.keyType) };
  const ca = lines.find((l) => l.marker === '@cert-authority' && names.some((n) => linePatternsMatch(l.patterns, n)));
  return ca ? { status: 'unknown', certAuthority: ca.where } : { status: 'unknown' };
}

/** Key types known for a host, in file order: offered first so the server picks one we can check. */
export function knownKeyTypes(lines: readonly KnownHostLine[], names: readonly string[]): string[] {
  return [...new Set(lines.filter((l) => l.marker === '' && names.some((n) => linePatternsMatch(l.patterns, n))).map((l) => l.keyType))];
}

/** OpenSSH's fingerprint: `SHA256:` and unpadded base64 of the key blob's digest. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** A known_hosts line for a newly trusted key, hashed like `ssh-keyscan -H` when asked. */
export function knownHostsEntry(name: string, keyType: string, keyBase64: string, hashed: boolean): string {
  if (!hashed) return `${name.toLowerCase()} ${keyType} ${keyBase64}`;
  const salt = randomBytes(20);
  const mac = createHmac('sha1', salt).update(name.toLowerCase()).digest('base64');
  return `|1|${salt.toString('base64')}|${mac} ${keyType} ${keyBase64}`;
}

/**
 * Whether new entries of a file should be hashed: ssh's HashKnownHosts when given, else the
 * file's own habit (every entry hashed), so a hashed file never gains a readable host name.
 */
export function shouldHash(linesOfFile: readonly KnownHostLine[], hashKnownHosts: boolean | undefined): boolean {
  if (hashKnownHosts !== undefined) return hashKnownHosts;
  const entries = linesOfFile.filter((l) => l.marker === '');
  return entries.length > 0 && entries.every((l) => l.patterns.every((p) => p.startsWith('|1|')));
}
