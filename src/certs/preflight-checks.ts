/**
 * The individual certificate checks of the preflight, each pure: certificates in, findings out.
 * A finding has no host yet; `checkCertificate` in ./preflight.ts adds it. Each finding's
 * `problem` reads as a phrase that follows the file name, so a whole line reads as a sentence.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Located } from './chain.js';
import { commonName, describeKey, extendedKeyUsages, formatSans, parseSubjectAltNames, publicKeySha256, shortName } from './inspect.js';

/** What kind of problem a finding is: lets callers filter (e.g. treat `expiring` as a warning) and tests assert. */
export type CertProblemKind =
  | 'unreadable'
  | 'bad-certificate'
  | 'bad-key'
  | 'encrypted-key'
  | 'unsupported-key'
  | 'key-mismatch'
  | 'bad-ca'
  | 'untrusted'
  | 'expired'
  | 'expiring'
  | 'not-yet-valid'
  | 'usage'
  | 'names'
  | 'common-name';

/** A problem with one file, before the host is known. */
export interface Finding {
  file: string;
  kind: CertProblemKind;
  /** What is wrong, as a phrase following the file name (`does not cover 10.0.0.12 (…)`). */
  problem: string;
  /** What to do about it, one imperative phrase. */
  fix: string;
}

/** TLS extended key usages a Sensu certificate can need. */
export type CertUsage = 'serverAuth' | 'clientAuth';

const DAY_MS = 86_400_000;
const day = (d: Date): string => d.toISOString().slice(0, 10);
const shortHash = (hex: string): string => `${hex.slice(0, 16)}…`;
const cn = (cert: X509Certificate): string => shortName(cert.subject);

/** Key types Go's crypto/tls can serve with. */
export function unsupportedKey(key: KeyObject, keyFile: string): Finding | undefined {
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const ok = type === 'rsa' || type === 'ed25519' || (type === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1' || curve === 'secp521r1'));
  if (ok) return undefined;
  return {
    file: keyFile,
    kind: 'unsupported-key',
    problem: `holds an ${describeKey(key)} key, which Sensu (Go's crypto/tls) cannot use`,
    fix: 'issue a new key and certificate with ECDSA P-256, RSA 2048+ or Ed25519',
  };
}

/** The key must be the certificate's: Sensu exits with "private key does not match public key" otherwise. */
export function keyMismatch(leaf: X509Certificate, key: KeyObject, files: { certFile: string; keyFile: string }): Finding | undefined {
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(key);
  } catch {
    // Node throws rather than answering false for some type combinations (e.g. RSA key, EC certificate).
    matches = false;
  }
  if (matches) return undefined;
  const keyText = `${describeKey(key)}, public key sha256 ${shortHash(publicKeySha256(key))}`;
  const certText = `${describeKey(leaf.publicKey)}, public key sha256 ${shortHash(publicKeySha256(leaf.publicKey))}`;
  return {
    file: files.keyFile,
    kind: 'key-mismatch',
    problem: `does not match the certificate in ${files.certFile} (key: ${keyText}; certificate: ${certText})`,
    fix: `use the key ${files.certFile} was issued for, or reissue the certificate for this key`,
  };
}

/** Validity of one certificate of the chain at `now`, with `minValidityDays` of margin. */
export function validity(item: Located, now: Date, minValidityDays: number): Finding | undefined {
  const notBefore = new Date(item.cert.validFrom);
  const notAfter = new Date(item.cert.validTo);
  // The leaf is "the certificate in <file>"; others are named, since one file can hold several.
  const what = item.role === 'leaf' ? '' : `holds the ${item.role === 'ca' ? 'CA' : 'intermediate CA'} certificate ${cn(item.cert)}, which `;
  const renew = item.role === 'leaf' ? 'issue a new certificate for the same names' : 'renew that CA certificate and reissue what it signed';
  if (now < notBefore) {
    return {
      file: item.file,
      kind: 'not-yet-valid',
      problem: `${what}is not valid until ${notBefore.toISOString().replace('.000Z', 'Z')} (now ${now.toISOString().replace(/\.\d+Z$/, 'Z')})`,
      fix: 'check the clock of the machine that issued it and of this one, or wait until then',
    };
  }
  if (now > notAfter) return { file: item.file, kind: 'expired', problem: `${what}expired on ${day(notAfter)}`, fix: renew };
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  if (daysLeft < minValidityDays) {
    return {
      file: item.file,
      kind: 'expiring',
      problem: `${what}expires on ${day(notAfter)}, in ${daysLeft} day${daysLeft === 1 ? '' : 's'} (at least ${minValidityDays} wanted)`,
      fix: `${renew} before rolling it out`,
    };
  }
  return undefined;
}

