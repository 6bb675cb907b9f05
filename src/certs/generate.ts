/**
 * Certificate generation with @peculiar/x509 over Node's WebCrypto: a root CA, intermediates,
 * and leaf certificates for Sensu's listeners. A CA can also be reloaded from its PEM files, so
 * `rollout certs` can keep signing with the CA a user already has. Every certificate gets a
 * Subject Key Identifier, and issued ones the matching Authority Key Identifier, so OpenSSL and
 * Go find issuers by key, not only by name.
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { InputError } from '../errors.js';
import { generateKeyPair, spkiDer, toSigningKey, type KeyAlgorithm, type KeyPair, type SigningKey } from './keys.js';
import { errorText, parseCertificates, parsePrivateKey } from './pem.js';
import { x509 } from './x509.js';

const DAY_MS = 86_400_000;
/** Certificates start a little in the past: a host whose clock is behind must still accept them. */
const BACKDATE_MS = 5 * 60_000;

/** Extended key usages a Sensu certificate can need. */
export type ExtendedKeyUsageName = 'serverAuth' | 'clientAuth';

/** Key usages (the X.509 `keyUsage` bits) rollout sets. */
export type KeyUsageName = 'digitalSignature' | 'keyEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';

/** A CA that can sign: its certificate, its key, and what goes after a leaf in a bundle. */
export interface CertificateAuthority {
  /** PEM of this CA's certificate. */
  readonly certPem: string;
  /**
   * PEM to append after a leaf this CA issues: empty for a root, this certificate plus its
   * parents' intermediates for an intermediate (never the root: peers have it in their CA file).
   */
  readonly chainPem: string;
  /** The CA's private key. A `KeyObject`: printing it shows no key material. */
  readonly privateKey: KeyObject;
  /** The parsed certificate, for subject name and key identifier. */
  readonly certificate: x509.X509Certificate;
  /** The key in the form @peculiar/x509 signs with, converted once. */
  readonly signer: SigningKey;
}

/** What `issueCertificate` returns. */
export interface IssuedCertificate {
  /** PEM of the leaf certificate alone. */
  certPem: string;
  /** The bundle Sensu's `cert-file` wants: leaf first, then the issuing CA's intermediates. */
  bundlePem: string;
  /** The leaf's private key; write it with `privateKeyPem` in the format wanted. */
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Validity of a certificate: explicit dates win over `validityDays`. Past dates are allowed (expired fixtures). */
export interface Validity {
  /** Default: five minutes ago. */
  notBefore?: Date;
  /** Default: `notBefore` + five minutes + `validityDays`. */
  notAfter?: Date;
  validityDays?: number;
}

/** Options of `createRootCa`. */
export interface RootCaOptions extends Validity {
  /** Default `rollout CA`. */
  commonName?: string;
  /** Default `ecdsa-p256`. */
  algorithm?: KeyAlgorithm;
  /** Use this key instead of generating one. */
  keyPair?: KeyPair;
}

/** Options of `createIntermediateCa`. */
export interface IntermediateCaOptions extends RootCaOptions {
  /** basicConstraints pathLenConstraint; absent means unlimited. */
  pathLength?: number;
  /** Restricts what the intermediate may issue for (Go checks extended key usage along the chain). */
  extendedKeyUsages?: ExtendedKeyUsageName[];
}

/** Options of `issueCertificate`. */
export interface LeafOptions extends Validity {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Default both `serverAuth` and `clientAuth`; an empty list leaves the extension out (any usage). */
  extendedKeyUsages?: ExtendedKeyUsageName[];
  /** Default `digitalSignature`, plus `keyEncipherment` for RSA (TLS 1.2 RSA key exchange). */
  keyUsages?: KeyUsageName[];
  /** Default `ecdsa-p256`; ignored when `keyPair` is given. */
  algorithm?: KeyAlgorithm;
  /** Issue for an existing key (renewal) instead of generating one. */
  keyPair?: KeyPair;
}

const KEY_USAGE_FLAGS: Record<KeyUsageName, x509.KeyUsageFlags> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
};

