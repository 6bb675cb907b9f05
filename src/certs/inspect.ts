/**
 * What a certificate or key file holds, for display and fingerprint comparison, read with
 * node:crypto's X509Certificate. A private key is summarised by its type and the hash of its
 * public half only: nothing here can return or print private key material.
 */
import { createHash, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { parseCertificates, parsePrivateKey, type PrivateKeyFormat } from './pem.js';

/** One subjectAltName entry. */
export interface SubjectAltName {
  /** `DNS` and `IP` are what TLS clients check; the others are listed for completeness. */
  type: 'DNS' | 'IP' | 'email' | 'URI' | 'other';
  value: string;
}

/** A certificate, as `rollout certs` and preflight messages show it. */
export interface CertificateSummary {
  /** Subject common name; absent when the subject has none. */
  subjectCN?: string;
  issuerCN?: string;
  /** Whole distinguished names, one `K=V` per line as Node gives them. */
  subject: string;
  issuer: string;
  sans: SubjectAltName[];
  /** `YYYY-MM-DD` (UTC). */
  notBefore: string;
  notAfter: string;
  notBeforeDate: Date;
  notAfterDate: Date;
  /** SHA-256 of the certificate's DER, lower-case hex (`openssl x509 -fingerprint -sha256` without colons). */
  sha256: string;
  /** SHA-256 of its SubjectPublicKeyInfo: equal to the `publicKeySha256` of the matching private key. */
  publicKeySha256: string;
  /** `EC P-256`, `RSA 2048`, `Ed25519`. */
  keyType: string;
  serialNumber: string;
  isCA: boolean;
  /** Extended key usages by name (`serverAuth`…); absent when the certificate has none, which allows any. */
  extendedKeyUsages?: string[];
}

/** A certificate file: its content hash and every certificate in it, leaf first. */
export interface CertificateFileSummary {
  /** SHA-256 of the file's bytes, lower-case hex, as `sha256sum` prints it (and the facts gatherer records). */
  fileSha256: string;
  certificates: CertificateSummary[];
  /** Why no certificate could be read, when that is the case. */
  problem?: string;
}

/** A private key file, without the key. */
export interface PrivateKeySummary {
  /** SHA-256 of the file's bytes: lets a caller compare key files without reading them twice. */
  fileSha256: string;
  /** `EC P-256`, `RSA 2048`, `Ed25519`; absent with `problem`. */
  keyType?: string;
  format?: 'PKCS#8' | 'PKCS#1' | 'SEC1';
  /** SHA-256 of the public key (SPKI DER), to match against a certificate's `publicKeySha256`. */
  publicKeySha256?: string;
  /** Why the key could not be read (encrypted, garbled, missing). */
  problem?: string;
}

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

const FORMAT_NAMES: Record<PrivateKeyFormat, 'PKCS#8' | 'PKCS#1' | 'SEC1'> = { pkcs8: 'PKCS#8', pkcs1: 'PKCS#1', sec1: 'SEC1' };

const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** `EC P-256`, `RSA 2048`, `Ed25519`… for a public or private key. */
export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return `RSA ${details?.modulusLength ?? '?'}`;
    case 'rsa-pss':
      return `RSA-PSS ${details?.modulusLength ?? '?'}`;
    case 'ec': {
      const curve = details?.namedCurve ?? '?';
      return `EC ${CURVE_NAMES[curve] ?? curve}`;
    }
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

/** SHA-256 of the SubjectPublicKeyInfo of a key (public, or the public half of a private key). */
export function publicKeySha256(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(pub.export({ type: 'spki', format: 'der' }));
}

/** The `CN` of a distinguished name in Node's one-attribute-per-line form. */
export function commonName(dn: string): string | undefined {
  for (const line of dn.split('\n')) {
    if (line.startsWith('CN=')) return line.slice(3);
  }
  return undefined;
}

/** `CN=x` for a distinguished name with a CN, else the whole name on one line: how messages name certificates. */
export function shortName(dn: string): string {
  const cn = commonName(dn);
  return cn === undefined ? dn.replaceAll('\n', ', ') : `CN=${cn}`;
}

/** Compresses an IPv6 address (`0:0:0:0:0:0:0:1` → `::1`), as people write them. */
export function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

const SAN_TYPES: Record<string, SubjectAltName['type']> = { DNS: 'DNS', 'IP Address': 'IP', email: 'email', URI: 'URI' };

/**
 * Parses Node's `subjectAltName` string (`DNS:a, IP Address:1.2.3.4`). Node writes a value that
 * contains a comma, quote or other special character as a JSON string literal, so a plain split
 * on `, ` would cut such a name in two.
 */
export function parseSubjectAltNames(text: string | undefined): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  let i = 0;
  const s = text ?? '';
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const type = s.slice(i, colon);
    let value: string;
    let end: number;
    if (s[colon + 1] === '"') {
      end = colon + 2;
      while (end < s.length && s[end] !== '"') end += s[end] === '\\' ? 2 : 1;
      end += 1;
      value = JSON.parse(s.slice(colon + 1, end)) as string;
    } else {
      end = s.indexOf(', ', colon);
      if (end < 0) end = s.length;
      value = s.slice(colon + 1, end);
    }
    const kind = SAN_TYPES[type] ?? 'other';
    out.push({ type: kind, value: kind === 'IP' ? canonicalIp(value) : kind === 'other' ? `${type}:${value}` : value });
    i = s.startsWith(', ', end) ? end + 2 : end;
  }
  return out;
}

