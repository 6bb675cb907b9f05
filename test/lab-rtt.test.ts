/**
 * The lab's latency (`--rtt`): the relay holds each chunk half the round trip each way, keeps the
 * order of bytes and ends, and the lab points every tool at it; with no round trip there is no relay.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { useLab } from './helpers/lab-fixture.js';
import { startDelayRelay } from './lab/delay-relay.js';
import { tcpOpen, type Lab } from './lab/lab.js';
import { RELAY_PORT, relayCpuSeconds } from './lab/relay-process.js';

const run = promisify(execFile);
const RTT = 80;
// Ranges 127.44 and 127.56: free among the test files' (test/helpers/lab-fixture.ts lists them).
const withRtt = useLab({ backends: 1, agents: 1, net: 44, rttMs: RTT });
const without = useLab({ backends: 1, agents: 0, net: 56, skipHealthWait: true });

/** An echo server on a lab-free address, for round trips measured to the millisecond. */
async function echoServer(address: string): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  await new Promise<void>((r) => server.listen({ host: address, port: 0 }, r));
  return server;
}

/** Sends `n` one-line pings one after another through `port`; the round trip of each, ms. */
async function pings(address: string, port: number, n: number): Promise<number[]> {
  const socket = net.connect({ host: address, port, noDelay: true });
  await new Promise<void>((r) => socket.once('connect', r));
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    socket.write(`ping ${i}\n`);
    await new Promise<void>((r) => socket.once('data', () => r()));
    times.push(performance.now() - t0);
  }
  socket.destroy();
  return times;
}

/** `ssh host true` to agent-01 on `port`; the host key checked against the lab's known_hosts, under the relay's name. */
async function sshTrue(lab: Lab, port: number): Promise<number> {
  const h = lab.host('agent-01');
  const t0 = performance.now();
  // known_hosts names the relay's port only: the straight login checks the same key under that name.
  await run(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-i',
      lab.keyPath,
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${lab.knownHostsPath}`,
      '-o',
      `HostKeyAlias=[${h.address}]:${RELAY_PORT}`,
      '-o',
      'ControlMaster=no',
      '-p',
      String(port),
      `${lab.state.loginUser}@${h.address}`,
      'true',
    ],
    { timeout: 30_000 },
  );
  return performance.now() - t0;
}

describe('the delay relay', () => {
  it('delays every round trip by the RTT, not much more', async () => {
    const echo = await echoServer('127.44.255.1');
    const port = (echo.address() as net.AddressInfo).port;
    const relay = await startDelayRelay([{ listen: { address: '127.44.255.2', port: 7000 }, target: { address: '127.44.255.1', port } }], RTT);
    try {
      const direct = await pings('127.44.255.1', port, 5);
      const through = await pings('127.44.255.2', 7000, 10);
      expect(Math.max(...direct)).toBeLessThan(20);
      // Each round trip crosses the relay twice, MS/2 each way: never less than MS (timers fire
      // late, never early; 1 ms for their rounding). Timers and a loaded 2-core machine add a
      // little, not another round trip.
      expect(Math.min(...through)).toBeGreaterThanOrEqual(RTT - 1);
      expect(through.sort((a, b) => a - b)[5]).toBeLessThan(RTT * 2);
    } finally {
      await relay.close();
      echo.close();
    }
  });

  it('keeps the order of bytes and relays a half-close after the data', async () => {
    const echo = await echoServer('127.44.255.3');
    const port = (echo.address() as net.AddressInfo).port;
    const relay = await startDelayRelay([{ listen: { address: '127.44.255.4', port: 7000 }, target: { address: '127.44.255.3', port } }], 20);
    try {
      const socket = net.connect({ host: '127.44.255.4', port: 7000, allowHalfOpen: true });
      const sent: Buffer[] = [];
      for (let i = 0; i < 200; i++) {
        const chunk = Buffer.alloc(1000 + i, i % 256);
        sent.push(chunk);
        socket.write(chunk);
      }
      socket.end();
      const got: Buffer[] = [];
      socket.on('data', (d: Buffer) => got.push(d));
      await new Promise<void>((r) => socket.once('end', r));
      expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
    } finally {
      await relay.close();
      echo.close();
    }
  });
});

describe('a lab with --rtt', () => {
  it('points the inventory and known_hosts at the relay, one process for every host', () => {
    const lab = withRtt();
    expect(lab.state.relay).toMatchObject({ port: RELAY_PORT, rttMs: RTT });
    const inventory = parse(readFileSync(lab.inventoryPath, 'utf8')) as { all: { vars: { ansible_port: number } } };
    expect(inventory.all.vars.ansible_port).toBe(RELAY_PORT);
    const knownHosts = readFileSync(lab.knownHostsPath, 'utf8').trim().split('\n');
    expect(knownHosts).toHaveLength(lab.state.hosts.length);
    for (const h of lab.state.hosts) expect(knownHosts.some((l) => l.startsWith(`[${h.address}]:${RELAY_PORT} `))).toBe(true);
  });

  it('an ssh login through it costs several round trips more than one straight to sshd, and the relay reports its CPU', async () => {
    const lab = withRtt();
    const pid = lab.state.relay?.pid ?? 0;
    const cpu0 = relayCpuSeconds(pid);
    const direct: number[] = [];
    const relayed: number[] = [];
    for (let i = 0; i < 3; i++) {
      relayed.push(await sshTrue(lab, RELAY_PORT));
      direct.push(await sshTrue(lab, lab.state.sshPort));
    }
    const added = Math.min(...relayed) - Math.min(...direct);
    // OpenSSH needs at least 4 round trips for `ssh host true` (version and key exchange, new
    // keys and service request, authentication, session and exec): ≥ 4 RTT more than straight to
    // sshd, and a login is not dozens of round trips.
    expect(added).toBeGreaterThanOrEqual(4 * RTT);
    expect(added).toBeLessThan(15 * RTT);
    expect(relayCpuSeconds(pid)).toBeGreaterThanOrEqual(cpu0);
    expect(relayCpuSeconds(pid)).toBeGreaterThan(0);
  });

  it('stops the relay with the lab', async () => {
    const lab = withRtt();
    const pid = lab.state.relay?.pid ?? 0;
    expect(await tcpOpen(lab.host('backend-1').address, RELAY_PORT)).toBe(true);
    await lab.stop();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(await tcpOpen(lab.host('backend-1').address, RELAY_PORT)).toBe(false);
  });
});

describe('a lab without --rtt', () => {
  it('has no relay: the inventory names sshd itself and nothing listens on the relay port', async () => {
    const lab = without();
    expect(lab.state.relay).toBeUndefined();
    expect(existsSync(join(lab.dir, 'relay.json'))).toBe(false);
    const inventory = parse(readFileSync(lab.inventoryPath, 'utf8')) as { all: { vars: { ansible_port: number } } };
    expect(inventory.all.vars.ansible_port).toBe(lab.state.sshPort);
    expect(readFileSync(lab.knownHostsPath, 'utf8')).toMatch(/^127\.56\.0\.1 ssh-ed25519 /);
    expect(await tcpOpen(lab.host('backend-1').address, RELAY_PORT)).toBe(false);
  });
});
