/**
 * Lab fault "wrong-cert": a certificate that looks right (same subject, same SANs) but is
 * self-signed, as when someone deploys a key pair from the wrong CA. Made with the openssl CLI,
 * which every lab host has.
 */
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyPair } from './tls-files.js';

/** openssl's `-subj` form of Node's multi-line subject (`CN=a\nO=b` → `/CN=a/O=b`). */
function subjectArg(subject: string): string {
  const parts = subject.split('\n').filter((l) => l.includes('='));
  return parts.length === 0 ? '/CN=sensu' : parts.map((l) => `/${l.replace(/\//g, '\\/')}`).join('');
}

/** openssl's subjectAltName syntax for Node's `DNS:a, IP Address:1.2.3.4`. */
function sanArg(san: string | undefined): string | undefined {
  if (!san) return undefined;
  const entries = san
    .split(/,\s*/)
    .map((e) => (e.startsWith('IP Address:') ? `IP:${e.slice(11)}` : e))
    .filter((e) => /^(DNS|IP|URI|email):/.test(e));
  return entries.length > 0 ? entries.join(',') : undefined;
}

/** A fresh self-signed EC P-256 key pair with the subject and SANs of `like`. */
export function selfSignedLike(like: X509Certificate): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'sensu-wrong-cert-'));
  try {
    const args = [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '30',
      '-subj',
      subjectArg(like.subject),
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      '-addext',
      'extendedKeyUsage=serverAuth,clientAuth',
    ];
    const san = sanArg(like.subjectAltName);
    if (san) args.push('-addext', `subjectAltName=${san}`);
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    return { cert, key, leaf: new X509Certificate(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
