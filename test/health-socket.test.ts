/**
 * Probes that go through the host's SSH forward must use that stream, not dial the address from
 * the controller: on a real host the agent API is on the host's own 127.0.0.1. Two local servers
 * stand for "the address as the controller sees it" and "the forwarded stream".
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { get } from '../src/facts/health.js';

const serve = (name: string): Promise<http.Server> =>
  new Promise((resolve) => {
    const s = http.createServer((_req, res) => res.end(name));
    s.listen(0, '127.0.0.1', () => resolve(s));
  });

describe('probes over a given socket', () => {
  const servers: http.Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  it("send the request over the socket, never to the URL's address", async () => {
    const [direct, forwarded] = await Promise.all([serve('direct'), serve('forwarded')]);
    servers.push(direct, forwarded);
    const port = (s: http.Server): number => (s.address() as AddressInfo).port;
    const socket = net.connect(port(forwarded), '127.0.0.1');
    const answer = await get({ url: `http://127.0.0.1:${port(direct)}/healthz`, socket, timeoutMs: 3000 });
    expect(answer.body).toBe('forwarded');
    // Without a socket the URL's address is dialled.
    expect((await get({ url: `http://127.0.0.1:${port(direct)}/`, timeoutMs: 3000 })).body).toBe('direct');
  });
});
