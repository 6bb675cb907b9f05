/**
 * The lab's PKI, built on src/certs/generate.ts: one ECDSA P-256 CA and a certificate per host
 * that covers every name and address peers dial (the host's name and address, localhost and
 * 127.0.0.1, for local checks), valid for a year, usable as server and client certificate.
 * `writeBadFixtures` adds one named variant per preflight case, each valid or invalid as named.
 * Keys are made at run time; none is committed.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createIntermediateCa, createRootCa, issueCertificate, type CertificateAuthority, type LeafOptions } from '../../src/certs/generate.js';
import { generateKeyPair, privateKeyPem, type KeyFormat } from '../../src/certs/keys.js';
import type { CertProblemKind } from '../../src/certs/preflight.js';

/** A host the lab issues a certificate for. */
export interface LabHostCert {
  name: string;
  address: string;
  /** More names or addresses to put in the SANs. */
  extraNames?: string[];
}

/** What `writeLabPki` wrote. */
export interface LabPki {
  dir: string;
  /** `dir/ca.pem`. */
  caFile: string;
  /** `dir/ca.key` (0600). */
  caKeyFile: string;
  /** The CA, to issue more certificates with (fixtures). */
  ca: CertificateAuthority;
}

const DAY_MS = 86_400_000;

type Verdict = { valid: true } | { valid: false; expect: CertProblemKind };

async function writeKey(path: string, pem: string): Promise<void> {
  await writeFile(path, pem, { mode: 0o600 });
  // `mode` only applies when the file is created; a rerun over old files must tighten them too.
  await chmod(path, 0o600);
}

/** The SANs of a lab host: its name, localhost, its address, 127.0.0.1, and any extras. */
export function labHostSans(host: LabHostCert): Pick<LeafOptions, 'dnsNames' | 'ipAddresses'> {
  const all = [host.name, 'localhost', host.address, '127.0.0.1', ...(host.extraNames ?? [])];
  const unique = [...new Set(all)];
  return { dnsNames: unique.filter((n) => isIP(n) === 0), ipAddresses: unique.filter((n) => isIP(n) !== 0) };
}

/**
 * Writes `dir/ca.pem`, `dir/ca.key` and per host `dir/<name>.pem` + `dir/<name>.key` (keys 0600).
 * Certificates are issued concurrently: key generation and signing run in libuv's pool.
 */
export async function writeLabPki(dir: string, hosts: readonly LabHostCert[], caName = 'rollout lab CA'): Promise<LabPki> {
  await mkdir(dir, { recursive: true });
  // A rotation test makes a second PKI: its CA gets another name, as a real new CA would.
  const ca = await createRootCa({ commonName: caName });
  const caFile = join(dir, 'ca.pem');
  const caKeyFile = join(dir, 'ca.key');
  await Promise.all([writeFile(caFile, ca.certPem), writeKey(caKeyFile, privateKeyPem(ca.privateKey))]);
  await Promise.all(
    hosts.map(async (host) => {
      const issued = await issueCertificate(ca, {
        commonName: host.name,
        ...labHostSans(host),
        extendedKeyUsages: ['serverAuth', 'clientAuth'],
        validityDays: 365,
      });
      await Promise.all([
        writeFile(join(dir, `${host.name}.pem`), issued.bundlePem),
        writeKey(join(dir, `${host.name}.key`), privateKeyPem(issued.privateKey)),
      ]);
    }),
  );
  return { dir, caFile, caKeyFile, ca };
}

/** A lab host with its role, for certificates that depend on it. */
export interface LabRoleHost extends LabHostCert {
  role: 'backend' | 'agent';
}

/** Which certificates besides the server ones a lab inventory gives (off by default: most tests need neither). */
export interface LabCertOptions {
  /** Per agent `<name>-client.pem`/`.key`: CN = the entity name, clientAuth only (agent mTLS). */
  clientCerts?: boolean;
  /** Per backend `<name>-dashboard.pem`/`.key`: a web UI certificate of its own. */
  dashboardCerts?: boolean;
}

/**
 * Writes the certificates `options` asks for, signed by `ca`: agents' client certificates and
 * backends' dashboard certificates (keys 0600). Rotation tests call it again with a new CA.
 */
