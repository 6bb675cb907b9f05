/**
 * `rollout certs` on this machine: a CA and one certificate per backend with every SAN the secure
 * preflight wants, keys 0600, certificates OpenSSL verifies; a rerun keeps every file byte for
 * byte, and renews only an expiring or wrong-SAN certificate, saying why.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRootCa, issueCertificate, loadCaFiles } from '../src/certs/generate.js';
import { parseSubjectAltNames, extendedKeyUsages, describeKey } from '../src/certs/inspect.js';
import { privateKeyPem } from '../src/certs/keys.js';
import { checkCertificate } from '../src/certs/preflight.js';
import { namesDialled } from '../src/stages/certificates.js';
import { loadInventory } from '../src/inventory/load.js';
import { rollout } from './helpers/cli.js';

const INVENTORY = `all:
  vars:
    ansible_user: ops
    sensu_ca_file: pki/ca.pem
  children:
    backends:
      vars:
        sensu_cert_file: pki/{{ inventory_hostname }}.pem
        sensu_key_file: pki/{{ inventory_hostname }}.key
      hosts:
        backend-1:
          ansible_host: 10.0.0.11
          sensu_extra_sans: [sensu.example.com, 192.0.2.7]
        backend-2:
          ansible_host: b2.example.com
    agents:
      hosts:
        agent-[01:03]:
`;

let dir: string;
let inv: string;
let pki: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rollout-certs-'));
  inv = join(dir, 'inventory.yml');
  pki = join(dir, 'pki');
  writeFileSync(inv, INVENTORY);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const certs = (...extra: string[]): ReturnType<typeof rollout> => rollout(['certs', '-i', inv, '--out', pki, ...extra]);
const snapshot = (): Record<string, string> =>
  Object.fromEntries(
    readdirSync(pki)
      .sort()
      .map((f) => [f, readFileSync(join(pki, f)).toString('base64')]),
  );
const mode = (f: string): number => statSync(join(pki, f)).mode & 0o777;

describe('rollout certs', () => {
  it('makes a CA and one certificate per backend, with the SANs, usages, key type and modes Sensu needs', async () => {
    const r = await certs();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(pki).sort()).toEqual(['backend-1.key', 'backend-1.pem', 'backend-2.key', 'backend-2.pem', 'ca.key', 'ca.pem']);
    expect(r.stdout).toMatch(/^issued +backend-1 /m);
    expect(r.stdout).toMatch(/^issued +backend-2 /m);
    expect(r.stdout).toContain('3 agent(s) got none');
    expect(r.stdout).toContain('sensu_ca_file: pki/ca.pem');
    expect(r.stdout).toContain('sensu_cert_file: pki/{{ inventory_hostname }}.pem');
    expect(r.stdout).toContain('sensu_key_file: pki/{{ inventory_hostname }}.key');
    expect(r.stdout).not.toContain('PRIVATE KEY');
    for (const f of ['ca.key', 'backend-1.key', 'backend-2.key']) expect(mode(f)).toBe(0o600);
    for (const f of ['ca.pem', 'backend-1.pem', 'backend-2.pem']) expect(mode(f)).toBe(0o644);

    const b1 = new X509Certificate(readFileSync(join(pki, 'backend-1.pem')));
    expect(
      parseSubjectAltNames(b1.subjectAltName)
        .map((s) => `${s.type}:${s.value}`)
        .sort(),
    ).toEqual(['DNS:backend-1', 'DNS:localhost', 'DNS:sensu.example.com', 'IP:10.0.0.11', 'IP:127.0.0.1', 'IP:192.0.2.7'].sort());
    const b2 = new X509Certificate(readFileSync(join(pki, 'backend-2.pem')));
    expect(
      parseSubjectAltNames(b2.subjectAltName)
        .map((s) => `${s.type}:${s.value}`)
        .sort(),
    ).toEqual(['DNS:b2.example.com', 'DNS:backend-2', 'DNS:localhost', 'IP:127.0.0.1']);
    for (const c of [b1, b2]) {
      expect(extendedKeyUsages(c)?.sort()).toEqual(['clientAuth', 'serverAuth']);
      expect(describeKey(c.publicKey)).toBe('EC P-256');
      const days = (new Date(c.validTo).getTime() - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(364);
      expect(days).toBeLessThan(366);
    }
    expect(b1.subject).toContain('CN=backend-1');
    for (const host of ['backend-1', 'backend-2']) {
      expect(execFileSync('openssl', ['verify', '-CAfile', join(pki, 'ca.pem'), join(pki, `${host}.pem`)]).toString()).toContain(': OK');
    }

    // What `rollout secure` will check: the same inventory (its files now exist) passes the certificate preflight.
    const loaded = await loadInventory(inv);
    for (const h of loaded.hosts.filter((x) => x.role === 'backend')) {
      const problems = checkCertificate({
        host: h.name,
        certFile: h.sensu.certFile ?? '',
        keyFile: h.sensu.keyFile ?? '',
        caFile: h.sensu.caFile ?? '',
        names: namesDialled(h),
        usages: ['serverAuth', 'clientAuth'],
        certPem: readFileSync(h.sensu.certFile ?? ''),
        keyPem: readFileSync(h.sensu.keyFile ?? ''),
        caPem: readFileSync(h.sensu.caFile ?? ''),
      });
      expect(problems).toEqual([]);
    }
  });

  it('a rerun keeps every file byte for byte; --agents adds client certificates without touching the rest', async () => {
    expect((await certs()).code).toBe(0);
    const before = snapshot();
    const again = await certs();
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^ca +reused /m);
    expect(again.stdout).toMatch(/^kept +backend-1 /m);
    expect(again.stdout).toMatch(/^kept +backend-2 /m);
    expect(snapshot()).toEqual(before);

    const withAgents = await certs('--agents');
    expect(withAgents.code).toBe(0);
    expect(withAgents.stdout).toMatch(/^issued +agent-02 /m);
    expect(withAgents.stdout).toContain('sensu_client_cert_file: pki/{{ inventory_hostname }}.pem');
    const after = snapshot();
    for (const [f, content] of Object.entries(before)) expect(after[f]).toBe(content);
    expect(Object.keys(after)).toContain('agent-03.key');
    expect(mode('agent-03.key')).toBe(0o600);
    // An agent's certificate only authenticates it: CN = entity name, clientAuth only, no SANs.
    const agentCert = new X509Certificate(readFileSync(join(pki, 'agent-03.pem')));
    expect(agentCert.subject).toBe('CN=agent-03');
    expect(extendedKeyUsages(agentCert)).toEqual(['clientAuth']);
    expect(agentCert.subjectAltName).toBeUndefined();
    const agentsAgain = await certs('--agents');
    expect(agentsAgain.stdout).toMatch(/^kept +agent-03 /m);
  });

  it('renews an expiring certificate and one with the wrong SANs, says why, and leaves the rest alone', async () => {
    expect((await certs()).code).toBe(0);
    const ca = await loadCaFiles(join(pki, 'ca.pem'), join(pki, 'ca.key'));
    const expiring = await issueCertificate(ca, {
      commonName: 'backend-1',
      dnsNames: ['backend-1', 'localhost', 'sensu.example.com'],
      ipAddresses: ['10.0.0.11', '127.0.0.1', '192.0.2.7'],
      validityDays: 10,
    });
    writeFileSync(join(pki, 'backend-1.pem'), expiring.certPem);
    writeFileSync(join(pki, 'backend-1.key'), privateKeyPem(expiring.privateKey), { mode: 0o600 });
    const wrongSans = await issueCertificate(ca, { commonName: 'backend-2', dnsNames: ['backend-2'] });
    writeFileSync(join(pki, 'backend-2.pem'), wrongSans.certPem);
    writeFileSync(join(pki, 'backend-2.key'), privateKeyPem(wrongSans.privateKey), { mode: 0o600 });
    const ca0 = readFileSync(join(pki, 'ca.pem'), 'utf8');
    const caKey0 = readFileSync(join(pki, 'ca.key'), 'utf8');

    const r = await certs();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^renewed +backend-1 .*because expires in (9|10) days \(under --min-validity 30\)/m);
    expect(r.stdout).toMatch(/^renewed +backend-2 .*because SANs differ \(missing DNS:b2\.example\.com, DNS:localhost, IP:127\.0\.0\.1\)/m);
    expect(readFileSync(join(pki, 'ca.pem'), 'utf8')).toBe(ca0);
    expect(readFileSync(join(pki, 'ca.key'), 'utf8')).toBe(caKey0);
    const renewed = new X509Certificate(readFileSync(join(pki, 'backend-2.pem')));
    expect(renewed.subjectAltName).toContain('DNS:b2.example.com');
    expect((new Date(new X509Certificate(readFileSync(join(pki, 'backend-1.pem'))).validTo).getTime() - Date.now()) / 86_400_000).toBeGreaterThan(364);
    expect(mode('backend-1.key')).toBe(0o600);
    // Renewed means qualifying: the next run keeps them.
    const before = snapshot();
    expect((await certs()).stdout).toMatch(/^kept +backend-2 /m);
    expect(snapshot()).toEqual(before);
  });

  it('signs with a given CA, renews certificates of another CA, and refuses to overwrite a different ca.pem', async () => {
    const other = await createRootCa({ commonName: 'corp CA' });
    writeFileSync(join(dir, 'corp.pem'), other.certPem);
    writeFileSync(join(dir, 'corp.key'), privateKeyPem(other.privateKey), { mode: 0o600 });
    const r = await certs('--ca-cert', join(dir, 'corp.pem'), '--ca-key', join(dir, 'corp.key'), '--days', '90', '--min-validity', '10');
    expect(r.code).toBe(0);
    expect(readFileSync(join(pki, 'ca.pem'), 'utf8')).toBe(other.certPem);
    expect(readdirSync(pki)).not.toContain('ca.key');
    const b1 = new X509Certificate(readFileSync(join(pki, 'backend-1.pem')));
    expect(b1.issuer).toContain('CN=corp CA');
    expect((new Date(b1.validTo).getTime() - Date.now()) / 86_400_000).toBeLessThan(91);

    // Another CA while pki/ca.pem holds the corp CA: refused, nothing written.
    const third = await createRootCa({ commonName: 'third CA' });
    writeFileSync(join(dir, 'third.pem'), third.certPem);
    writeFileSync(join(dir, 'third.key'), privateKeyPem(third.privateKey));
    const before = snapshot();
    const refused = await certs('--ca-cert', join(dir, 'third.pem'), '--ca-key', join(dir, 'third.key'));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already holds another CA certificate');
    expect(snapshot()).toEqual(before);
  });

  it('bad input exits 2 and writes nothing', async () => {
    const half = await certs('--ca-cert', join(dir, 'nope.pem'));
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--ca-cert and --ca-key go together');
    const unreadable = await certs('--ca-cert', join(dir, 'nope.pem'), '--ca-key', join(dir, 'nope.key'));
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain('cannot be read');
    const days = await certs('--days', '20');
    expect(days.code).toBe(2);
    const missing = await rollout(['certs', '-i', join(dir, 'missing.yml'), '--out', pki]);
    expect(missing.code).toBe(2);
    const noOut = await rollout(['certs', '-i', inv]);
    expect(noOut.code).toBe(2);
    expect(() => readdirSync(pki)).toThrow();
  });
});
