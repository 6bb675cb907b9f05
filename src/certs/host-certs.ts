/**
 * What `rollout certs` decides for one host's certificate: the SANs it must carry, and whether the
 * certificate already on disk can be kept or must be renewed (and why). Pure: PEM texts, the CA
 * and the clock come in, a verdict goes out; the command does the reading and writing.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { HostSpec } from '../inventory/types.js';
import { canonicalIp, commonName, extendedKeyUsages, parseSubjectAltNames } from './inspect.js';
import { parseCertificates, parsePrivateKey } from './pem.js';

const DAY_MS = 86_400_000;

/** The SANs a host's certificate gets, split the way X.509 stores them. */
export interface HostSans {
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * Every name and address peers dial to reach the host (the same list preflight checks): its
 * inventory name, its ansible_host, localhost and 127.0.0.1 for local checks, and `sensu_extra_sans`.
 */
export function hostSans(host: Pick<HostSpec, 'name' | 'address' | 'sensu'>): HostSans {
  const all = [...new Set([host.name, host.address, 'localhost', '127.0.0.1', ...host.sensu.extraSans])];
  return { dnsNames: all.filter((n) => isIP(n) === 0), ipAddresses: all.filter((n) => isIP(n) !== 0) };
}

/** `DNS:x` / `IP:y` labels, the form Node prints and messages use. */
export function sanLabels(sans: HostSans): string[] {
  return [...sans.dnsNames.map((n) => `DNS:${n}`), ...sans.ipAddresses.map((ip) => `IP:${canonicalIp(ip)}`)];
}

/** What to do with the files already on disk for one host. */
export type CertVerdict =
  | { action: 'keep'; notAfter: Date; daysLeft: number }
  /** `issue`: nothing there yet; `renew`: something there that does not qualify, `reasons` say why. */
  | { action: 'issue' }
  | { action: 'renew'; reasons: string[] };

/** Inputs of `assessHostCertificate`; an absent text means the file does not exist. */
export interface CertOnDisk {
  certPem: string | undefined;
  keyPem: string | undefined;
  /** PEM of the CA that must have issued it. */
  caPem: string;
  wanted: HostSans;
  minValidityDays: number;
  now?: Date;
  /** Extended key usages it must have, exactly; default serverAuth + clientAuth (a backend's). */
  usages?: readonly ('serverAuth' | 'clientAuth')[];
  /** The CN it must have (an agent's client certificate names its entity). */
  commonName?: string;
}

/**
 * What an agent's client certificate is issued for: its entity name as CN (the backend reads the
 * entity from it), clientAuth only, no SANs (nobody dials an agent). Without facts, the entity name
 * is `sensu_entity_name`, else the inventory name.
 */
export function agentClientProfile(host: Pick<HostSpec, 'name' | 'sensu'>): { commonName: string; usages: ['clientAuth']; wanted: HostSans } {
  return { commonName: host.sensu.entityName ?? host.name, usages: ['clientAuth'], wanted: { dnsNames: [], ipAddresses: [] } };
}

/**
 * Keep a certificate only when it parses, its key matches, the CA signed it, its SANs are exactly
 * the wanted ones, its extended key usages are the wanted ones (serverAuth and clientAuth unless
 * told), its CN is the wanted one when given, and it stays valid for `minValidityDays`.
 */
export function assessHostCertificate(input: CertOnDisk): CertVerdict {
  const now = input.now ?? new Date();
  if (input.certPem === undefined && input.keyPem === undefined) return { action: 'issue' };
  if (input.certPem === undefined) return { action: 'renew', reasons: ['certificate file missing (key present)'] };
  if (input.keyPem === undefined) return { action: 'renew', reasons: ['key file missing'] };

  const certs = parseCertificates(input.certPem);
  if (!certs.ok || !certs.certificates[0]) return { action: 'renew', reasons: [`certificate ${certs.ok ? 'missing' : certs.message}`] };
  const leaf = certs.certificates[0];
  const reasons: string[] = [];

  const key = parsePrivateKey(input.keyPem);
  if (!key.ok) reasons.push(`key ${key.message}`);
  else if (!leaf.checkPrivateKey(key.key)) reasons.push('key does not match the certificate');

  const ca = new X509Certificate(input.caPem);
  if (!(leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) reasons.push('not issued by this CA');

  const have = new Set(parseSubjectAltNames(leaf.subjectAltName).map((s) => `${s.type}:${s.type === 'DNS' ? s.value.toLowerCase() : s.value}`));
  const want = new Set(sanLabels(input.wanted).map((l) => (l.startsWith('DNS:') ? `DNS:${l.slice(4).toLowerCase()}` : l)));
  const missing = [...want].filter((s) => !have.has(s));
  const extra = [...have].filter((s) => !want.has(s));
  if (missing.length > 0 || extra.length > 0) {
    reasons.push(
      `SANs differ (${[missing.length > 0 ? `missing ${missing.join(', ')}` : '', extra.length > 0 ? `extra ${extra.join(', ')}` : ''].filter(Boolean).join('; ')})`,
    );
  }

  const usages = input.usages ?? ['serverAuth', 'clientAuth'];
  // No extension allows any usage; one that lists others than wanted (a server certificate given to an agent) is renewed.
  const eku = extendedKeyUsages(leaf);
  if (eku && (eku.length !== usages.length || !usages.every((u) => eku.includes(u))))
    reasons.push(`extended key usage is ${eku.join(', ')}, not ${usages.join(' + ')}`);
  if (input.commonName !== undefined && commonName(leaf.subject) !== input.commonName)
    reasons.push(`CN is ${commonName(leaf.subject) ?? 'missing'}, not ${input.commonName}`);

  const notAfter = new Date(leaf.validTo);
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  if (daysLeft < 0) reasons.push(`expired ${notAfter.toISOString().slice(0, 10)}`);
  else if (daysLeft < input.minValidityDays) reasons.push(`expires in ${daysLeft} days (under --min-validity ${input.minValidityDays})`);
  if (new Date(leaf.validFrom) > now) reasons.push(`not valid before ${new Date(leaf.validFrom).toISOString()}`);

  return reasons.length > 0 ? { action: 'renew', reasons } : { action: 'keep', notAfter, daysLeft };
}
