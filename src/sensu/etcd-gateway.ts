/**
 * The embedded etcd's v3 API, spoken through etcd's JSON gateway (`POST /v3/cluster/member/list`,
 * `/v3/cluster/member/update`) over a stream the host itself dialled (an SSH forward): etcd's
 * client port is often bound to the host's loopback only, and Sensu hosts carry no etcdctl.
 * Once etcd's client port requires certificates, the controller presents the backend's own
 * certificate (it is the `etcd-cert-file` rollout installs, with clientAuth usage).
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { EtcdEndpoint, EtcdMember } from './etcd-urls.js';

export { clientEndpoints, withUrlScheme, type EtcdEndpoint, type EtcdMember } from './etcd-urls.js';

/** CA to verify etcd against, and the client certificate to present (PEM). */
export interface EtcdTlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Opens a TCP stream to `address:port` from a host (Transport.forward). */
export type Dial = (address: string, port: number) => Promise<Duplex>;

/** One gateway call over one dialled stream. */
function post(dial: Dial, at: EtcdEndpoint, material: EtcdTlsMaterial, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  const payload = JSON.stringify(body);
  const where = `${at.scheme}://${at.address.includes(':') ? `[${at.address}]` : at.address}:${at.port}`;
  return new Promise((resolve, reject) => {
    let stream: Duplex | undefined;
    let settled = false;
    // Whatever ends the call (answer, error, deadline) closes the forwarded stream with it.
    const finish = (err: Error | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream?.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`no answer from ${where} within ${timeoutMs / 1000} s`)), timeoutMs);
    const onResponse = (res: http.IncomingMessage): void => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', (err) => finish(err));
      res.on('end', () => {
        let parsed: { error?: string; message?: string };
        try {
          parsed = JSON.parse(text) as { error?: string; message?: string };
        } catch {
          finish(new Error(`${where}${path}: HTTP ${res.statusCode ?? 0}, not JSON`));
          return;
        }
        if ((res.statusCode ?? 500) >= 400) finish(new Error(`${path}: ${parsed.message ?? parsed.error ?? `HTTP ${res.statusCode ?? 0}`}`));
        else finish(undefined, parsed);
      });
    };
    dial(at.address, at.port).then(
      (s) => {
        stream = s;
        if (settled) {
          s.destroy();
          return;
        }
        // No agent: with one, Node dials host:port itself and never calls createConnection (the forward).
        const options = {
          method: 'POST',
          host: at.address,
          port: at.port,
          path,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        };
        const secure = (): Duplex =>
          tls.connect({
            socket: s,
            host: at.address,
            ...(isIP(at.address) ? {} : { servername: at.address }),
            minVersion: 'TLSv1.2',
            ...(material.ca ? { ca: material.ca } : {}),
            ...(material.cert && material.key ? { cert: material.cert, key: material.key } : {}),
          });
        const req =
          at.scheme === 'https'
            ? https.request({ ...options, createConnection: secure }, onResponse)
            : http.request({ ...options, createConnection: () => s }, onResponse);
        req.on('error', (err) => finish(err));
        req.end(payload);
      },
      (err: Error) => finish(err),
    );
  });
}

/**
 * Calls the gateway at the first endpoint that answers. A member's client port serves either http
 * or https and a run switches it, so callers pass both schemes; a wrong one fails fast.
 */
export async function gatewayCall(
  dial: Dial,
  endpoints: readonly EtcdEndpoint[],
  material: EtcdTlsMaterial,
  path: string,
  body: unknown,
  timeoutMs = 5000,
): Promise<{ answer: unknown; via: EtcdEndpoint }> {
  const errors: string[] = [];
  for (const at of endpoints) {
    try {
      return { answer: await post(dial, at, material, path, body, timeoutMs), via: at };
    } catch (err) {
      errors.push(`${at.scheme}://${at.address}:${at.port}: ${(err as Error).message}`);
    }
  }
  throw new Error(`etcd did not answer: ${errors.join('; ') || 'no endpoint'}`);
}

interface RawMember {
  ID?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
}

const member = (m: RawMember): EtcdMember => ({ id: m.ID ?? '0', name: m.name ?? '', peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [] });

/** `etcdctl member list`. */
export async function memberList(
  dial: Dial,
  endpoints: readonly EtcdEndpoint[],
  material: EtcdTlsMaterial,
): Promise<{ members: EtcdMember[]; via: EtcdEndpoint }> {
  const { answer, via } = await gatewayCall(dial, endpoints, material, '/v3/cluster/member/list', {});
  return { members: ((answer as { members?: RawMember[] }).members ?? []).map(member), via };
}

/** `etcdctl member update <id> --peer-urls=…`: raft-committed, so it needs a quorum. */
export async function memberUpdate(
  dial: Dial,
  endpoints: readonly EtcdEndpoint[],
  material: EtcdTlsMaterial,
  id: string,
  peerURLs: readonly string[],
): Promise<EtcdMember[]> {
  const { answer } = await gatewayCall(dial, endpoints, material, '/v3/cluster/member/update', { ID: id, peerURLs }, 10_000);
  return ((answer as { members?: RawMember[] }).members ?? []).map(member);
}