const EKU_OIDS: Record<ExtendedKeyUsageName, x509.ExtendedKeyUsage> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
};

function validity(v: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = v.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const notAfter = v.notAfter ?? new Date(notBefore.getTime() + BACKDATE_MS + (v.validityDays ?? defaultDays) * DAY_MS);
  if (notAfter <= notBefore) throw new Error(`notAfter (${notAfter.toISOString()}) must be later than notBefore (${notBefore.toISOString()})`);
  return { notBefore, notAfter };
}

function keyUsages(names: readonly KeyUsageName[]): x509.KeyUsagesExtension {
  const flags = names.reduce((acc, n) => acc | KEY_USAGE_FLAGS[n], 0);
  return new x509.KeyUsagesExtension(flags, true);
}

const cnName = (commonName: string): x509.JsonName => [{ CN: [commonName] }];

/** Builds a CA object around a certificate and its key. */
async function authority(certificate: x509.X509Certificate, privateKey: KeyObject, chainPem: string): Promise<CertificateAuthority> {
  return { certPem: pemOf(certificate), chainPem, privateKey, certificate, signer: await toSigningKey(privateKey) };
}

const pemOf = (cert: x509.X509Certificate): string => `${cert.toString('pem')}\n`;

/** The issuer-side extensions every issued certificate carries. */
async function issuerExtensions(issuer: CertificateAuthority | undefined, publicKeyDer: Buffer): Promise<x509.Extension[]> {
  // RFC 5280's method 1 (SHA-1 of the key bits), as OpenSSL computes it too.
  const ski = await x509.SubjectKeyIdentifierExtension.create(publicKeyDer);
  if (!issuer) return [ski];
  const issuerSki = issuer.certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  // Without a SKI on the issuer an AKI could only be a guess, and a wrong one breaks chain building.
  return issuerSki ? [ski, new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId)] : [ski];
}

/** What `sign` needs: whose certificate, and who signs it (a CA, or the subject's own key for a root). */
interface SignRequest {
  subject: string;
  publicKey: KeyObject;
  by: { ca: CertificateAuthority } | { selfSigned: SigningKey };
  dates: { notBefore: Date; notAfter: Date };
  extensions: x509.Extension[];
}

async function sign(req: SignRequest): Promise<x509.X509Certificate> {
  const der = spkiDer(req.publicKey);
  const ca = 'ca' in req.by ? req.by.ca : undefined;
  const signer = 'ca' in req.by ? req.by.ca.signer : req.by.selfSigned;
  return x509.X509CertificateGenerator.create({
    subject: cnName(req.subject),
    // The issuer's encoded name, not a re-encoding of its text: name matching is byte-sensitive in places.
    issuer: ca ? ca.certificate.subjectName : cnName(req.subject),
    publicKey: der,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    ...req.dates,
    extensions: [...req.extensions, ...(await issuerExtensions(ca, der))],
  });
}

/** Creates a self-signed root CA (default: ECDSA P-256, ten years). */
export async function createRootCa(options: RootCaOptions = {}): Promise<CertificateAuthority> {
  const keys = options.keyPair ?? (await generateKeyPair(options.algorithm));
  const cert = await sign({
    subject: options.commonName ?? 'rollout CA',
    publicKey: keys.publicKey,
    by: { selfSigned: await toSigningKey(keys.privateKey) },
    dates: validity(options, 3650),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), keyUsages(['keyCertSign', 'cRLSign'])],
  });
  return authority(cert, keys.privateKey, '');
}