export async function writeLabExtraCerts(dir: string, ca: CertificateAuthority, hosts: readonly LabRoleHost[], options: LabCertOptions): Promise<void> {
  await Promise.all(
    hosts.map(async (host) => {
      const want = host.role === 'agent' ? options.clientCerts : options.dashboardCerts;
      if (!want) return;
      const issued =
        host.role === 'agent'
          ? await issueCertificate(ca, { commonName: host.name, extendedKeyUsages: ['clientAuth'], validityDays: 365 })
          : await issueCertificate(ca, { commonName: `${host.name} web UI`, ...labHostSans(host), extendedKeyUsages: ['serverAuth'], validityDays: 365 });
      const base = join(dir, `${host.name}-${host.role === 'agent' ? 'client' : 'dashboard'}`);
      await Promise.all([writeFile(`${base}.pem`, issued.bundlePem), writeKey(`${base}.key`, privateKeyPem(issued.privateKey))]);
    }),
  );
}

/** The variants `writeBadFixtures` writes that every TLS client and the preflight accept. */
export const VALID_FIXTURES = ['valid', 'rsaPkcs1', 'rsaPkcs8', 'ecdsaSec1', 'ecdsaPkcs8', 'ed25519', 'intermediateBundle', 'intermediateInCaFile'] as const;

/** The variants that must fail, each with one problem of its kind. */
export const INVALID_FIXTURES = [
  'expired',
  'expiringSoon',
  'notYetValid',
  'wrongSan',
  'cnOnly',
  'keyMismatch',
  'otherCa',
  'sameNameOtherCa',
  'noServerAuth',
  'serverAuthOnly',
  'intermediateMissing',
  'encryptedKey',
  'garbledKey',
  'emptyKey',
  'emptyCa',
] as const;

/** The variants `writeBadFixtures` writes; the name says what is special about each. */
export type FixtureName = (typeof VALID_FIXTURES)[number] | (typeof INVALID_FIXTURES)[number];

/** One fixture: paths to its files, whether it should pass, and the preflight problem kind it should raise. */
export interface Fixture {
  cert: string;
  key: string;
  /** The CA file to check against: the lab's `ca.pem` unless the fixture brings its own. */
  ca: string;
  /** Whether preflight (for serverAuth + clientAuth, names `[name, address, localhost, 127.0.0.1]`) accepts it. */
  valid: boolean;
  /** The problem kind an invalid fixture raises. */
  expect?: CertProblemKind;
}

/**
 * Writes one certificate/key pair per `FixtureName` into `dir` (`<fixture>.pem`, `<fixture>.key`,
 * sometimes `<fixture>-ca.pem`) for `host`, signed by the lab's CA unless the name says otherwise.
 * Invalid ones are each wrong in exactly one way.
 */