const USAGE_WHY: Record<CertUsage, string> = {
  serverAuth: 'Sensu serves TLS with it',
  clientAuth: 'it is also presented as a client certificate',
};

/**
 * Extended key usage along the chain, as Go checks it: a certificate without the extension allows
 * everything, `anyExtendedKeyUsage` too, and otherwise each needed usage must be listed by every
 * certificate that has the extension (an intermediate can restrict what its leaves may do).
 */
export function usages(chain: readonly Located[], needed: readonly CertUsage[]): Finding[] {
  const findings: Finding[] = [];
  for (const item of chain) {
    const listed = extendedKeyUsages(item.cert);
    if (!listed || listed.includes('anyExtendedKeyUsage')) continue;
    const missing = needed.filter((u) => !listed.includes(u));
    if (missing.length === 0) continue;
    const whose = item.role === 'leaf' ? '' : `holds the ${item.role === 'ca' ? 'CA' : 'intermediate CA'} certificate ${cn(item.cert)}, which `;
    findings.push({
      file: item.file,
      kind: 'usage',
      problem: `${whose}does not allow ${missing.join(' or ')} (extended key usage: ${listed.join(', ') || 'none'}), and ${missing.map((u) => USAGE_WHY[u]).join(' and ')}`,
      fix:
        item.role === 'leaf'
          ? `reissue the certificate with extendedKeyUsage ${[...new Set([...needed, ...listed.filter((u) => u === 'serverAuth' || u === 'clientAuth')])].join(', ')}`
          : `reissue that CA certificate without the restriction, or with ${missing.join(', ')} in its extendedKeyUsage`,
    });
  }
  return findings;
}

/** Strips what people wrap addresses in (`[::1]`) and drops empties and duplicates. */
function cleanNames(names: readonly string[]): string[] {
  const out = names.map((n) => n.trim().replace(/^\[(.*)\]$/, '$1')).filter((n) => n !== '');
  return [...new Set(out)];
}

/**
 * Every name or address peers dial must be in the SANs. Go ignores the CN, so it does not count;
 * wildcards match one whole left-most label, as in Go (no `ba*.example.com`).
 */
export function names(leaf: X509Certificate, wanted: readonly string[], certFile: string): Finding | undefined {
  const missing = cleanNames(wanted).filter((name) =>
    isIP(name) !== 0
      ? leaf.checkIP(name) === undefined
      : leaf.checkHost(name, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false }) === undefined,
  );
  if (missing.length === 0) return undefined;
  const subjectCN = commonName(leaf.subject);
  const cnNote =
    subjectCN !== undefined && missing.some((m) => m.toLowerCase() === subjectCN.toLowerCase())
      ? `; its CN ${subjectCN} does not count, Go ignores the CN`
      : '';
  const asSan = (n: string): string => (isIP(n) !== 0 ? `IP:${n}` : `DNS:${n}`);
  return {
    file: certFile,
    kind: 'names',
    problem: `does not cover ${missing.join(' or ')} (SANs: ${formatSans(parseSubjectAltNames(leaf.subjectAltName))}${cnNote})`,
    fix: `reissue the certificate with ${missing.map(asSan).join(', ')} in subjectAltName`,
  };
}

/**
 * An agent's client certificate names its entity in the CN: with agent mTLS the backend takes the
 * entity name from there, so another CN would record the agent's keepalives under another name.
 */
export function commonNameIs(leaf: X509Certificate, expected: string, certFile: string): Finding | undefined {
  const actual = commonName(leaf.subject);
  if (actual === expected) return undefined;
  return {
    file: certFile,
    kind: 'common-name',
    problem: `has CN ${actual ?? '(none)'}, but the agent's entity name is ${expected}: the backend would take the agent for ${actual ?? 'nobody'}`,
    fix: `issue the client certificate with CN=${expected} (rollout certs --agents does), or set sensu_entity_name to match`,
  };
}