/** Creates an intermediate CA signed by `parent` (default: five years). */
export async function createIntermediateCa(parent: CertificateAuthority, options: IntermediateCaOptions = {}): Promise<CertificateAuthority> {
  const keys = options.keyPair ?? (await generateKeyPair(options.algorithm));
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(true, options.pathLength, true), keyUsages(['keyCertSign', 'cRLSign'])];
  if (options.extendedKeyUsages?.length) extensions.push(new x509.ExtendedKeyUsageExtension(options.extendedKeyUsages.map((u) => EKU_OIDS[u])));
  const cert = await sign({
    subject: options.commonName ?? 'rollout intermediate CA',
    publicKey: keys.publicKey,
    by: { ca: parent },
    dates: validity(options, 1825),
    extensions,
  });
  return authority(cert, keys.privateKey, pemOf(cert) + parent.chainPem);
}

/** Issues a leaf certificate (default: ECDSA P-256, one year, serverAuth + clientAuth). */
export async function issueCertificate(ca: CertificateAuthority, options: LeafOptions): Promise<IssuedCertificate> {
  const keys = options.keyPair ?? (await generateKeyPair(options.algorithm));
  for (const ip of options.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new Error(`not an IP address: ${ip}`);
  }
  const names: x509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const eku = options.extendedKeyUsages ?? ['serverAuth', 'clientAuth'];
  const defaultUsages: KeyUsageName[] = keys.publicKey.asymmetricKeyType === 'rsa' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true), keyUsages(options.keyUsages ?? defaultUsages)];
  if (eku.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(eku.map((u) => EKU_OIDS[u])));
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await sign({ subject: options.commonName, publicKey: keys.publicKey, by: { ca }, dates: validity(options, 365), extensions });
  const certPem = pemOf(cert);
  return { certPem, bundlePem: certPem + ca.chainPem, privateKey: keys.privateKey, publicKey: keys.publicKey };
}

/**
 * Reloads a CA from PEM texts: the CA certificate first (an intermediate may be followed by its
 * parents), and its private key in any format. Throws `InputError` listing every problem.
 */
export async function loadCa(
  certPem: string,
  keyPem: string,
  files: { cert: string; key: string } = { cert: 'CA certificate', key: 'CA key' },
): Promise<CertificateAuthority> {
  const issues: string[] = [];
  const certs = parseCertificates(certPem);
  const key = parsePrivateKey(keyPem);
  if (!certs.ok) issues.push(`${files.cert} ${certs.message}`);
  if (!key.ok) issues.push(`${files.key} ${key.message}`);
  const first = certs.ok ? certs.certificates[0] : undefined;
  if (first && !first.ca) issues.push(`${files.cert} is not a CA certificate (basicConstraints CA:TRUE missing): it cannot sign others`);
  if (first && key.ok && !first.checkPrivateKey(key.key)) issues.push(`${files.key} does not match the certificate in ${files.cert}`);
  if (issues.length > 0 || !certs.ok || !key.ok || !first) throw new InputError(`cannot use the CA in ${files.cert}`, issues);

  // What follows a leaf in its bundle: the CA itself and its parents, unless self-signed (a root).
  const chain = certs.certificates.filter((c) => !(c.subject === c.issuer && c.checkIssued(c) && c.verify(c.publicKey)));
  const chainPem = chain.map((c) => c.toString()).join('');
  try {
    return await authority(new x509.X509Certificate(first.raw), key.key, chainPem);
  } catch (e) {
    throw new InputError(`cannot use the CA in ${files.cert}`, [`${files.key} cannot sign certificates: ${errorText(e)}`]);
  }
}

/** `loadCa` from files on the controller; unreadable files become `InputError` issues. */
export async function loadCaFiles(certFile: string, keyFile: string): Promise<CertificateAuthority> {
  const [cert, key] = await Promise.allSettled([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  const issues: string[] = [];
  if (cert.status === 'rejected') issues.push(`${certFile} cannot be read (${errorText(cert.reason)})`);
  if (key.status === 'rejected') issues.push(`${keyFile} cannot be read (${errorText(key.reason)})`);
  if (cert.status === 'rejected' || key.status === 'rejected') throw new InputError(`cannot use the CA in ${certFile}`, issues);
  return loadCa(cert.value, key.value, { cert: certFile, key: keyFile });
}
