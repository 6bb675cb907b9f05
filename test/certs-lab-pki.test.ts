/** The lab PKI (test/lab/pki.ts): what `lab up` writes, how fast, and that a later command can sign with its CA. */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { issueCertificate, loadCaFiles } from '../src/certs/generate.js';
import { parseSubjectAltNames, summarizePrivateKey } from '../src/certs/inspect.js';
import { preflightCertificates } from '../src/certs/preflight.js';
import { writeLabPki, type LabHostCert } from './lab/pki.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'rollout-certs-lab-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('writeLabPki', () => {
  it('writes ca.pem, ca.key (0600) and per host <name>.pem + <name>.key (0600) with the lab SANs', async () => {
    const out = join(dir, 'small');
    const hosts: LabHostCert[] = [
      { name: 'backend-1', address: '127.30.0.11' },
      { name: 'agent-1', address: '127.30.0.21', extraNames: ['agent-1.lab.example', '10.1.2.3', 'localhost'] },
    ];
    const pki = await writeLabPki(out, hosts);
    expect(readdirSync(out).sort()).toEqual(['agent-1.key', 'agent-1.pem', 'backend-1.key', 'backend-1.pem', 'ca.key', 'ca.pem']);
    for (const key of ['ca.key', 'backend-1.key', 'agent-1.key']) expect(mode(join(out, key))).toBe(0o600);
    expect(pki.caFile).toBe(join(out, 'ca.pem'));

    const ca = new X509Certificate(readFileSync(pki.caFile));
    expect(ca.ca).toBe(true);
    const backend = new X509Certificate(readFileSync(join(out, 'backend-1.pem')));
    expect(backend.subject).toBe('CN=backend-1');
    expect(backend.issuer).toBe(ca.subject);
    expect(parseSubjectAltNames(backend.subjectAltName)).toEqual([
      { type: 'DNS', value: 'backend-1' },
      { type: 'DNS', value: 'localhost' },
      { type: 'IP', value: '127.30.0.11' },
      { type: 'IP', value: '127.0.0.1' },
    ]);
    expect(backend.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const days = (new Date(backend.validTo).getTime() - new Date(backend.validFrom).getTime()) / 86_400_000;
    expect(Math.round(days)).toBe(365);
    expect(summarizePrivateKey(readFileSync(join(out, 'backend-1.key')))).toMatchObject({ keyType: 'EC P-256', format: 'PKCS#8' });
    const agent = new X509Certificate(readFileSync(join(out, 'agent-1.pem')));
    expect(agent.subjectAltName).toBe('DNS:agent-1, DNS:localhost, DNS:agent-1.lab.example, IP Address:127.30.0.21, IP Address:127.0.0.1, IP Address:10.1.2.3');
  });

  it('tightens key modes when rewriting over an old directory', async () => {
    const out = join(dir, 'rerun');
    await writeLabPki(out, [{ name: 'h', address: '127.30.0.5' }]);
    chmodSync(join(out, 'h.key'), 0o644);
    await writeLabPki(out, [{ name: 'h', address: '127.30.0.5' }]);
    expect(mode(join(out, 'h.key'))).toBe(0o600);
  });

  it('200 hosts: every certificate passes the preflight (the time is printed, not asserted: npm run bench measures)', async () => {
    const out = join(dir, 'big');
    const hosts: LabHostCert[] = Array.from({ length: 200 }, (_, i) => ({
      name: `host-${String(i).padStart(3, '0')}`,
      address: `127.31.${Math.floor(i / 250)}.${(i % 250) + 2}`,
    }));
    const t0 = performance.now();
    const pki = await writeLabPki(out, hosts);
    const written = performance.now() - t0;
    const t1 = performance.now();
    const problems = await preflightCertificates(
      hosts.map((h) => ({
        host: h.name,
        certFile: join(out, `${h.name}.pem`),
        keyFile: join(out, `${h.name}.key`),
        caFile: pki.caFile,
        names: [h.name, h.address, 'localhost', '127.0.0.1'],
        usages: ['serverAuth', 'clientAuth'],
      })),
    );
    const checked = performance.now() - t1;
    console.log(`writeLabPki, 200 hosts: ${written.toFixed(0)} ms (${(written / 200).toFixed(2)} ms per host); preflight of all 200: ${checked.toFixed(0)} ms`);
    expect(problems).toEqual([]);
    expect(readdirSync(out)).toHaveLength(402);
  });
});

describe('signing with the lab CA later (rollout certs with an existing CA)', () => {
  it('reloads ca.pem + ca.key and issues a certificate openssl and the preflight accept', async () => {
    const out = join(dir, 'reload');
    const pki = await writeLabPki(out, []);
    const ca = await loadCaFiles(pki.caFile, pki.caKeyFile);
    const leaf = await issueCertificate(ca, { commonName: 'backend-9', dnsNames: ['backend-9'], ipAddresses: ['10.0.0.19'] });
    const certFile = join(out, 'backend-9.pem');
    writeFileSync(certFile, leaf.bundlePem);
    const { stdout } = await run('openssl', ['verify', '-CAfile', pki.caFile, '-purpose', 'sslserver', certFile]);
    expect(stdout.trim()).toBe(`${certFile}: OK`);
    expect(new X509Certificate(leaf.certPem).checkIssued(new X509Certificate(readFileSync(pki.caFile)))).toBe(true);
  });
});
