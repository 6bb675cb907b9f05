/**
 * HTTP listeners that behave like Go's `http.Server`: plain, or TLS on the same port with Go's
 * reply to a plain-text request (`HTTP/1.0 400 Bad Request … Client sent an HTTP request to an
 * HTTPS server.`). A net.Server peeks at the first bytes and hands TLS connections to an https
 * server, which never listens itself.
 */
import http from 'node:http';
import type { IncomingMessage, RequestListener } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { goListenError } from './go-errors.js';

/** Go's answer to plain HTTP on a TLS port (net/http server.go), byte for byte. */
export const PLAIN_ON_TLS_REPLY = 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

/** sensu-go's hardened TLS settings (core/v2 tls.go): TLS 1.2+, ECDHE with AEAD ciphers only. */
export const GO_TLS_DEFAULTS: Pick<TlsOptions, 'minVersion' | 'ciphers' | 'ecdhCurve' | 'honorCipherOrder'> = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  ecdhCurve: 'X25519:P-384:P-256:P-521',
  honorCipherOrder: true,
};

/** Go's `recordHeaderLooksLikeHTTP`: the five bytes that make it answer with the 400 above. */
function looksLikeHttp(head: Buffer): boolean {
  const s = head.subarray(0, 5).toString('latin1');
  return ['GET /', 'HEAD ', 'POST ', 'PUT /', 'OPTIO'].includes(s);
}

/** What to serve on one port. */
export interface ServeOptions {
  host: string | undefined;
  port: number;
  /** Go's text for the address (`[::]:8080`), used in listen errors. */
  addressText: string;
  /** Certificate, key, client CAs…; absent for plain HTTP. */
  tls?: (SecureContextOptions & Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized'>) | undefined;
  handler: RequestListener;
  /** WebSocket upgrades (agentd). */
  onUpgrade?: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  /** Called on TLS handshake failures (Go logs `http: TLS handshake error from …`). */
  onTlsError?: ((err: Error, remote: string) => void) | undefined;
}

/** A listening port. */
export interface Listening {
  /** True when the port speaks TLS. */
  tls: boolean;
  /** Stops accepting and drops open connections. */
  close(): Promise<void>;
}

function listen(server: net.Server, opts: ServeOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(goListenError(err, opts.addressText)));
    server.once('error', onError);
    server.listen({ port: opts.port, host: opts.host, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Starts serving. With `tls`, plain requests get Go's 400 reply and other non-TLS bytes a closed
 * connection, exactly as a Go TLS listener does.
 * @throws Error with Go's listen text (`listen tcp …: bind: address already in use`).
 */
export async function serve(opts: ServeOptions): Promise<Listening> {
  if (!opts.tls) {
    const server = http.createServer(opts.handler);
    if (opts.onUpgrade) server.on('upgrade', opts.onUpgrade);
    await listen(server, opts);
    return {
      tls: false,
      close: () =>
        new Promise((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }

  const secure = https.createServer({ ...GO_TLS_DEFAULTS, ...opts.tls }, opts.handler);
  if (opts.onUpgrade) secure.on('upgrade', opts.onUpgrade);
  secure.on('tlsClientError', (err, socket) => {
    opts.onTlsError?.(err, `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`);
  });
  const sockets = new Set<net.Socket>();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head[0] === 0x16) {
        socket.off('data', onData);
        socket.pause();
        socket.unshift(head);
        // The TLS socket picks up the unshifted bytes ("emulate receiving" buffered data).
        secure.emit('connection', socket);
        return;
      }
      if (head.length < 5) return;
      socket.off('data', onData);
      if (looksLikeHttp(head)) socket.end(PLAIN_ON_TLS_REPLY);
      else socket.destroy();
    };
    socket.on('data', onData);
  });
  await listen(front, opts);
  return {
    tls: true,
    close: () =>
      new Promise((resolve) => {
        front.close(() => resolve());
        for (const s of sockets) s.destroy();
        secure.closeAllConnections();
      }),
  };
}
