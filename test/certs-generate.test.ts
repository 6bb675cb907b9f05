/** Certificate generation (src/certs/generate.ts, keys.ts): real keys and certificates, checked with node:crypto and the openssl CLI. */
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { createIntermediateCa, createRootCa, issueCertificate, loadCa, loadCaFiles } from '../src/certs/generate.js';
import { generateKeyPair, privateKeyPem, type KeyAlgorithm, type KeyFormat } from '../src/certs/keys.js';
import { extendedKeyUsages, parseSubjectAltNames } from '../src/certs/inspect.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rollout-certs-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DAY = 86_400_000;
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};

describe('createRootCa', () => {
  it('makes a self-signed ECDSA P-256 CA with CA:TRUE and keyCertSign', async () => {
    const ca = await createRootCa({ commonName: 'test CA' });
    const cert = new X509Certificate(ca.certPem);
    expect(cert.subject).toBe('CN=test CA');
    expect(cert.issuer).toBe('CN=test CA');
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert) && cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.chainPem).toBe('');
    const text = (await run('openssl', ['x509', '-noout', '-text', '-in', file('root.pem', ca.certPem)])).stdout;
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toMatch(/Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Subject Key Identifier/);
  });

  it.each<KeyAlgorithm>(['rsa-2048', 'ed25519', 'ecdsa-p384'])('can use %s keys, and sign leaves with them', async (algorithm) => {
    const ca = await createRootCa({ algorithm });
    const leaf = await issueCertificate(ca, { commonName: 'x', dnsNames: ['x'] });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    const { stdout } = await run('openssl', ['verify', '-CAfile', file(`ca-${algorithm}.pem`, ca.certPem), file(`leaf-${algorithm}.pem`, leaf.certPem)]);
    expect(stdout.trim()).toMatch(/: OK$/);
  });
});

