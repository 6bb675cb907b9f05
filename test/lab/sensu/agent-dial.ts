/**
 * One connection attempt from agent to backend, as sensu-go's transport.Connect makes it with
 * gorilla/websocket: TLS options built on every dial (so an unreadable `trusted-ca-file` breaks
 * even ws:// URLs), TCP dial, TLS with Go's verification order, then the WebSocket handshake.
 * Every failure is a `DialError` whose message is the Go text the real agent logs.
 *
 * The TCP and TLS steps are done here rather than inside `ws`, so that the certificate is checked
 * (and the connection dropped) before any HTTP byte, credentials included, is sent.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { goDialError, goHandshakeStatusError, goHostPort, goTlsHandshakeError, verifyAsGo } from './go-errors.js';
import { GO_TLS_DEFAULTS } from './tls-port.js';
import { loadCaCerts, loadX509KeyPair } from './tls-files.js';

/** A failed attempt; the message is what sensu-agent logs as `error`. */
export class DialError extends Error {}

/** What one attempt needs. */
export interface DialOptions {
  /** `ws://host:port/` or `wss://…`, port already added. */
  url: string;
  trustedCaFile: string;
  insecureSkipTlsVerify: boolean;
  certFile: string;
  keyFile: string;
  /** Extra handshake headers (Sensu-AgentName…), including Authorization when basic auth is used. */
  headers: Record<string, string>;
  /** `backend-handshake-timeout`: bounds the whole attempt, TCP dial included. */
  handshakeTimeoutMs: number;
}

/** An established session. */
export interface Dialed {
  ws: WebSocket;
  /** The backend's `Backend-ID` response header. */
  backendId: string;
}

interface ClientTls {
  ca?: string[] | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** core/v2 `ToClientTLSConfig`: run on every dial, whatever the scheme. */
function clientTls(o: DialOptions): ClientTls {
  const out: ClientTls = {};
  try {
    if (o.trustedCaFile) out.ca = loadCaCerts(o.trustedCaFile);
    if (o.certFile && o.keyFile) {
      try {
        const pair = loadX509KeyPair(o.certFile, o.keyFile);
        out.cert = pair.cert;
        out.key = pair.key;
      } catch (err) {
        throw new Error(`Error loading tls client certificate: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
  } catch (err) {
    throw new DialError(err instanceof Error ? err.message : String(err));
  }
  return out;
}

function withDeadline<T>(work: Promise<T>, deadline: number, onTimeout: () => Error, cleanup?: () => void): Promise<T> {
  const left = deadline - Date.now();
  if (left <= 0) {
    cleanup?.();
    return Promise.reject(onTimeout());
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cleanup?.();
      reject(onTimeout());
    }, left);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function dialTcp(host: string, port: number, deadline: number): Promise<net.Socket> {
  let addresses: string[];
  if (net.isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch (err) {
      throw new DialError(goDialError(err, host, port));
    }
  }
  let firstError: string | undefined;
  for (const address of addresses) {
    const socket = net.connect({ host: address, port });
    try {
      await withDeadline(
        new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', reject);
        }),
        deadline,
        () => Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }),
        () => socket.destroy(),
      );
      socket.removeAllListeners('error');
      return socket;
    } catch (err) {
      socket.destroy();
      firstError ??= goDialError(err, address, port);
    }
  }
  throw new DialError(firstError ?? goDialError(new Error('no addresses'), host, port));
}

async function startTls(raw: net.Socket, host: string, o: DialOptions, t: ClientTls, deadline: number): Promise<tls.TLSSocket> {
  const local = goHostPort(raw.localAddress ?? '', raw.localPort ?? 0);
  const remote = goHostPort(raw.remoteAddress ?? '', raw.remotePort ?? 0);
  const socket = tls.connect({
    socket: raw,
    // `host` is only for Node's own identity check, whose verdict verifyAsGo replaces anyway.
    host,
    servername: net.isIP(host) ? undefined : host,
    ca: t.ca,
    cert: t.cert,
    key: t.key,
    // Verification happens below, in Go's order and with Go's words.
    rejectUnauthorized: false,
    minVersion: GO_TLS_DEFAULTS.minVersion,
    ciphers: GO_TLS_DEFAULTS.ciphers,
    ecdhCurve: GO_TLS_DEFAULTS.ecdhCurve,
  });
  try {
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      }),
      deadline,
      () => Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }),
      () => socket.destroy(),
    );
  } catch (err) {
    socket.destroy();
    throw new DialError(goTlsHandshakeError(err, local, remote));
  }
  socket.removeAllListeners('error');
  if (!o.insecureSkipTlsVerify) {
    const verdict = verifyAsGo({
      host,
      cert: socket.getPeerCertificate(),
      authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
    });
    if (verdict) {
      socket.destroy();
      throw new DialError(verdict);
    }
  }
  return socket;
}

function wsErrorText(err: Error & { code?: string }): string {
  // TLS 1.3 servers reject a client certificate after the client's handshake finished: the
  // alert arrives while reading the HTTP response, as in Go.
  if (err.code?.startsWith('ERR_SSL_')) return goTlsHandshakeError(err);
  if (err.message === 'socket hang up' || err.code === 'ECONNRESET') return 'EOF';
  if (/handshake has timed out/i.test(err.message)) return 'i/o timeout';
  return 'websocket: bad handshake';
}

/**
 * Makes one connection attempt.
 * @throws DialError with Go's text (`dial tcp …: connect: connection refused`,
 *   `handshake failed with status 400: Client sent an HTTP request to an HTTPS server.\n`, …).
 */
export async function dialBackend(o: DialOptions): Promise<Dialed> {
  const t = clientTls(o);
  const url = new URL(o.url);
  const secure = url.protocol === 'wss:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port) || (secure ? 443 : 80);
  const deadline = Date.now() + o.handshakeTimeoutMs;

  const raw = await dialTcp(host, port, deadline);
  const socket = secure ? await startTls(raw, host, o, t, deadline) : raw;

  return new Promise<Dialed>((resolve, reject) => {
    let backendId = '';
    const ws = new WebSocket(o.url, {
      createConnection: () => socket,
      headers: o.headers,
      handshakeTimeout: Math.max(1, deadline - Date.now()),
      perMessageDeflate: false,
      followRedirects: false,
    });
    let settled = false;
    const fail = (text: string): void => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      socket.destroy();
      reject(new DialError(text));
    };
    ws.on('upgrade', (res) => {
      backendId = String(res.headers['backend-id'] ?? '');
    });
    ws.on('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 1024) chunks.push(c.subarray(0, 1024 - size));
        size += c.length;
      });
      // gorilla reads at most 1 KiB of the body; a server closing the connection ends it too.
      const done = (): void => fail(goHandshakeStatusError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
      req.on('error', () => undefined);
    });
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners('error');
      // The session adds its own handlers; until then an error must not crash the agent.
      ws.on('error', () => undefined);
      resolve({ ws, backendId });
    });
    ws.on('error', (err: Error & { code?: string }) => fail(wsErrorText(err)));
  });
}
