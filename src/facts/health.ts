/**
 * Health probes, the way Sensu reports health: a backend's `/health` (always 200: the body says
 * which etcd members are healthy), an agent's `/healthz` (200 ok / 503), and the keepalive the
 * backend recorded for an entity. Probes that only work from the host itself go through the host's
 * SSH connection (port forwarding), so nothing needs curl on the host.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Secret } from '../secret.js';
import { printable } from '../terminal-text.js';

/** One member of the etcd cluster as /health reports it. */
export interface MemberHealth {
  name: string;
  healthy: boolean;
  err: string;
}

/** What a backend's /health said. */
export interface BackendHealth {
  ok: boolean;
  scheme: 'http' | 'https';
  members: MemberHealth[];
  detail: string;
}

interface HttpAnswer {
  status: number;
  body: string;
  headers?: http.IncomingHttpHeaders;
}

/** Options of one HTTP(S) request. */
interface RequestOptions {
  url: string;
  ca?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** A stream to use instead of dialling (SSH forward). */
  socket?: Duplex;
}

/** One GET, with a deadline, over a given socket or a fresh connection. */
export function get(options: RequestOptions): Promise<HttpAnswer> {
  const url = new URL(options.url);
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const base = {
      method: 'GET',
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers: options.headers ?? {},
      timeout: options.timeoutMs,
      ...(options.socket ? {} : { agent: false as const }),
    };
    // With an agent (even `agent: false`), Node dials host:port itself and never calls
    // createConnection: the SSH forward would be ignored and the controller would probe its own host.
    const onResponse = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    };
    let req: http.ClientRequest;
    if (secure) {
      const servername = isIP(url.hostname.replace(/^\[|\]$/g, '')) ? undefined : url.hostname;
      const tlsOptions = { ...base, ca: options.ca, minVersion: 'TLSv1.2' as const, ...(servername ? { servername } : {}) };
      if (options.socket) {
        const socket = options.socket;
        req = https.request(
          { ...tlsOptions, createConnection: () => tls.connect({ socket, ca: options.ca, ...(servername ? { servername } : {}), host: url.hostname }) },
          onResponse,
        );
      } else req = https.request(tlsOptions, onResponse);
    } else {
      const socket = options.socket;
      req = http.request({ ...base, ...(socket ? { createConnection: () => socket } : {}) }, onResponse);
    }
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Go's reply to plain HTTP on a TLS port: the sign that a backend already serves TLS. */
export function isPlainToTls(answer: HttpAnswer): boolean {
  return answer.status === 400 && answer.body.includes('HTTP request to an HTTPS server');
}

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || e.code === 'SELF_SIGNED_CERT_IN_CHAIN')
    return 'certificate not signed by the CA';
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `certificate does not cover this address (${e.reason ?? ''})`;
  if (e.code === 'CERT_HAS_EXPIRED') return 'certificate expired';
  return e.message;
}

/** Reads a backend's /health over http or https (verifying against `ca`). */
export async function backendHealth(
  address: string,
  port: number,
  scheme: 'http' | 'https',
  options: { ca?: string; timeoutMs?: number },
): Promise<BackendHealth> {
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `${scheme}://${host}:${port}/health`;
  let answer: HttpAnswer;
  try {
    answer = await get({ url, timeoutMs: options.timeoutMs ?? 5000, ...(options.ca ? { ca: options.ca } : {}) });
  } catch (err) {
    return { ok: false, scheme, members: [], detail: `${url}: ${describeError(err)}` };
  }
  if (isPlainToTls(answer)) return { ok: false, scheme, members: [], detail: `${url}: the backend serves TLS here (HTTP 400 to plain http)` };
  if (answer.status !== 200) return { ok: false, scheme, members: [], detail: `${url}: HTTP ${answer.status}` };
  try {
    const body = JSON.parse(answer.body) as { ClusterHealth?: { Name: string; Healthy: boolean; Err?: string }[] };
    const members = (body.ClusterHealth ?? []).map((m) => ({ name: m.Name, healthy: m.Healthy, err: m.Err ?? '' }));
    const sick = members.filter((m) => !m.healthy);
    const ok = members.length > 0 && sick.length === 0;
    const detail = ok
      ? `${members.length} etcd members healthy (${members.map((m) => m.name).join(', ')})`
      : members.length === 0
        ? 'no etcd members reported'
        : `unhealthy: ${sick.map((m) => `${m.name}${m.err ? ` (${m.err})` : ''}`).join(', ')}`;
    // Member names and errors are the backend's text.
    return { ok, scheme, members, detail: printable(detail) };
  } catch {
    return { ok: false, scheme, members: [], detail: `${url}: /health did not return JSON` };
  }
}