describe('issueCertificate', () => {
  it('sets CN, DNS and IP SANs, both EKUs, digitalSignature, AKI, and one year from five minutes ago', async () => {
    const ca = await createRootCa();
    const before = Date.now();
    const leaf = await issueCertificate(ca, { commonName: 'backend-1', dnsNames: ['backend-1', 'localhost'], ipAddresses: ['10.0.0.11', '127.0.0.1', '::1'] });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.subject).toBe('CN=backend-1');
    expect(parseSubjectAltNames(cert.subjectAltName)).toEqual([
      { type: 'DNS', value: 'backend-1' },
      { type: 'DNS', value: 'localhost' },
      { type: 'IP', value: '10.0.0.11' },
      { type: 'IP', value: '127.0.0.1' },
      { type: 'IP', value: '::1' },
    ]);
    expect(extendedKeyUsages(cert)).toEqual(['serverAuth', 'clientAuth']);
    expect(cert.ca).toBe(false);
    expect(cert.checkPrivateKey(leaf.privateKey)).toBe(true);
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    expect(before - from).toBeGreaterThanOrEqual(5 * 60_000 - 1000);
    expect(before - from).toBeLessThan(6 * 60_000);
    expect(Math.round((to - from) / DAY)).toBe(365);
    const text = (await run('openssl', ['x509', '-noout', '-text', '-in', file('leaf.pem', leaf.certPem)])).stdout;
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/Authority Key Identifier/);
    expect(leaf.bundlePem).toBe(leaf.certPem);
  });

  it('accepts dates in the past (expired fixtures) and refuses notAfter before notBefore', async () => {
    const ca = await createRootCa();
    const leaf = await issueCertificate(ca, { commonName: 'old', notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') });
    const cert = new X509Certificate(leaf.certPem);
    expect(new Date(cert.validFrom).toISOString()).toBe('2020-01-01T00:00:00.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2021-01-01T00:00:00.000Z');
    await expect(issueCertificate(ca, { commonName: 'x', notBefore: new Date('2021-01-01'), notAfter: new Date('2020-01-01') })).rejects.toThrow(
      /must be later/,
    );
  });

  it('gives RSA leaves keyEncipherment too, and honours explicit key usages and EKUs', async () => {
    const ca = await createRootCa();
    const rsa = await issueCertificate(ca, { commonName: 'rsa', algorithm: 'rsa-2048' });
    expect((await run('openssl', ['x509', '-noout', '-ext', 'keyUsage', '-in', file('rsa.pem', rsa.certPem)])).stdout).toMatch(
      /Digital Signature, Key Encipherment/,
    );
    const client = await issueCertificate(ca, { commonName: 'client', extendedKeyUsages: ['clientAuth'], keyUsages: ['digitalSignature', 'keyAgreement'] });
    expect(extendedKeyUsages(new X509Certificate(client.certPem))).toEqual(['clientAuth']);
    const any = await issueCertificate(ca, { commonName: 'any', extendedKeyUsages: [] });
    expect(extendedKeyUsages(new X509Certificate(any.certPem))).toBeUndefined();
    await expect(issueCertificate(ca, { commonName: 'x', ipAddresses: ['backend-1'] })).rejects.toThrow(/not an IP address/);
  });

  it('can reissue for an existing key pair', async () => {
    const ca = await createRootCa();
    const keyPair = await generateKeyPair();
    const a = await issueCertificate(ca, { commonName: 'a', keyPair });
    const b = await issueCertificate(ca, { commonName: 'a', keyPair });
    expect(new X509Certificate(b.certPem).checkPrivateKey(a.privateKey)).toBe(true);
    expect(a.certPem).not.toBe(b.certPem);
  });

  it('makes a bundle of leaf + intermediates (not the root) under an intermediate CA, which openssl verifies', async () => {
    const root = await createRootCa({ commonName: 'root' });
    const mid = await createIntermediateCa(root, { commonName: 'mid', pathLength: 0 });
    const leaf = await issueCertificate(mid, { commonName: 'leaf', dnsNames: ['leaf'] });
    expect(leaf.bundlePem).toBe(leaf.certPem + mid.certPem);
    expect(new X509Certificate(mid.certPem).ca).toBe(true);
    const rootFile = file('chain-root.pem', root.certPem);
    const { stdout } = await run('openssl', [
      'verify',
      '-CAfile',
      rootFile,
      '-untrusted',
      file('chain-mid.pem', mid.certPem),
      '-purpose',
      'sslserver',
      file('chain-leaf.pem', leaf.certPem),
    ]);
    expect(stdout.trim()).toMatch(/: OK$/);
    // Without the intermediate, the leaf does not verify.
    await expect(run('openssl', ['verify', '-CAfile', rootFile, file('chain-leaf-alone.pem', leaf.certPem)])).rejects.toThrow(
      /unable to get local issuer certificate/,
    );
  });
});

describe('private key PEM formats', () => {
  const cases: [KeyAlgorithm, KeyFormat, string][] = [
    ['ecdsa-p256', 'pkcs8', 'PRIVATE KEY'],
    ['ecdsa-p256', 'sec1', 'EC PRIVATE KEY'],
    ['rsa-2048', 'pkcs8', 'PRIVATE KEY'],
    ['rsa-2048', 'pkcs1', 'RSA PRIVATE KEY'],
    ['ed25519', 'pkcs8', 'PRIVATE KEY'],
  ];
  it.each(cases)('%s as %s is "BEGIN %s"', async (algorithm, format, label) => {
    const { privateKey } = await generateKeyPair(algorithm);
    expect(privateKeyPem(privateKey, format)).toMatch(new RegExp(`^-----BEGIN ${label}-----\\n`));
  });

  it('refuses formats that cannot hold the key', async () => {
    const ec = await generateKeyPair('ecdsa-p256');
    const ed = await generateKeyPair('ed25519');
    expect(() => privateKeyPem(ec.privateKey, 'pkcs1')).toThrow(/RSA keys only/);
    expect(() => privateKeyPem(ed.privateKey, 'sec1')).toThrow(/EC keys only/);
  });
});