/** `DNS:a, IP:1.2.3.4`, or `none`. */
export function formatSans(sans: readonly SubjectAltName[]): string {
  if (sans.length === 0) return 'none';
  return sans.map((n) => (n.type === 'other' ? n.value : `${n.type}:${n.value}`)).join(', ');
}

/** Extended key usages by name; undefined when the certificate has no such extension. */
export function extendedKeyUsages(cert: X509Certificate): string[] | undefined {
  // Node names the *extended* key usage list `keyUsage`.
  return cert.keyUsage?.map((oid) => EKU_NAMES[oid] ?? oid);
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

/** Summarises one certificate. */
export function summarizeCertificate(cert: X509Certificate): CertificateSummary {
  // Node 20 has no validFromDate/validToDate; its validFrom/validTo text ("Nov 25 06:00:00 2027 GMT") parses.
  const notBeforeDate = new Date(cert.validFrom);
  const notAfterDate = new Date(cert.validTo);
  const subjectCN = commonName(cert.subject);
  const issuerCN = commonName(cert.issuer);
  const eku = extendedKeyUsages(cert);
  return {
    ...(subjectCN === undefined ? {} : { subjectCN }),
    ...(issuerCN === undefined ? {} : { issuerCN }),
    subject: cert.subject,
    issuer: cert.issuer,
    sans: parseSubjectAltNames(cert.subjectAltName),
    notBefore: day(notBeforeDate),
    notAfter: day(notAfterDate),
    notBeforeDate,
    notAfterDate,
    sha256: sha256Hex(cert.raw),
    publicKeySha256: publicKeySha256(cert.publicKey),
    keyType: describeKey(cert.publicKey),
    serialNumber: cert.serialNumber,
    isCA: cert.ca,
    ...(eku ? { extendedKeyUsages: eku } : {}),
  };
}

/** Summarises a certificate file (a bundle: leaf first). */
export function summarizeCertificateFile(content: string | Uint8Array): CertificateFileSummary {
  const fileSha256 = sha256Hex(content);
  const parsed = parseCertificates(content);
  if (!parsed.ok) return { fileSha256, certificates: [], problem: parsed.message };
  return { fileSha256, certificates: parsed.certificates.map(summarizeCertificate) };
}

/** Summarises a private key file without revealing the key: type, format, public key hash. */
export function summarizePrivateKey(content: string | Uint8Array): PrivateKeySummary {
  const fileSha256 = sha256Hex(content);
  const parsed = parsePrivateKey(content);
  if (!parsed.ok) return { fileSha256, problem: parsed.message };
  return { fileSha256, keyType: describeKey(parsed.key), format: FORMAT_NAMES[parsed.format], publicKeySha256: publicKeySha256(parsed.key) };
}

const short = (hex: string): string => `${hex.slice(0, 16)}…`;

/** One line: `CN=backend-1 [DNS:backend-1, IP:10.0.0.11] issued by CN=rollout CA, until 2027-11-25, EC P-256, sha256 ab12…`. */
export function formatCertificateSummary(s: CertificateSummary): string {
  return `${shortName(s.subject)} [${formatSans(s.sans)}] issued by ${shortName(s.issuer)}, valid ${s.notBefore} to ${s.notAfter}, ${s.keyType}${s.isCA ? ', CA' : ''}, sha256 ${short(s.sha256)}`;
}

/** One line: `EC P-256 private key (SEC1), public key sha256 ab12…`. */
export function formatPrivateKeySummary(s: PrivateKeySummary): string {
  if (s.problem !== undefined) return `private key file ${s.problem}`;
  return `${s.keyType ?? '?'} private key (${s.format ?? '?'}), public key sha256 ${short(s.publicKeySha256 ?? '')}`;
}

/** Whether a text contains PEM private key material: tests and log guards use it. */
export function containsPrivateKeyPem(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text);
}
