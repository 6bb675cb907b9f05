/**
 * Generated certificates work for real TLS: node:tls handshakes (server name, IP SANs, client
 * certificates) and `openssl verify`. Each lab fixture is also served over TLS, and OpenSSL's
 * verdict must agree with the preflight's, so the preflight rejects exactly what peers would.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preflightCertificates } from '../src/certs/preflight.js';
import { INVALID_FIXTURES, VALID_FIXTURES, writeBadFixtures, writeLabPki, type Fixture, type FixtureName, type LabHostCert, type LabPki } from './lab/pki.js';

const run = promisify(execFile);
// Loopback's whole 127/8 answers on Linux; this address is outside the lab ranges tests use.
const host: LabHostCert = { name: 'backend-1', address: '127.199.0.11' };
const dir = mkdtempSync(join(tmpdir(), 'rollout-certs-tls-'));
let pki: LabPki;
let fixtures: Record<FixtureName, Fixture>;

beforeAll(async () => {
  pki = await writeLabPki(join(dir, 'pki'), [host, { name: 'agent-1', address: '127.199.0.21' }]);
  fixtures = await writeBadFixtures(join(dir, 'fx'), host, pki);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Files {
  cert: string;
  key: string;
  ca: string;
}
type Outcome = { ok: true; protocol: string } | { ok: false; error: string };

/**
 * Serves `server` on `listenOn` and dials it with `dial`, presenting `client` as the client
 * certificate when given (the server then requires one signed by its CA). Resolves once the
 * client has read the server's greeting, or with the first error either side saw.
 */
async function handshake(server: Files, listenOn: string, dial: { host: string; servername?: string }, client?: Files): Promise<Outcome> {
  let srv: tls.Server;
  try {
    srv = tls.createServer({
      cert: readFileSync(server.cert),
      key: readFileSync(server.key),
      ca: readFileSync(server.ca),
      requestCert: client !== undefined,
      rejectUnauthorized: client !== undefined,
      minVersion: 'TLSv1.2',
    });
  } catch (e) {
    return { ok: false, error: `server cannot load its certificate: ${(e as Error).message}` };
  }
  srv.on('secureConnection', (socket) => socket.end('hello'));
  await new Promise<void>((resolve) => srv.listen(0, listenOn, resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise<Outcome>((resolve) => {
      let socket: tls.TLSSocket;
      try {
        socket = tls.connect({
          host: dial.host,
          port,
          ...(dial.servername ? { servername: dial.servername } : {}),
          ca: readFileSync(server.ca),
          ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
          minVersion: 'TLSv1.2',
        });
      } catch (e) {
        resolve({ ok: false, error: `client cannot load its certificate: ${(e as Error).message}` });
        return;
      }
      let data = '';
      socket.on('data', (d: Buffer) => {
        data += d.toString();
      });
      socket.on('end', () => resolve(data === 'hello' ? { ok: true, protocol: socket.getProtocol() ?? '?' } : { ok: false, error: 'closed without greeting' }));
      socket.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, error: e.code ?? e.message }));
    });
  } finally {
    await new Promise((resolve) => srv.close(resolve));
  }
}

describe('TLS with lab certificates', () => {
  const files = (name: string): Files => ({ cert: join(pki.dir, `${name}.pem`), key: join(pki.dir, `${name}.key`), ca: pki.caFile });

  it('a client trusting ca.pem accepts the backend by name, by localhost, by its address and by 127.0.0.1', async () => {
    const backend = files('backend-1');
    expect(await handshake(backend, '127.0.0.1', { host: '127.0.0.1', servername: 'backend-1' })).toEqual({ ok: true, protocol: 'TLSv1.3' });
    expect(await handshake(backend, '127.0.0.1', { host: '127.0.0.1', servername: 'localhost' })).toMatchObject({ ok: true });
    expect(await handshake(backend, host.address, { host: host.address })).toMatchObject({ ok: true });
    expect(await handshake(backend, '127.0.0.1', { host: '127.0.0.1' })).toMatchObject({ ok: true });
  });

  it("refuses a name or address the certificate does not cover, like Go's x509 would", async () => {
    const agentCert = files('agent-1');
    expect(await handshake(agentCert, host.address, { host: host.address })).toEqual({ ok: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(await handshake(agentCert, '127.0.0.1', { host: '127.0.0.1', servername: 'backend-1' })).toEqual({
      ok: false,
      error: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('mutual TLS: the agent certificate works as a client certificate (clientAuth)', async () => {
    expect(await handshake(files('backend-1'), '127.0.0.1', { host: '127.0.0.1', servername: 'backend-1' }, files('agent-1'))).toMatchObject({ ok: true });
  });

  it('openssl verify accepts a lab leaf for both purposes, its name and its address', async () => {
    const leaf = join(pki.dir, 'backend-1.pem');
    for (const purpose of ['sslserver', 'sslclient']) {
      const { stdout } = await run('openssl', [
        'verify',
        '-CAfile',
        pki.caFile,
        '-purpose',
        purpose,
        '-verify_hostname',
        'backend-1',
        '-verify_ip',
        host.address,
        leaf,
      ]);
      expect(stdout.trim()).toBe(`${leaf}: OK`);
    }
    await expect(run('openssl', ['verify', '-CAfile', pki.caFile, '-verify_ip', '10.9.9.9', leaf])).rejects.toThrow(/IP address mismatch/);
  });
});

describe('preflight agrees with real TLS on every fixture', () => {
  // The preflight is stricter in one place only: it wants 30 more days of validity.
  const stricter = new Set<FixtureName>(['expiringSoon']);
  const dials = [
    { listenOn: host.address, dial: { host: host.address } },
    { listenOn: '127.0.0.1', dial: { host: '127.0.0.1' } },
    { listenOn: '127.0.0.1', dial: { host: '127.0.0.1', servername: 'backend-1' } },
    { listenOn: '127.0.0.1', dial: { host: '127.0.0.1', servername: 'localhost' } },
  ];
  const names: FixtureName[] = [...VALID_FIXTURES, ...INVALID_FIXTURES];

  it.each(names)('%s', async (name) => {
    const f = fixtures[name];
    const problems = await preflightCertificates([
      {
        host: host.name,
        certFile: f.cert,
        keyFile: f.key,
        caFile: f.ca,
        names: [host.name, host.address, 'localhost', '127.0.0.1'],
        usages: ['serverAuth', 'clientAuth'],
      },
    ]);
    const outcomes: Outcome[] = [];
    for (const { listenOn, dial } of dials) outcomes.push(await handshake(f, listenOn, dial));
    // The same certificate as a client certificate, to a server trusting the same CA.
    outcomes.push(
      await handshake(
        { cert: join(pki.dir, 'backend-1.pem'), key: join(pki.dir, 'backend-1.key'), ca: f.ca },
        '127.0.0.1',
        { host: '127.0.0.1', servername: 'backend-1' },
        f,
      ),
    );
    const tlsOk = outcomes.every((o) => o.ok);
    expect({ tlsOk, outcomes }).toMatchObject({ tlsOk: stricter.has(name) ? true : f.valid });
    expect(problems.length === 0).toBe(f.valid);
  });

  it('every fixture is in the list', () => {
    expect([...names].sort()).toEqual(Object.keys(fixtures).sort());
  });
});
