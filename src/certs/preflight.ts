/**
 * Certificate preflight: before anything on a host changes, check every certificate a host will
 * serve or present the way Sensu (Go) will use it. `checkCertificate` is pure (PEM texts and
 * expectations in, problems out); `preflightCertificates` is the thin loader that reads the files
 * and reports unreadable ones. Every problem is one line naming host, file, what is wrong and the
 * fix; none ever contains key material.
 */
import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PreflightError } from '../errors.js';
import { buildChain, type ChainFailure, type Located } from './chain.js';
import { shortName } from './inspect.js';
import { parseCertificates, parsePrivateKey } from './pem.js';
import { commonNameIs, keyMismatch, names, unsupportedKey, usages, validity, type CertProblemKind, type CertUsage, type Finding } from './preflight-checks.js';

export type { CertProblemKind, CertUsage } from './preflight-checks.js';

/** What one host's certificate must satisfy. */
export interface CertExpectation {
  /** Inventory host name, for messages. */
  host: string;
  /** Certificate (bundle: leaf first, then intermediates). */
  certFile: string;
  keyFile: string;
  /** The CA file peers trust; every certificate in it is a trust anchor, as in Go. */
  caFile: string;
  /** Every name or address peers dial: ansible_host, inventory name, localhost, 127.0.0.1, extra SANs. */
  names: string[];
  /** `serverAuth` for a served certificate, plus `clientAuth` when it is also a client certificate (etcd, agent mTLS). */
  usages: CertUsage[];
  /** The CN the leaf must have (an agent's client certificate names its entity). */
  commonName?: string;
}

/** File contents for `checkCertificate`; `undefined` means the file could not be read (already reported). */
export interface CertContents {
  certPem: string | Uint8Array | undefined;
  keyPem: string | Uint8Array | undefined;
  caPem: string | Uint8Array | undefined;
}

/** One problem found by the preflight. */
export interface CertProblem {
  host: string;
  /** The file at fault, as the user knows it (relative to the inventory when loaded by `preflightCertificates`). */
  file: string;
  kind: CertProblemKind;
  /** What is wrong, a phrase following the file name. */
  problem: string;
  /** What to do, one imperative phrase. */
  fix: string;
}

/** Default of `minValidityDays`: a certificate must stay valid at least this long after a rollout. */
export const DEFAULT_MIN_VALIDITY_DAYS = 30;

const cnOf = (cert: X509Certificate): string => shortName(cert.subject);
const issuerOf = (cert: X509Certificate): string => shortName(cert.issuer);

function untrusted(failure: ChainFailure, files: { certFile: string; caFile: string }, anchors: readonly Located[]): Finding {
  const { stuckAt, sameNameOtherKey, notCa } = failure;
  const at = stuckAt.role === 'leaf' ? '' : `: the chain stops at the intermediate ${cnOf(stuckAt.cert)}`;
  const caNames = anchors.map((a) => cnOf(a.cert)).join(', ');
  let problem: string;
  if (notCa) {
    problem = `is signed by ${cnOf(notCa.cert)} in ${notCa.file}, which may not sign certificates (it lacks basicConstraints CA:TRUE or keyUsage keyCertSign)${at}`;
  } else if (sameNameOtherKey) {
    problem = `names ${issuerOf(stuckAt.cert)} as issuer, but the certificate of that name in ${sameNameOtherKey.file} did not sign it (another CA with the same name?)${at}`;
  } else {
    problem = `is not signed by a CA in ${files.caFile} (issuer: ${issuerOf(stuckAt.cert)}; ${files.caFile} has ${caNames})${at}`;
  }
  return {
    file: files.certFile,
    kind: 'untrusted',
    problem,
    fix: `reissue it from the CA in ${files.caFile}, or use the CA file of the CA that issued it; an intermediate CA certificate goes after the leaf in ${files.certFile}`,
  };
}

