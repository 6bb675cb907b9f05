/**
 * What a port serves, seen from the controller: TLS (with the certificate it presents, whether or
 * not it verifies against the CA) or plain HTTP, or nothing. The handshake never rejects the peer,
 * so an untrusted certificate is still described; `authorized` and `identityOk` say what a client
 * trusting the CA would think of it.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import { get } from './health.js';

const DAY_MS = 86_400_000;

/** A port's answer. */
export type TlsProbe =
  | {
      kind: 'tls';
      /** Subject CN of the served certificate. */
      cn: string | undefined;
      /** `YYYY-MM-DD` (UTC). */
      notAfter: string;
      daysLeft: number;
      /** The chain verifies against the CA given (OpenSSL's verdict, hostname not included). */
      authorized: boolean;
      /** Why it does not verify, as OpenSSL says it. */
      authorizationError?: string;
      /** The certificate covers the address dialled (Go ignores the CN: SANs only). */
      identityOk: boolean;
      identityError?: string;
      /** SHA-256 of the served leaf's DER, lower-case hex. */
      sha256?: string;
    }
  | { kind: 'plain'; detail: string }
  | { kind: 'down'; detail: string };

/** Options of `probeTls`. */
export interface TlsProbeOptions {
  /** PEM of the CA to verify against; absent means the system's CAs. */
  ca?: string;
  timeoutMs?: number;
  /** Path for the plain-HTTP fallback request. */
  path?: string;
}

function handshake(host: string, port: number, options: TlsProbeOptions): Promise<TlsProbe> {
  return new Promise((resolve, reject) => {
    const servername = isIP(host) === 0 ? host : undefined;
    const socket = tls.connect({
      host,
      port,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ...(servername ? { servername } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
    });
    socket.setTimeout(options.timeoutMs ?? 5000, () => socket.destroy(new Error(`no answer within ${(options.timeoutMs ?? 5000) / 1000} s`)));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const authorized = socket.authorized;
      const authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined;
      socket.destroy();
      if (!cert || Object.keys(cert).length === 0) {
        resolve({
          kind: 'tls',
          cn: undefined,
          notAfter: '?',
          daysLeft: 0,
          authorized: false,
          authorizationError: 'no certificate presented',
          identityOk: false,
        });
        return;
      }
      const identity = tls.checkServerIdentity(host, cert);
      const notAfterDate = new Date(cert.valid_to);
      const cn = cert.subject.CN;
      resolve({
        kind: 'tls',
        cn: Array.isArray(cn) ? cn.join(',') : cn,
        notAfter: notAfterDate.toISOString().slice(0, 10),
        daysLeft: Math.floor((notAfterDate.getTime() - Date.now()) / DAY_MS),
        authorized,
        ...(authorizationError ? { authorizationError } : {}),
        identityOk: identity === undefined,
        ...(identity ? { identityError: identity.message } : {}),
        sha256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
      });
    });
  });
}

function refusedOrTimeout(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return 'host unreachable';
  if (/no answer within/.test(e.message)) return e.message;
  return undefined;
}

/** Probes `host:port`: a TLS handshake first, then plain HTTP when TLS is not spoken there. */
export async function probeTls(host: string, port: number, options: TlsProbeOptions = {}): Promise<TlsProbe> {
  const bare = host.replace(/^\[|\]$/g, '');
  try {
    return await handshake(bare, port, options);
  } catch (err) {
    const down = refusedOrTimeout(err);
    if (down) return { kind: 'down', detail: down };
  }
  const urlHost = bare.includes(':') ? `[${bare}]` : bare;
  try {
    const answer = await get({ url: `http://${urlHost}:${port}${options.path ?? '/'}`, timeoutMs: options.timeoutMs ?? 5000 });
    return { kind: 'plain', detail: `HTTP ${answer.status}` };
  } catch (err) {
    return { kind: 'down', detail: refusedOrTimeout(err) ?? `neither TLS nor HTTP: ${(err as Error).message}` };
  }
}

/** True when a client trusting the CA would accept this port. */
export function probeVerifies(p: TlsProbe): boolean {
  return p.kind === 'tls' && p.authorized && p.identityOk && p.daysLeft >= 0;
}

/** One short cell: `TLS CN=backend-1 2027-11-25 (364d) verified`, `plain`, `down: …`. */
export function describeProbe(p: TlsProbe): string {
  if (p.kind === 'plain') return 'plain';
  if (p.kind === 'down') return `down (${p.detail})`;
  const verdict = probeVerifies(p)
    ? 'verified'
    : `NOT verified: ${!p.authorized ? (p.authorizationError ?? 'untrusted') : !p.identityOk ? 'name not in SANs' : 'expired'}`;
  return `TLS CN=${p.cn ?? '?'} until ${p.notAfter} (${p.daysLeft}d) ${verdict}`;
}
