/**
 * Certificate preflight (src/certs/preflight.ts) against real certificates from the lab PKI:
 * every failure names host, file, what is wrong and the fix; every valid variant passes; no
 * output ever carries private key material.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, PreflightError } from '../src/errors.js';
import { createIntermediateCa, createRootCa, issueCertificate, type CertificateAuthority } from '../src/certs/generate.js';
import { containsPrivateKeyPem } from '../src/certs/inspect.js';
import { privateKeyPem, toSigningKey } from '../src/certs/keys.js';
import { x509 } from '../src/certs/x509.js';
import {
  certPreflightError,
  checkCertificate,
  preflightCertificates,
  renderCertProblem,
  renderCertProblems,
  type CertExpectation,
  type CertProblem,
} from '../src/certs/preflight.js';
import { INVALID_FIXTURES, VALID_FIXTURES, writeBadFixtures, writeLabPki, type Fixture, type FixtureName, type LabHostCert, type LabPki } from './lab/pki.js';

const host: LabHostCert = { name: 'backend-1', address: '10.0.0.11' };
const NAMES = ['backend-1', '10.0.0.11', 'localhost', '127.0.0.1'];
const dir = mkdtempSync(join(tmpdir(), 'rollout-certs-preflight-'));
const show = (p: string): string => relative(dir, p);
let pki: LabPki;
let fixtures: Record<FixtureName, Fixture>;
/** Every problem and line produced in this file, checked for key material at the end. */
const everything: string[] = [];