function unparsedCert(file: string, reason: 'none' | 'der' | 'garbled', message: string, isCa: boolean): Finding {
  const fixes = {
    none: isCa
      ? 'put the PEM certificate of the CA that issued the host certificates in it'
      : 'put the PEM certificate in it, leaf first, then any intermediates',
    der: `convert it: openssl x509 -inform der -in ${file} -out ${file}.pem, and use that file`,
    garbled: 'replace it with an intact PEM copy',
  };
  return { file, kind: isCa ? 'bad-ca' : 'bad-certificate', problem: message, fix: fixes[reason] };
}

/**
 * Checks one host's certificate, key and CA file: the key parses and matches, the chain reaches
 * the CA, every certificate of the chain is valid for at least `minValidityDays` more days, the
 * extended key usages allow what the host needs, and the SANs cover every name peers dial.
 * Pure: no I/O, `now` passed in. Returns every problem found, in that order.
 */
export function checkCertificate(
  input: CertExpectation & CertContents,
  now: Date = new Date(),
  minValidityDays: number = DEFAULT_MIN_VALIDITY_DAYS,
): CertProblem[] {
  const findings: Finding[] = [];
  const { certFile, keyFile, caFile } = input;

  const certs = input.certPem === undefined ? undefined : parseCertificates(input.certPem);
  if (certs && !certs.ok) findings.push(unparsedCert(certFile, certs.reason, certs.message, false));
  const leaf = certs?.ok ? certs.certificates[0] : undefined;

  if (input.keyPem !== undefined) {
    const key = parsePrivateKey(input.keyPem);
    if (!key.ok) {
      const fix =
        key.reason === 'encrypted'
          ? `decrypt it: openssl pkey -in ${keyFile} -out ${keyFile}.plain, then replace ${keyFile} with that file (keep it 0600)`
          : 'put the PEM private key of the certificate in it (PKCS#8, PKCS#1 or SEC1)';
      findings.push({ file: keyFile, kind: key.reason === 'encrypted' ? 'encrypted-key' : 'bad-key', problem: key.message, fix });
    } else {
      const bad = unsupportedKey(key.key, keyFile) ?? (leaf ? keyMismatch(leaf, key.key, { certFile, keyFile }) : undefined);
      if (bad) findings.push(bad);
    }
  }

  const ca = input.caPem === undefined ? undefined : parseCertificates(input.caPem);
  if (ca && !ca.ok) findings.push(unparsedCert(caFile, ca.reason, ca.message, true));

  if (leaf && certs?.ok) {
    const leafAt: Located = { cert: leaf, file: certFile, role: 'leaf' };
    const intermediates = certs.certificates.slice(1).map((cert): Located => ({ cert, file: certFile, role: 'intermediate' }));
    let chain: Located[] = [leafAt];
    if (ca?.ok) {
      const anchors = ca.certificates.map((cert): Located => ({ cert, file: caFile, role: cert.ca && cert.subject === cert.issuer ? 'ca' : 'intermediate' }));
      const built = buildChain(leafAt, intermediates, anchors);
      if (built.ok) chain = built.chain;
      else findings.push(untrusted(built, { certFile, caFile }, anchors));
    }
    for (const item of chain) {
      const finding = validity(item, now, minValidityDays);
      if (finding) findings.push(finding);
    }
    findings.push(...usages(chain, input.usages));
    const uncovered = names(leaf, input.names, certFile);
    if (uncovered) findings.push(uncovered);
    const wrongName = input.commonName === undefined ? undefined : commonNameIs(leaf, input.commonName, certFile);
    if (wrongName) findings.push(wrongName);
  }
  return findings.map((f) => ({ host: input.host, ...f }));
}

/** One line: `backend-2: pki/backend-2.pem does not cover 10.0.0.12 (SANs: …) — reissue the certificate with IP:10.0.0.12 in subjectAltName`. */
export function renderCertProblem(p: CertProblem): string {
  return `${p.host}: ${p.file} ${p.problem} — ${p.fix}`;
}

