/** Certificate and key summaries (src/certs/inspect.ts): what `rollout certs` shows, and what it must never show. */
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createIntermediateCa, createRootCa, issueCertificate } from '../src/certs/generate.js';
import {
  containsPrivateKeyPem,
  formatCertificateSummary,
  formatPrivateKeySummary,
  parseSubjectAltNames,
  summarizeCertificateFile,
  summarizePrivateKey,
} from '../src/certs/inspect.js';
import { privateKeyPem, type KeyAlgorithm, type KeyFormat } from '../src/certs/keys.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rollout-certs-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('summarizeCertificateFile', () => {
  it('summarises a bundle leaf first: CNs, SANs, dates, fingerprints, key type', async () => {
    const root = await createRootCa({ commonName: 'lab root' });
    const mid = await createIntermediateCa(root, { commonName: 'lab mid' });
    const leaf = await issueCertificate(mid, {
      commonName: 'backend-1',
      dnsNames: ['backend-1', 'localhost'],
      ipAddresses: ['10.0.0.11', '127.0.0.1'],
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T12:00:00Z'),
    });
    const path = join(dir, 'bundle.pem');
    writeFileSync(path, leaf.bundlePem);
    const content = readFileSync(path);
    const s = summarizeCertificateFile(content);

    const sha256sum = (await run('sha256sum', [path])).stdout.split(' ')[0];
    expect(s.fileSha256).toBe(sha256sum);
    expect(s.problem).toBeUndefined();
    expect(s.certificates).toHaveLength(2);
    const [first, second] = s.certificates;
    expect(first).toMatchObject({
      subjectCN: 'backend-1',
      issuerCN: 'lab mid',
      sans: [
        { type: 'DNS', value: 'backend-1' },
        { type: 'DNS', value: 'localhost' },
        { type: 'IP', value: '10.0.0.11' },
        { type: 'IP', value: '127.0.0.1' },
      ],
      notBefore: '2026-01-01',
      notAfter: '2027-01-01',
      keyType: 'EC P-256',
      isCA: false,
      extendedKeyUsages: ['serverAuth', 'clientAuth'],
    });
    const opensslFp = (await run('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path])).stdout
      .trim()
      .split('=')[1]
      ?.replaceAll(':', '')
      .toLowerCase();
    expect(first?.sha256).toBe(opensslFp);
    expect(first?.publicKeySha256).toBe(summarizePrivateKey(privateKeyPem(leaf.privateKey)).publicKeySha256);
    expect(second).toMatchObject({ subjectCN: 'lab mid', issuerCN: 'lab root', isCA: true, sans: [] });
    expect(formatCertificateSummary(first!)).toMatch(
      /^CN=backend-1 \[DNS:backend-1, DNS:localhost, IP:10\.0\.0\.11, IP:127\.0\.0\.1\] issued by CN=lab mid, valid 2026-01-01 to 2027-01-01, EC P-256, sha256 [0-9a-f]{16}…$/,
    );
  });

  it('says why a file has no certificate: empty, DER, garbled', async () => {
    const ca = await createRootCa();
    const der = new X509Certificate(ca.certPem).raw;
    expect(summarizeCertificateFile('').problem).toBe('contains no certificate (no "BEGIN CERTIFICATE" block)');
    expect(summarizeCertificateFile(der).problem).toBe('is a DER (binary) certificate, and Sensu reads PEM only');
    const garbled = ca.certPem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    expect(summarizeCertificateFile(garbled + ca.certPem).problem).toMatch(/^has a certificate that cannot be parsed \(block 1 of 2: /);
  });
});

describe('parseSubjectAltNames', () => {
  it("reads Node's quoted values (a comma inside a name does not split it) and compresses IPv6", () => {
    expect(parseSubjectAltNames('DNS:a.example, DNS:"x\\u002cy\\"z", IP Address:0:0:0:0:0:0:0:1, email:me@example.com, URI:spiffe://x/y')).toEqual([
      { type: 'DNS', value: 'a.example' },
      { type: 'DNS', value: 'x,y"z' },
      { type: 'IP', value: '::1' },
      { type: 'email', value: 'me@example.com' },
      { type: 'URI', value: 'spiffe://x/y' },
    ]);
    expect(parseSubjectAltNames(undefined)).toEqual([]);
  });

  it('agrees with Node on a certificate whose DNS SAN holds a comma', async () => {
    const ca = await createRootCa();
    const leaf = await issueCertificate(ca, { commonName: 'odd', dnsNames: ['odd,name', 'plain'] });
    expect(parseSubjectAltNames(new X509Certificate(leaf.certPem).subjectAltName)).toEqual([
      { type: 'DNS', value: 'odd,name' },
      { type: 'DNS', value: 'plain' },
    ]);
  });
});

describe('summarizePrivateKey', () => {
  const cases: [KeyAlgorithm, KeyFormat, string, string][] = [
    ['ecdsa-p256', 'sec1', 'EC P-256', 'SEC1'],
    ['ecdsa-p256', 'pkcs8', 'EC P-256', 'PKCS#8'],
    ['rsa-2048', 'pkcs1', 'RSA 2048', 'PKCS#1'],
    ['rsa-2048', 'pkcs8', 'RSA 2048', 'PKCS#8'],
    ['ed25519', 'pkcs8', 'Ed25519', 'PKCS#8'],
  ];
  it.each(cases)('%s in %s: type, format and public key hash, never the key', async (algorithm, format, keyType, formatName) => {
    const ca = await createRootCa();
    const leaf = await issueCertificate(ca, { commonName: 'k', algorithm });
    const pem = privateKeyPem(leaf.privateKey, format);
    const s = summarizePrivateKey(pem);
    expect(s).toMatchObject({ keyType, format: formatName });
    expect(s.publicKeySha256).toBe(summarizeCertificateFile(leaf.certPem).certificates[0]?.publicKeySha256);
    expect(s.fileSha256).toBe(createHash('sha256').update(pem).digest('hex'));
    const shown = [JSON.stringify(s), inspect(s), formatPrivateKeySummary(s)].join('\n');
    expect(containsPrivateKeyPem(shown)).toBe(false);
    // Not even a fragment of the base64 body.
    const body = pem.split('\n').slice(1, -2).join('');
    for (let i = 0; i + 16 <= body.length; i += 16) expect(shown).not.toContain(body.slice(i, i + 16));
    expect(formatPrivateKeySummary(s)).toMatch(new RegExp(`^${keyType} private key \\(${formatName}\\), public key sha256 [0-9a-f]{16}…$`));
  });

  it('reports encrypted, garbled and missing keys as problems', async () => {
    const ca = await createRootCa();
    const encrypted = ca.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    expect(summarizePrivateKey(encrypted).problem).toBe('is encrypted with a passphrase, which Sensu cannot use');
    // The legacy OpenSSL form: "EC PRIVATE KEY" with Proc-Type/DEK-Info headers.
    const legacyPem = ca.privateKey.export({ type: 'sec1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    expect(legacyPem).toMatch(/Proc-Type: 4,ENCRYPTED/);
    expect(summarizePrivateKey(legacyPem).problem).toBe('is encrypted with a passphrase, which Sensu cannot use');
    // A real key's PEM with its body cut to four bytes: still a key block, no longer a key.
    const pkcs8 = ca.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const garbled = pkcs8.replace(/\n[^-][\s\S]*?\n-----END/, '\nAAAA\n-----END');
    expect(garbled).toMatch(/\nAAAA\n-----END/);
    expect(summarizePrivateKey(garbled).problem).toMatch(/^has a private key that cannot be parsed/);
    expect(summarizePrivateKey(ca.certPem).problem).toBe('contains no private key (no "BEGIN … PRIVATE KEY" block)');
    expect(formatPrivateKeySummary(summarizePrivateKey(encrypted))).toBe('private key file is encrypted with a passphrase, which Sensu cannot use');
  });

  it('reads the key after a certificate in a combined PEM file, as Go does', async () => {
    const ca = await createRootCa();
    const leaf = await issueCertificate(ca, { commonName: 'combined' });
    const s = summarizePrivateKey(leaf.certPem + privateKeyPem(leaf.privateKey, 'sec1'));
    expect(s).toMatchObject({ keyType: 'EC P-256', format: 'SEC1' });
  });
});
