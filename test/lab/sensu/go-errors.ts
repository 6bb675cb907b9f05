/**
 * Node errors turned into the texts the Go binaries print. A rollout reads these out of Sensu's
 * logs, so the stand-ins must say exactly what sensu-agent and sensu-backend say, not what Node
 * or OpenSSL would. One module, so every mapping is in one place and unit-tested.
 *
 * Ordering matters as much as wording: Go's `x509.Certificate.Verify` checks validity dates, then
 * the host name, then the chain, whereas OpenSSL checks the chain first; `verifyAsGo` re-does the
 * checks in Go's order.
 */
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { rfc3339, rfc3339Utc } from './go-time.js';

function code(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return '';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Text of Go's `syscall.Errno` for the errno codes file and socket calls meet. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'cannot assign requested address',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'broken pipe',
};

/** `open <path>: no such file or directory`, as `os.ReadFile` fails in Go. */
export function goFsError(err: unknown, path: string): string {
  const c = code(err);
  // Go opens directories fine and fails on the read instead.
  if (c === 'EISDIR') return `read ${path}: is a directory`;
  return `open ${path}: ${ERRNO_TEXT[c] ?? message(err)}`;
}

/** `host:port` as Go's `net.JoinHostPort` writes it (IPv6 in brackets). */
export function goHostPort(host: string, port: number | string): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A failed TCP dial, as `net.Dial` reports it:
 * `dial tcp 127.0.0.1:8081: connect: connection refused`,
 * `dial tcp: lookup backend-9: no such host`.
 */
export function goDialError(err: unknown, host: string, port: number): string {
  const c = code(err);
  if (c === 'ENOTFOUND' || c === 'EAI_NONAME' || c === 'EAI_AGAIN' || c === 'ENODATA') {
    return `dial tcp: lookup ${host}: no such host`;
  }
  const addr = goHostPort(host, port);
  if (c === 'ETIMEDOUT' || c === 'TIMEOUT') return `dial tcp ${addr}: i/o timeout`;
  const text = ERRNO_TEXT[c];
  return text ? `dial tcp ${addr}: connect: ${text}` : `dial tcp ${addr}: ${message(err)}`;
}

/** `listen tcp 127.0.0.1:8080: bind: address already in use`. */
export function goListenError(err: unknown, addr: string): string {
  const text = ERRNO_TEXT[code(err)];
  return text ? `listen tcp ${addr}: bind: ${text}` : `listen tcp ${addr}: ${message(err)}`;
}

/** TLS alerts a Go client reports as `remote error: tls: …`, by OpenSSL's error code. */
const REMOTE_ALERTS: Record<string, string> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'certificate required',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'bad certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'unknown certificate authority',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'handshake failure',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'protocol version not supported',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'expired certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'unknown certificate',
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: 'error decrypting message',
  ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR: 'internal error',
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: 'access denied',
};

/** OpenSSL's complaints when the peer's first bytes are not a TLS record. */
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_RECORD_LAYER_FAILURE',
]);

/**
 * A failed TLS handshake (client side), as Go's crypto/tls reports it. `local`/`remote` name the
 * connection for read errors (`read tcp 127.0.0.1:5000->127.0.0.1:8081: …`).
 */
export function goTlsHandshakeError(err: unknown, local = '', remote = ''): string {
  const c = code(err);
  if (NOT_TLS.has(c)) return 'tls: first record does not look like a TLS handshake';
  const alert = REMOTE_ALERTS[c];
  if (alert) return `remote error: tls: ${alert}`;
  if (c.startsWith('ERR_SSL_TLSV1_ALERT_') || c.startsWith('ERR_SSL_SSLV3_ALERT_')) {
    return `remote error: tls: ${c
      .replace(/^ERR_SSL_(TLSV1|SSLV3)_ALERT_/, '')
      .toLowerCase()
      .replace(/_/g, ' ')}`;
  }
  if (c === 'ERR_SSL_UNSUPPORTED_PROTOCOL' || c === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE') {
    return 'tls: server selected unsupported protocol version 301';
  }
  // Node reports a peer that hung up mid-handshake as ECONNRESET with this message; Go sees EOF.
  if (/disconnected before secure TLS connection/.test(message(err))) return 'EOF';
  if (c === 'ECONNRESET') return `read tcp ${local}->${remote}: read: connection reset by peer`;
  if (c === 'ETIMEDOUT' || c === 'TIMEOUT') return `read tcp ${local}->${remote}: i/o timeout`;
  return message(err);
}

/** `handshake failed with status 401: bad credentials\n` (sensu-go transport/client.go; body untrimmed). */
export function goHandshakeStatusError(status: number, body: string): string {
  return `handshake failed with status ${status}: ${body}`;
}

/** Canonical IPv6 text (`::1`), as Go's `net.IP.String` prints it. */
export function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail] = ip.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array<string>(8 - headParts.length - tailParts.length).fill('0');
  const groups = [...headParts, ...fill, ...tailParts].map((g) => parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) return ip;
  // Go compresses the longest run of (two or more) zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** DNS and IP subject alternative names of a peer certificate. */