/**
 * Lines for a list of problems, in order; a problem several hosts share (a broken CA file) is
 * one line naming them all.
 */
export function renderCertProblems(problems: readonly CertProblem[]): string[] {
  const merged = new Map<string, { hosts: string[]; problem: CertProblem }>();
  for (const p of problems) {
    const key = `${p.file}\0${p.problem}\0${p.fix}`;
    const entry = merged.get(key);
    if (!entry) merged.set(key, { hosts: [p.host], problem: p });
    else if (!entry.hosts.includes(p.host)) entry.hosts.push(p.host);
  }
  return [...merged.values()].map(({ hosts, problem }) => renderCertProblem({ ...problem, host: hosts.join(', ') }));
}

/** The error a command throws when the preflight found problems: nothing has been changed yet. */
export function certPreflightError(problems: readonly CertProblem[]): PreflightError {
  const lines = renderCertProblems(problems);
  return new PreflightError(`certificate preflight failed (${lines.length} problem${lines.length === 1 ? '' : 's'}); nothing was changed`, lines, {
    hint: 'fix the files named, or issue new certificates with `rollout certs`, then run again',
  });
}

/** Options of `preflightCertificates`. */
export interface PreflightOptions {
  /** Default: the current time. */
  now?: Date;
  /** Default `DEFAULT_MIN_VALIDITY_DAYS` (30). */
  minValidityDays?: number;
  /** How a path is shown in messages, e.g. relative to the inventory; default as given. */
  display?: (path: string) => string;
}

type Read = { ok: true; content: Buffer } | { ok: false; problem: string };

async function readOnce(path: string): Promise<Read> {
  try {
    return { ok: true, content: await readFile(path) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      ENOENT: 'does not exist',
      ENOTDIR: 'does not exist (a parent is not a directory)',
      EACCES: 'cannot be read: permission denied',
      EISDIR: 'is a directory, not a file',
    };
    return { ok: false, problem: why[code ?? ''] ?? `cannot be read (${code ?? String(e)})` };
  }
}

/**
 * Reads every file the expectations name (each once) and checks each host. A file that cannot
 * be read is a problem of its own; the checks that do not need it still run.
 */
export async function preflightCertificates(expectations: readonly CertExpectation[], opts: PreflightOptions = {}): Promise<CertProblem[]> {
  const now = opts.now ?? new Date();
  const minDays = opts.minValidityDays ?? DEFAULT_MIN_VALIDITY_DAYS;
  const show = opts.display ?? ((p: string): string => p);
  const reads = new Map<string, Promise<Read>>();
  const read = (path: string): Promise<Read> => {
    let r = reads.get(path);
    if (!r) reads.set(path, (r = readOnce(path)));
    return r;
  };

  const perHost = await Promise.all(
    expectations.map(async (e) => {
      const [cert, key, ca] = await Promise.all([read(e.certFile), read(e.keyFile), read(e.caFile)]);
      const shown = { certFile: show(e.certFile), keyFile: show(e.keyFile), caFile: show(e.caFile) };
      const problems: CertProblem[] = [];
      for (const [r, file] of [
        [cert, shown.certFile],
        [key, shown.keyFile],
        [ca, shown.caFile],
      ] as const) {
        if (!r.ok)
          problems.push({
            host: e.host,
            file,
            kind: 'unreadable',
            problem: r.problem,
            fix: 'check the path in the inventory, or create the file (rollout certs)',
          });
      }
      const contents: CertContents = {
        certPem: cert.ok ? cert.content : undefined,
        keyPem: key.ok ? key.content : undefined,
        caPem: ca.ok ? ca.content : undefined,
      };
      return [...problems, ...checkCertificate({ ...e, ...shown, ...contents }, now, minDays)];
    }),
  );
  return perHost.flat();
}