/** What an agent's /healthz said. */
export interface AgentHealth {
  ok: boolean;
  detail: string;
  /** The HTTP status /healthz answered with; absent when nothing answered (the agent is not running). */
  status?: number;
}

/** Reads an agent's /healthz through a stream to its API (usually an SSH forward). */
export async function agentHealthz(socket: Duplex, apiHost: string, apiPort: number, timeoutMs = 5000): Promise<AgentHealth> {
  try {
    const answer = await get({ url: `http://${apiHost}:${apiPort}/healthz`, socket, timeoutMs });
    // The body is whatever answers on that port: escaped before it reaches a message.
    const text = printable(answer.body.trim());
    return { ok: answer.status === 200, detail: `/healthz ${answer.status} ${text}`, status: answer.status };
  } catch (err) {
    socket.destroy();
    return { ok: false, detail: `/healthz: ${describeError(err)}` };
  }
}

/** Credentials for the Sensu API (from the inventory). */
export type ApiCredentials = { apiKey: Secret } | { user: string; password: Secret };

/**
 * Credentials go only to an endpoint whose certificate verifies against the inventory's CA: never
 * over plain http (a fleet not secured yet is exactly where someone may be listening), never
 * against the system's CAs or a CA a host supplied. Throws, naming why, before anything is sent.
 */
export function assertCredentialsMayGo(baseUrl: string, ca: string | undefined): void {
  if (new URL(baseUrl).protocol !== 'https:') throw new Error(`not sending API credentials to ${baseUrl}: it is not TLS`);
  if (!ca) throw new Error(`not sending API credentials to ${baseUrl}: no sensu_ca_file in the inventory to verify it against`);
}

/** Authorization header for the Sensu API, logging in with basic auth when needed. */
export async function apiAuthorization(baseUrl: string, creds: ApiCredentials, ca: string | undefined): Promise<string> {
  assertCredentialsMayGo(baseUrl, ca);
  if ('apiKey' in creds) return `Key ${creds.apiKey.reveal()}`;
  const basic = Buffer.from(`${creds.user}:${creds.password.reveal()}`).toString('base64');
  const answer = await get({ url: `${baseUrl}/auth`, headers: { authorization: `Basic ${basic}` }, timeoutMs: 5000, ...(ca ? { ca } : {}) });
  if (answer.status !== 200) throw new Error(`Sensu API login as ${creds.user} failed: HTTP ${answer.status}`);
  const token = (JSON.parse(answer.body) as { access_token?: string }).access_token;
  if (!token) throw new Error('Sensu API login returned no token');
  return `Bearer ${token}`;
}

/** Entities of one namespace as one backend lists them, and what listing them cost. */
export interface EntityListing {
  /** Entity name → `last_seen` (Unix seconds; updated by every keepalive the backend records). */
  lastSeen: Map<string, number>;
  /** API requests made (one per page). */
  calls: number;
  /** Bytes of the answers' bodies: what the listing cost the backend to send. */
  bytes: number;
}

/**
 * Every entity of a namespace with its `last_seen`, page by page (`limit` and the `Sensu-Continue`
 * header, as sensuctl pages): one request per `pageSize` entities, whatever the batch waits for.
 */
export async function entitiesLastSeen(
  baseUrl: string,
  namespace: string,
  authorization: string,
  ca: string | undefined,
  pageSize = 500,
): Promise<EntityListing> {
  assertCredentialsMayGo(baseUrl, ca);
  const lastSeen = new Map<string, number>();
  let calls = 0;
  let bytes = 0;
  let token: string | undefined;
  do {
    const query = `limit=${pageSize}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
    const answer = await get({
      url: `${baseUrl}/api/core/v2/namespaces/${encodeURIComponent(namespace)}/entities?${query}`,
      headers: { authorization },
      timeoutMs: 10_000,
      ...(ca ? { ca } : {}),
    });
    calls += 1;
    bytes += Buffer.byteLength(answer.body);
    if (answer.status !== 200) throw new Error(`entities of namespace ${namespace}: HTTP ${answer.status}`);
    const page = JSON.parse(answer.body) as { metadata?: { name?: string }; last_seen?: number }[] | null;
    for (const e of page ?? []) if (e.metadata?.name) lastSeen.set(e.metadata.name, e.last_seen ?? 0);
    const next = answer.headers?.['sensu-continue'];
    token = typeof next === 'string' && next !== '' ? next : undefined;
  } while (token !== undefined);
  return { lastSeen, calls, bytes };
}