export async function writeBadFixtures(dir: string, host: LabHostCert, pki: LabPki): Promise<Record<FixtureName, Fixture>> {
  await mkdir(dir, { recursive: true });
  const now = Date.now();
  const base: LeafOptions = { commonName: host.name, ...labHostSans(host) };
  const out: Partial<Record<FixtureName, Fixture>> = {};

  const write = async (name: FixtureName, files: { cert: string; key: string; ca?: string }, verdict: Verdict): Promise<void> => {
    const cert = join(dir, `${name}.pem`);
    const key = join(dir, `${name}.key`);
    let ca = pki.caFile;
    await writeFile(cert, files.cert);
    await writeKey(key, files.key);
    if (files.ca !== undefined) {
      ca = join(dir, `${name}-ca.pem`);
      await writeFile(ca, files.ca);
    }
    out[name] = { cert, key, ca, ...verdict };
  };
  const issue = async (
    name: FixtureName,
    options: Partial<LeafOptions>,
    format: KeyFormat,
    verdict: Verdict,
    by: CertificateAuthority = pki.ca,
  ): Promise<void> => {
    const issued = await issueCertificate(by, { ...base, ...options });
    await write(name, { cert: issued.bundlePem, key: privateKeyPem(issued.privateKey, format) }, verdict);
  };

  const otherCa = await createRootCa({ commonName: 'some other CA' });
  // Same subject as the lab CA, different key: only the signature tells them apart.
  const impostorCa = await createRootCa({ commonName: 'rollout lab CA' });
  const intermediate = await createIntermediateCa(pki.ca, { commonName: 'rollout lab intermediate CA' });

  await Promise.all([
    issue('valid', {}, 'pkcs8', { valid: true }),
    issue('expired', { notBefore: new Date(now - 400 * DAY_MS), notAfter: new Date(now - 35 * DAY_MS) }, 'pkcs8', { valid: false, expect: 'expired' }),
    issue('expiringSoon', { notBefore: new Date(now - 355 * DAY_MS), notAfter: new Date(now + 10 * DAY_MS) }, 'pkcs8', { valid: false, expect: 'expiring' }),
    issue('notYetValid', { notBefore: new Date(now + 2 * DAY_MS), validityDays: 365 }, 'pkcs8', { valid: false, expect: 'not-yet-valid' }),
    issue('wrongSan', { ipAddresses: ['127.0.0.1'] }, 'pkcs8', { valid: false, expect: 'names' }),
    issue('cnOnly', { dnsNames: ['localhost'], ipAddresses: [host.address, '127.0.0.1'] }, 'pkcs8', { valid: false, expect: 'names' }),
    issue('otherCa', {}, 'pkcs8', { valid: false, expect: 'untrusted' }, otherCa),
    issue('sameNameOtherCa', {}, 'pkcs8', { valid: false, expect: 'untrusted' }, impostorCa),
    issue('noServerAuth', { extendedKeyUsages: ['clientAuth'] }, 'pkcs8', { valid: false, expect: 'usage' }),
    issue('serverAuthOnly', { extendedKeyUsages: ['serverAuth'] }, 'pkcs8', { valid: false, expect: 'usage' }),
    issue('intermediateBundle', {}, 'pkcs8', { valid: true }, intermediate),
    issue('rsaPkcs1', { algorithm: 'rsa-2048' }, 'pkcs1', { valid: true }),
    issue('rsaPkcs8', { algorithm: 'rsa-2048' }, 'pkcs8', { valid: true }),
    issue('ecdsaSec1', {}, 'sec1', { valid: true }),
    issue('ecdsaPkcs8', {}, 'pkcs8', { valid: true }),
    issue('ed25519', { algorithm: 'ed25519' }, 'pkcs8', { valid: true }),
    (async () => {
      const [issued, stranger] = await Promise.all([issueCertificate(pki.ca, base), generateKeyPair()]);
      await write('keyMismatch', { cert: issued.certPem, key: privateKeyPem(stranger.privateKey) }, { valid: false, expect: 'key-mismatch' });
    })(),
    (async () => {
      // Leaf alone in the bundle, intermediate next to the root in the CA file: Go trusts it.
      const issued = await issueCertificate(intermediate, base);
      await write(
        'intermediateInCaFile',
        { cert: issued.certPem, key: privateKeyPem(issued.privateKey), ca: pki.ca.certPem + intermediate.certPem },
        { valid: true },
      );
      await write('intermediateMissing', { cert: issued.certPem, key: privateKeyPem(issued.privateKey) }, { valid: false, expect: 'untrusted' });
    })(),
    (async () => {
      const issued = await issueCertificate(pki.ca, base);
      const encrypted = issued.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'lab-passphrase' }) as string;
      await write('encryptedKey', { cert: issued.certPem, key: encrypted }, { valid: false, expect: 'encrypted-key' });
      const pem = privateKeyPem(issued.privateKey);
      // Damage the base64 body but keep the PEM frame, as a truncated copy would.
      const lines = pem.split('\n');
      const garbled = [lines[0], 'AAAA' + (lines[1] ?? '').slice(8), ...lines.slice(-2)].join('\n');
      await write('garbledKey', { cert: issued.certPem, key: garbled }, { valid: false, expect: 'bad-key' });
      await write('emptyKey', { cert: issued.certPem, key: '' }, { valid: false, expect: 'bad-key' });
      await write('emptyCa', { cert: issued.certPem, key: pem, ca: '# no certificate here\n' }, { valid: false, expect: 'bad-ca' });
    })(),
  ]);
  return out as Record<FixtureName, Fixture>;
}
