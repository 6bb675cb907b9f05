/**
 * API credentials go only to an endpoint verified against the inventory's CA: an https server
 * whose certificate another CA signed (what a host could add to its own ca.pem) and a plain http
 * server both receive no Authorization header, whatever the call.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiAuthorization, entitiesLastSeen } from '../src/facts/health.js';
import { Secret } from '../src/secret.js';
import { issue, makeCa } from './lab/sensu/test-pki.js';
import { scratchDir } from './helpers/scratch.js';

const dir = scratchDir('rollout-creds-');
const inventoryCa = makeCa(dir, 'inventory-ca');
const hostCa = makeCa(dir, 'host-ca');
const leaf = issue(hostCa, dir, 'rogue', { cn: 'rogue', ips: ['127.0.0.1'], usage: 'server' });
const seen: (string | undefined)[] = [];
const handler: http.RequestListener = (req, res) => {
  seen.push(req.headers.authorization);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"access_token":"t","timestamp":1,"check":{"status":0}}');
};
const rogue = https.createServer({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key) }, handler);
const plain = http.createServer(handler);
const url = (s: http.Server | https.Server, scheme: string): string => `${scheme}://127.0.0.1:${(s.address() as AddressInfo).port}`;

beforeAll(async () => {
  await Promise.all([rogue, plain].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
});
afterAll(() => {
  rogue.close();
  plain.close();
});

describe('credentials', () => {
  const password = { user: 'admin', password: new Secret('s3cret-password') };
  const apiKey = { apiKey: new Secret('0b0e5d2c-key') };

  it('are not sent to a TLS endpoint that only a host-supplied CA verifies', async () => {
    const ca = readFileSync(inventoryCa.cert, 'utf8');
    await expect(apiAuthorization(url(rogue, 'https'), password, ca)).rejects.toThrow(/certificate|self.signed|unable to verify/i);
    await expect(entitiesLastSeen(url(rogue, 'https'), 'default', 'Key 0b0e5d2c-key', ca)).rejects.toThrow(/certificate|unable to verify/i);
    expect(seen).toEqual([]);
  });

  it('are never sent over plain http, nor without a CA to verify against', async () => {
    await expect(apiAuthorization(url(plain, 'http'), password, readFileSync(inventoryCa.cert, 'utf8'))).rejects.toThrow('it is not TLS');
    await expect(apiAuthorization(url(plain, 'http'), apiKey, undefined)).rejects.toThrow('it is not TLS');
    await expect(apiAuthorization(url(rogue, 'https'), apiKey, undefined)).rejects.toThrow('no sensu_ca_file');
    await expect(entitiesLastSeen(url(plain, 'http'), 'default', 'Key x', undefined)).rejects.toThrow('it is not TLS');
    expect(seen).toEqual([]);
  });
});