beforeAll(async () => {
  pki = await writeLabPki(join(dir, 'pki'), [host]);
  fixtures = await writeBadFixtures(join(dir, 'fx'), host, pki);
});
afterAll(() => {
  try {
    // No private key in any problem, line or error: neither a PEM header nor a chunk of a key's body.
    const all = everything.join('\n');
    expect(containsPrivateKeyPem(all)).toBe(false);
    for (const f of Object.values(fixtures)) {
      const body = readFileSync(f.key, 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith('-----') && !l.includes(':'))
        .join('');
      for (let i = 0; i + 24 <= body.length; i += 24) expect(all).not.toContain(body.slice(i, i + 24));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const expectation = (f: Fixture, overrides: Partial<CertExpectation> = {}): CertExpectation => ({
  host: host.name,
  certFile: f.cert,
  keyFile: f.key,
  caFile: f.ca,
  names: NAMES,
  usages: ['serverAuth', 'clientAuth'],
  ...overrides,
});

async function preflight(exps: CertExpectation[], opts: { now?: Date; minValidityDays?: number } = {}): Promise<CertProblem[]> {
  const problems = await preflightCertificates(exps, { ...opts, display: show });
  const lines = renderCertProblems(problems);
  everything.push(JSON.stringify(problems), ...lines);
  return problems;
}

describe('lab fixtures', () => {
  it.each(VALID_FIXTURES)('%s passes', async (name) => {
    expect(fixtures[name].valid).toBe(true);
    expect(await preflight([expectation(fixtures[name])])).toEqual([]);
  });

  it.each(INVALID_FIXTURES)('%s fails with one problem of its kind, naming host, file and fix', async (name) => {
    const f = fixtures[name];
    expect(f.valid).toBe(false);
    const problems = await preflight([expectation(f)]);
    expect(problems.map((p) => p.kind)).toEqual([f.expect]);
    const [p] = problems;
    const file = ['bad-key', 'encrypted-key', 'key-mismatch'].includes(p!.kind) ? f.key : p!.kind === 'bad-ca' ? f.ca : f.cert;
    expect(p).toMatchObject({ host: 'backend-1', file: show(file) });
    expect(p!.fix).not.toBe('');
    expect(renderCertProblem(p!)).toBe(`backend-1: ${show(file)} ${p!.problem} — ${p!.fix}`);
  });

  it('every fixture written is in one of the two lists (test/lab/pki.ts)', () => {
    expect(Object.keys(fixtures).sort()).toEqual([...VALID_FIXTURES, ...INVALID_FIXTURES].sort());
  });
});

describe('messages', () => {
  const one = async (name: FixtureName, opts: Partial<CertExpectation> = {}): Promise<string> => {
    const lines = renderCertProblems(await preflight([expectation(fixtures[name], opts)]));
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  it('a missing address: names it, lists the SANs, says what to reissue with', async () => {
    expect(await one('wrongSan')).toBe(
      'backend-1: fx/wrongSan.pem does not cover 10.0.0.11 (SANs: DNS:backend-1, DNS:localhost, IP:127.0.0.1) — reissue the certificate with IP:10.0.0.11 in subjectAltName',
    );
  });

  it('a name only in the CN does not count, and the message says why', async () => {
    expect(await one('cnOnly')).toBe(
      'backend-1: fx/cnOnly.pem does not cover backend-1 (SANs: DNS:localhost, IP:10.0.0.11, IP:127.0.0.1; its CN backend-1 does not count, Go ignores the CN) — reissue the certificate with DNS:backend-1 in subjectAltName',
    );
  });

  it('several missing names are one problem', async () => {
    const line = await one('valid', { names: [...NAMES, 'backend-1.example.com', '10.0.0.99', '[fd00::11]'] });
    expect(line).toMatch(
      /does not cover backend-1\.example\.com or 10\.0\.0\.99 or fd00::11 \(SANs: .*\) — reissue the certificate with DNS:backend-1\.example\.com, IP:10\.0\.0\.99, IP:fd00::11 in subjectAltName$/,
    );
  });

  it('expiry, validity start and the renewal margin', async () => {
    expect(await one('expired')).toMatch(/^backend-1: fx\/expired\.pem expired on \d{4}-\d{2}-\d{2} — issue a new certificate for the same names$/);
    expect(await one('expiringSoon')).toMatch(
      /^backend-1: fx\/expiringSoon\.pem expires on \d{4}-\d{2}-\d{2}, in (9|10) days \(at least 30 wanted\) — .* before rolling it out$/,
    );
    expect(await one('notYetValid')).toMatch(/^backend-1: fx\/notYetValid\.pem is not valid until \S+Z \(now \S+Z\) — check the clock/);
    expect(await preflight([expectation(fixtures.expiringSoon)], { minValidityDays: 5 })).toEqual([]);
  });

  it('key problems name the key file, and the mismatch shows both keys by public hash only', async () => {
    expect(await one('keyMismatch')).toMatch(
      /^backend-1: fx\/keyMismatch\.key does not match the certificate in fx\/keyMismatch\.pem \(key: EC P-256, public key sha256 [0-9a-f]{16}…; certificate: EC P-256, public key sha256 [0-9a-f]{16}…\) — use the key fx\/keyMismatch\.pem was issued for, or reissue the certificate for this key$/,
    );
    expect(await one('encryptedKey')).toBe(
      'backend-1: fx/encryptedKey.key is encrypted with a passphrase, which Sensu cannot use — decrypt it: openssl pkey -in fx/encryptedKey.key -out fx/encryptedKey.key.plain, then replace fx/encryptedKey.key with that file (keep it 0600)',
    );
    expect(await one('garbledKey')).toMatch(/^backend-1: fx\/garbledKey\.key has a private key that cannot be parsed \(.*\) — put the PEM private key/);
    expect(await one('emptyKey')).toMatch(/^backend-1: fx\/emptyKey\.key contains no private key/);
  });

  it('chain problems name the CA file and the issuer', async () => {
    expect(await one('otherCa')).toMatch(
      /^backend-1: fx\/otherCa\.pem is not signed by a CA in pki\/ca\.pem \(issuer: CN=some other CA; pki\/ca\.pem has CN=rollout lab CA\) — reissue it from the CA in pki\/ca\.pem/,
    );
    expect(await one('sameNameOtherCa')).toMatch(
      /names CN=rollout lab CA as issuer, but the certificate of that name in pki\/ca\.pem did not sign it \(another CA with the same name\?\)/,
    );
    expect(await one('intermediateMissing')).toMatch(
      /is not signed by a CA in pki\/ca\.pem \(issuer: CN=rollout lab intermediate CA;.* an intermediate CA certificate goes after the leaf in fx\/intermediateMissing\.pem$/,
    );
    expect(await one('emptyCa')).toBe(
      'backend-1: fx/emptyCa-ca.pem contains no certificate (no "BEGIN CERTIFICATE" block) — put the PEM certificate of the CA that issued the host certificates in it',
    );
  });

  it('extended key usage: only what the caller says it needs', async () => {
    expect(await one('noServerAuth')).toBe(
      'backend-1: fx/noServerAuth.pem does not allow serverAuth (extended key usage: clientAuth), and Sensu serves TLS with it — reissue the certificate with extendedKeyUsage serverAuth, clientAuth',
    );
    expect(await one('serverAuthOnly')).toMatch(
      /does not allow clientAuth \(extended key usage: serverAuth\), and it is also presented as a client certificate/,
    );
    expect(await preflight([expectation(fixtures.serverAuthOnly, { usages: ['serverAuth'] })])).toEqual([]);
    expect(await preflight([expectation(fixtures.noServerAuth, { usages: ['clientAuth'] })])).toEqual([]);
  });
});

describe('checkCertificate (pure)', () => {
  let ca: CertificateAuthority;
  beforeAll(() => {
    ca = pki.ca;
  });
  const check = (
    input: { certPem?: string | Buffer; keyPem?: string; caPem?: string },
    overrides: Partial<CertExpectation> = {},
    now = new Date(),
  ): CertProblem[] => {
    const problems = checkCertificate(
      {
        host: 'h',
        certFile: 'h.pem',
        keyFile: 'h.key',
        caFile: 'ca.pem',
        names: [],
        usages: ['serverAuth'],
        certPem: input.certPem,
        keyPem: input.keyPem,
        caPem: input.caPem,
        ...overrides,
      },
      now,
      30,
    );
    everything.push(JSON.stringify(problems), ...renderCertProblems(problems));
    return problems;
  };

  it('wildcards cover one whole left-most label, as in Go', async () => {
    const leaf = await issueCertificate(ca, { commonName: 'wild', dnsNames: ['*.lab.example'] });
    const pems = { certPem: leaf.certPem, keyPem: privateKeyPem(leaf.privateKey), caPem: ca.certPem };
    expect(check(pems, { names: ['backend-1.lab.example', 'BACKEND-2.LAB.EXAMPLE'] })).toEqual([]);
    expect(check(pems, { names: ['a.b.lab.example', 'lab.example'] })[0]?.problem).toMatch(
      /^does not cover a\.b\.lab\.example or lab\.example \(SANs: DNS:\*\.lab\.example\)/,
    );
  });

  it('IPv6 addresses match in any spelling, and a DNS SAN never covers an IP', async () => {
    const leaf = await issueCertificate(ca, { commonName: 'v6', dnsNames: ['10.0.0.1'], ipAddresses: ['fd00::11'] });
    const pems = { certPem: leaf.certPem, keyPem: privateKeyPem(leaf.privateKey), caPem: ca.certPem };
    expect(check(pems, { names: ['fd00:0:0::11', '[fd00::11]'] })).toEqual([]);
    expect(check(pems, { names: ['10.0.0.1'] }).map((p) => p.kind)).toEqual(['names']);
  });

  it('a CA certificate that expired, or expires soon, is named in the CA file', async () => {
    const oldRoot = await createRootCa({ commonName: 'old root', notBefore: new Date('2020-01-01'), notAfter: new Date('2021-01-01') });
    const leaf = await issueCertificate(oldRoot, { commonName: 'x', notBefore: new Date('2020-06-01'), validityDays: 3650 });
    const problems = check({ certPem: leaf.certPem, keyPem: privateKeyPem(leaf.privateKey), caPem: oldRoot.certPem });
    expect(problems).toEqual([
      {
        host: 'h',
        file: 'ca.pem',
        kind: 'expired',
        problem: 'holds the CA certificate CN=old root, which expired on 2021-01-01',
        fix: 'renew that CA certificate and reissue what it signed',
      },
    ]);
  });

  it('an intermediate that restricts extended key usage fails its leaves, naming the intermediate', async () => {
    const mid = await createIntermediateCa(ca, { commonName: 'client-only CA', extendedKeyUsages: ['clientAuth'] });
    const leaf = await issueCertificate(mid, { commonName: 'x' });
    const problems = check({ certPem: leaf.bundlePem, keyPem: privateKeyPem(leaf.privateKey), caPem: ca.certPem });
    expect(problems.map((p) => [p.kind, p.file, p.problem])).toEqual([
      [
        'usage',
        'h.pem',
        'holds the intermediate CA certificate CN=client-only CA, which does not allow serverAuth (extended key usage: clientAuth), and Sensu serves TLS with it',
      ],
    ]);
  });

  it('a parent that is not a CA cannot sign (Go refuses it)', async () => {
    const notCaLeaf = await issueCertificate(ca, { commonName: 'just a server' });
    const fake: CertificateAuthority = {
      certPem: notCaLeaf.certPem,
      chainPem: notCaLeaf.certPem,
      privateKey: notCaLeaf.privateKey,
      certificate: new x509.X509Certificate(notCaLeaf.certPem),
      signer: await toSigningKey(notCaLeaf.privateKey),
    };
    const leaf = await issueCertificate(fake, { commonName: 'child' });
    const problems = check({ certPem: leaf.bundlePem, keyPem: privateKeyPem(leaf.privateKey), caPem: ca.certPem });
    expect(problems.map((p) => p.kind)).toEqual(['untrusted']);
    expect(problems[0]?.problem).toMatch(
      /^is signed by CN=just a server in h\.pem, which may not sign certificates \(it lacks basicConstraints CA:TRUE or keyUsage keyCertSign\)/,
    );
  });

  it('a certificate that is itself in the CA file is trusted as it is', async () => {
    const leaf = await issueCertificate(ca, { commonName: 'pinned' });
    expect(check({ certPem: leaf.certPem, keyPem: privateKeyPem(leaf.privateKey), caPem: leaf.certPem })).toEqual([]);
  });

  it('key types Go cannot serve with are refused', () => {
    const ed448 = generateKeyPairSync('ed448');
    const problems = check({ certPem: pki.ca.certPem, keyPem: ed448.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, caPem: pki.ca.certPem });
    expect(problems.map((p) => [p.kind, p.file, p.problem])).toEqual([
      ['unsupported-key', 'h.key', "holds an Ed448 key, which Sensu (Go's crypto/tls) cannot use"],
    ]);
  });

  it('a DER certificate gets the conversion command', () => {
    const der = new X509Certificate(pki.ca.certPem).raw;
    const [p] = check({ certPem: der });
    expect(p).toMatchObject({
      kind: 'bad-certificate',
      problem: 'is a DER (binary) certificate, and Sensu reads PEM only',
      fix: 'convert it: openssl x509 -inform der -in h.pem -out h.pem.pem, and use that file',
    });
  });

  it('files that could not be read (undefined) skip only the checks that need them', async () => {
    const leaf = await issueCertificate(ca, { commonName: 'x', dnsNames: ['x'] });
    expect(check({ certPem: leaf.certPem }, { names: ['y'] }).map((p) => p.kind)).toEqual(['names']);
    expect(check({ keyPem: 'garbage' }).map((p) => p.kind)).toEqual(['bad-key']);
  });

  it('checks time against the `now` given', async () => {
    const leaf = await issueCertificate(ca, { commonName: 'x', notBefore: new Date('2030-01-01T00:00:00Z'), notAfter: new Date('2031-01-01T00:00:00Z') });
    const pems = { certPem: leaf.certPem, keyPem: privateKeyPem(leaf.privateKey), caPem: ca.certPem };
    expect(check(pems, {}, new Date('2030-06-01'))).toEqual([]);
    expect(check(pems, {}, new Date('2030-12-15')).map((p) => p.kind)).toEqual(['expiring']);
    expect(check(pems, {}, new Date('2031-06-01')).map((p) => p.kind)).toEqual(['expired']);
    expect(check(pems, {}, new Date('2029-12-31')).map((p) => p.kind)).toEqual(['not-yet-valid']);
  });
});

describe('preflightCertificates (loader)', () => {
  it('reports unreadable files and still runs the checks the others allow', async () => {
    const f = fixtures.valid;
    const problems = await preflight([
      expectation(f, { keyFile: join(dir, 'missing.key'), names: [...NAMES, 'extra.example'] }),
      expectation(f, { host: 'backend-2', caFile: join(dir, 'fx') }),
    ]);
    expect(problems.map((p) => [p.host, p.file, p.kind, p.problem])).toEqual([
      ['backend-1', 'missing.key', 'unreadable', 'does not exist'],
      ['backend-1', 'fx/valid.pem', 'names', expect.stringMatching(/^does not cover extra\.example /) as unknown],
      ['backend-2', 'fx', 'unreadable', 'is a directory, not a file'],
    ]);
  });

  it('one broken CA file shared by several hosts is one line naming them all', async () => {
    const problems = await preflight([
      expectation(fixtures.emptyCa),
      expectation(fixtures.emptyCa, { host: 'backend-2' }),
      expectation(fixtures.emptyCa, { host: 'backend-3' }),
    ]);
    expect(problems).toHaveLength(3);
    expect(renderCertProblems(problems)).toEqual([
      'backend-1, backend-2, backend-3: fx/emptyCa-ca.pem contains no certificate (no "BEGIN CERTIFICATE" block) — put the PEM certificate of the CA that issued the host certificates in it',
    ]);
  });

  it('certPreflightError carries every line and the bad-input exit code', async () => {
    const problems = await preflight(invalidAll());
    const error = certPreflightError(problems);
    everything.push(error.message, ...error.issues, error.hint ?? '');
    expect(error).toBeInstanceOf(PreflightError);
    expect(error.exitCode).toBe(ExitCode.BadInput);
    expect(error.issues).toEqual(renderCertProblems(problems));
    expect(error.message).toBe(`certificate preflight failed (${error.issues.length} problems); nothing was changed`);
  });

  it('every fixture together: one problem per invalid fixture, none for valid ones', async () => {
    const problems = await preflight(invalidAll());
    const invalidCount = Object.values(fixtures).filter((f) => !f.valid).length;
    expect(problems).toHaveLength(invalidCount);
  });

  function invalidAll(): CertExpectation[] {
    return Object.entries(fixtures).map(([name, f]) => expectation(f, { host: name }));
  }

  it('a file written after generation is read fresh (no caching across calls)', async () => {
    const path = join(dir, 'late.pem');
    writeFileSync(path, 'nothing');
    const first = await preflight([expectation(fixtures.valid, { certFile: path })]);
    expect(first.map((p) => p.kind)).toEqual(['bad-certificate']);
    writeFileSync(path, readFileSync(fixtures.valid.cert));
    expect(await preflight([expectation(fixtures.valid, { certFile: path })])).toEqual([]);
  });
});