describe('loadCa', () => {
  const formats: [KeyAlgorithm, KeyFormat][] = [
    ['ecdsa-p256', 'sec1'],
    ['ecdsa-p256', 'pkcs8'],
    ['rsa-2048', 'pkcs1'],
    ['ed25519', 'pkcs8'],
  ];
  it.each(formats)('reloads a %s CA with a %s key from files and signs with it', async (algorithm, format) => {
    const original = await createRootCa({ commonName: `reload ${algorithm}`, algorithm });
    const certFile = file(`reload-${algorithm}-${format}.pem`, original.certPem);
    const keyFile = file(`reload-${algorithm}-${format}.key`, privateKeyPem(original.privateKey, format));
    const ca = await loadCaFiles(certFile, keyFile);
    const leaf = await issueCertificate(ca, { commonName: 'after reload', dnsNames: ['x'] });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.checkIssued(new X509Certificate(original.certPem))).toBe(true);
    const { stdout } = await run('openssl', ['verify', '-CAfile', certFile, file(`reload-leaf-${algorithm}-${format}.pem`, leaf.certPem)]);
    expect(stdout.trim()).toMatch(/: OK$/);
  });

  it('reloads an intermediate CA file (intermediate then root): its leaves bundle the intermediate only', async () => {
    const root = await createRootCa({ commonName: 'root' });
    const mid = await createIntermediateCa(root, { commonName: 'mid' });
    const ca = await loadCa(mid.certPem + root.certPem, privateKeyPem(mid.privateKey, 'sec1'));
    const leaf = await issueCertificate(ca, { commonName: 'leaf' });
    expect(leaf.bundlePem).toBe(leaf.certPem + new X509Certificate(mid.certPem).toString());
  });

  it('reports every problem at once, naming the files, without key material', async () => {
    const ca = await createRootCa();
    const other = await generateKeyPair();
    const leaf = await issueCertificate(ca, { commonName: 'leaf' });
    const notCa = await loadCa(leaf.certPem, privateKeyPem(leaf.privateKey), { cert: 'leaf.pem', key: 'leaf.key' }).catch((e: unknown) => e);
    expect(notCa).toBeInstanceOf(InputError);
    expect((notCa as InputError).issues).toEqual(['leaf.pem is not a CA certificate (basicConstraints CA:TRUE missing): it cannot sign others']);
    const mismatch = (await loadCa(ca.certPem, privateKeyPem(other.privateKey), { cert: 'ca.pem', key: 'ca.key' }).catch((e: unknown) => e)) as InputError;
    expect(mismatch.issues).toEqual(['ca.key does not match the certificate in ca.pem']);
    const encrypted = ca.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'pw' }) as string;
    const both = (await loadCa('nothing', encrypted, { cert: 'ca.pem', key: 'ca.key' }).catch((e: unknown) => e)) as InputError;
    expect(both.issues).toEqual([
      'ca.pem contains no certificate (no "BEGIN CERTIFICATE" block)',
      'ca.key is encrypted with a passphrase, which Sensu cannot use',
    ]);
    const missing = (await loadCaFiles(join(dir, 'nope.pem'), join(dir, 'nope.key')).catch((e: unknown) => e)) as InputError;
    expect(missing.issues).toHaveLength(2);
    expect(missing.issues[0]).toMatch(/nope\.pem cannot be read \(ENOENT/);
    for (const e of [notCa as InputError, mismatch, both, missing]) expect(JSON.stringify([e.message, e.issues])).not.toMatch(/PRIVATE KEY/);
  });
});

describe('many leaves from one CA', () => {
  // Speed is measured in `npm run bench`, never timed here (a loaded CI machine is not slow code);
  // the time is printed for whoever reads the log.
  it('200 ECDSA P-256 leaves in a row: each its own key and serial, each with its PEM', async () => {
    const ca = await createRootCa();
    const opts = { commonName: 'h', dnsNames: ['h', 'localhost'], ipAddresses: ['10.0.0.1', '127.0.0.1'] };
    const n = 200;
    const serials = new Set<string>();
    const keys = new Set<string>();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const leaf = await issueCertificate(ca, opts);
      const pem = privateKeyPem(leaf.privateKey);
      // A key Node can load, of the curve asked for (no PEM text in the test: nothing here looks like a committed key).
      expect(createPrivateKey(pem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      keys.add(pem);
      serials.add(new X509Certificate(leaf.certPem).serialNumber);
    }
    console.log(`ECDSA P-256 leaf, sequential: ${((performance.now() - t0) / n).toFixed(2)} ms each (${n} certificates)`);
    expect(keys.size).toBe(n);
    expect(serials.size).toBe(n);
  });
});
