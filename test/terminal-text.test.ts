/**
 * Text from hosts never reaches the terminal raw: control characters become `^X`, in the shared
 * helper and where a host's HTTP answer becomes a message (the lab test in transport.test.ts covers
 * a host's stderr).
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { agentHealthz } from '../src/facts/health.js';
import { printable } from '../src/terminal-text.js';

describe('printable', () => {
  it('shows C0, DEL and C1 controls (CSI included) as visible text, keeps tab, and newlines only when asked', () => {
    expect(printable('a\x1b[31mred\x1b[0m\x07\x7f\x9b2J\tb\nc')).toBe('a^[[31mred^[[0m^G^?\\x9b2J\tb^Jc');
    expect(printable('one\ntwo\x1b', true)).toBe('one\ntwo^[');
    expect(printable('plain: ünïcode ✓')).toBe('plain: ünïcode ✓');
  });
});

describe('a /healthz body with escape sequences', () => {
  let server: http.Server | undefined;
  afterEach(() => server?.close());

  it('comes back escaped in the detail', async () => {
    server = http.createServer((_req, res) => {
      res.writeHead(503);
      res.end('\x1b]0;pwned\x07\x1b[2Jnot ok');
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const health = await agentHealthz(socket, '127.0.0.1', port);
    expect(health.ok).toBe(false);
    expect(health.detail).toBe('/healthz 503 ^[]0;pwned^G^[[2Jnot ok');
  });
});