export function certSans(cert: Pick<PeerCertificate, 'subjectaltname'>): { dns: string[]; ips: string[] } {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const entry of (cert.subjectaltname ?? '').split(/,\s*/)) {
    if (entry.startsWith('DNS:')) dns.push(entry.slice(4));
    else if (entry.startsWith('IP Address:')) ips.push(canonicalIp(entry.slice(11)));
  }
  return { dns, ips };
}

function matchHostname(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '').split('.');
  const h = host.toLowerCase().replace(/\.$/, '').split('.');
  if (p.length !== h.length || p.some((x) => x === '')) return false;
  return p.every((part, i) => (i === 0 && part === '*') || part === h[i]);
}

/**
 * Go's host-name check (`x509.Certificate.VerifyHostname`): IP SANs for an IP, DNS SANs for a
 * name, never the Common Name. Returns Go's error text, or undefined when the host matches.
 */
export function goHostnameError(host: string, cert: Pick<PeerCertificate, 'subjectaltname' | 'subject'>): string | undefined {
  const { dns, ips } = certSans(cert);
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare)) {
    const want = canonicalIp(bare);
    if (ips.includes(want)) return undefined;
    if (ips.length === 0) return `x509: cannot validate certificate for ${bare} because it doesn't contain any IP SANs`;
    return `x509: certificate is valid for ${ips.join(', ')}, not ${bare}`;
  }
  if (dns.some((d) => matchHostname(d, bare))) return undefined;
  const cnField = cert.subject?.CN;
  const cn = Array.isArray(cnField) ? cnField[0] : cnField;
  if (!cert.subjectaltname && cn && matchHostname(cn, bare)) {
    return 'x509: certificate relies on legacy Common Name field, use SANs instead';
  }
  if (dns.length === 0) return `x509: certificate is not valid for any names, but wanted to match ${bare}`;
  return `x509: certificate is valid for ${dns.join(', ')}, not ${bare}`;
}

/** OpenSSL chain verdicts that Go reports as an unknown authority. */
const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** What `verifyAsGo` needs to know about a finished handshake. */
export interface HandshakeFacts {
  /** Host name or IP the client dialled (URL host). */
  host: string;
  /** The server's leaf certificate. */
  cert: PeerCertificate;
  /** OpenSSL's chain verdict (`socket.authorizationError`), absent when the chain verified. */
  authorizationError?: string | undefined;
  now?: Date;
}

/**
 * Verifies a server certificate in Go's order (dates, host name, chain) and returns the error a Go
 * client logs (`tls: failed to verify certificate: x509: …`), or undefined when Go would accept it.
 */
export function verifyAsGo(facts: HandshakeFacts): string | undefined {
  const prefix = 'tls: failed to verify certificate: ';
  const now = facts.now ?? new Date();
  const notBefore = new Date(facts.cert.valid_from);
  const notAfter = new Date(facts.cert.valid_to);
  if (now < notBefore) {
    return `${prefix}x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is before ${rfc3339Utc(notBefore)}`;
  }
  if (now > notAfter) {
    return `${prefix}x509: certificate has expired or is not yet valid: current time ${rfc3339(now)} is after ${rfc3339Utc(notAfter)}`;
  }
  const hostErr = goHostnameError(facts.host, facts.cert);
  if (hostErr) return prefix + hostErr;
  // Node folds its own host-name verdict into authorizationError; Go's check already ran above.
  const verdict = facts.authorizationError === 'ERR_TLS_CERT_ALTNAME_INVALID' ? undefined : facts.authorizationError;
  if (!verdict) return undefined;
  if (UNKNOWN_AUTHORITY.has(verdict)) return `${prefix}x509: certificate signed by unknown authority`;
  if (verdict === 'INVALID_PURPOSE') return `${prefix}x509: certificate specifies an incompatible key usage`;
  if (verdict === 'CERT_HAS_EXPIRED' || verdict === 'CERT_NOT_YET_VALID') {
    return `${prefix}x509: certificate has expired or is not yet valid`;
  }
  return `${prefix}x509: ${verdict.toLowerCase().replace(/_/g, ' ')}`;
}

/**
 * Best Go text for any error Node's http/https/tls clients raise while talking to `host:port`
 * (dial errors, handshake errors, certificate verdicts). Used for etcd client diagnostics.
 */
export function goClientError(err: unknown, host: string, port: number): string {
  const c = code(err);
  if (c in ERRNO_TEXT || c === 'ENOTFOUND' || c === 'EAI_AGAIN') return goDialError(err, host, port);
  if (c === 'ERR_TLS_CERT_ALTNAME_INVALID' && err !== null && typeof err === 'object' && 'cert' in err) {
    const hostErr = goHostnameError(host, err.cert as PeerCertificate);
    if (hostErr) return `tls: failed to verify certificate: ${hostErr}`;
  }
  if (UNKNOWN_AUTHORITY.has(c)) return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  if (c.startsWith('ERR_SSL_')) return goTlsHandshakeError(err);
  return message(err);
}
