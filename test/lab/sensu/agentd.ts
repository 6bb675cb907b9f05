/**
 * The agent listener (agentd, `agent-host`:`agent-port`): /health, /ready, and the WebSocket at
 * `/` that agents keep open. Authentication is basic auth against Sensu users, or, with
 * `agent-auth-trusted-ca-file`, a client certificate whose CN names the entity.
 *
 * The wire protocol is the stand-ins' own (JSON text frames), see agent-protocol.ts.
 */
import type { IncomingMessage, RequestListener } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { handleHealth, handleReady } from './apid.js';
import type { BackendContext } from './backend-context.js';
import { basicAuth, goHttpError, notFound } from './http-util.js';
import type { EntityDoc } from './store.js';
import { AGENT_HEADERS } from './agent-protocol.js';
import type { AgentMessage } from './agent-protocol.js';

const READY_TEXT = 'agentd temporarily unavailable during startup';

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  const body = `${text}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Who is connecting, once authenticated. */
interface AgentIdentity {
  user: string;
  /** Entity name forced by the client certificate (mTLS), if any. */
  certName?: string | undefined;
}

type AuthResult = { ok: true; who: AgentIdentity } | { ok: false; text: string };

async function authenticate(ctx: BackendContext, req: IncomingMessage, mtls: boolean): Promise<AuthResult> {
  if (mtls) {
    const socket = req.socket as TLSSocket;
    const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    if (!cert || Object.keys(cert).length === 0) return { ok: false, text: 'missing credentials' };
    if (!socket.authorized) {
      ctx.log.with({ component: 'agentd' }).error('invalid agent certificate', { error: String(socket.authorizationError) });
      return { ok: false, text: 'bad credentials' };
    }
    const cn = Array.isArray(cert.subject.CN) ? cert.subject.CN[0] : cert.subject.CN;
    return { ok: true, who: { user: cn ?? '', certName: cn } };
  }
  const creds = basicAuth(req);
  if (!creds) return { ok: false, text: 'missing credentials' };
  const user = await ctx.store.authenticate(creds.username, creds.password);
  if (!user) {
    ctx.log.with({ component: 'agentd' }).error('invalid username and/or password', { user: creds.username });
    return { ok: false, text: 'bad credentials' };
  }
  return { ok: true, who: { user: user.username } };
}

/** Runs one agent's session: every keepalive updates its entity and keepalive event. */
function runSession(ctx: BackendContext, ws: WebSocket, req: IncomingMessage, who: AgentIdentity, namespace: string): void {
  const headerName = String(req.headers[AGENT_HEADERS.name] ?? '');
  const log = ctx.log.with({ component: 'agentd', agent: who.certName ?? headerName, namespace });
  log.info('agent connected', { remote: req.socket.remoteAddress });
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let msg: AgentMessage;
    try {
      msg = JSON.parse(
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8'),
      ) as AgentMessage;
    } catch {
      log.error('invalid message from agent');
      return;
    }
    if (msg.type !== 'keepalive' || typeof msg.entity !== 'object') return;
    const name = who.certName ?? msg.entity.metadata?.name ?? headerName;
    const entity: EntityDoc = { ...msg.entity, user: who.user, metadata: { ...msg.entity.metadata, name, namespace } };
    ctx.store.recordKeepalive(entity, { interval: msg.interval || 20, timeout: msg.timeout || 120 }, ctx.name).catch((err: unknown) => {
      log.error('error recording keepalive', { error: err instanceof Error ? err.message : String(err) });
    });
  });
  ws.on('close', () => log.info('agent disconnected'));
  ws.on('error', (err) => log.error('websocket connection error', { error: err.message }));
}

/** agentd's plain request handler (/health, /ready, and `/` without an upgrade). */
export function agentdHandler(ctx: BackendContext): RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://agentd');
    const work = async (): Promise<void> => {
      if (url.pathname === '/health' && req.method === 'GET') return handleHealth(ctx, url, res);
      if (url.pathname === '/ready' && req.method === 'GET') return handleReady(ctx, res, READY_TEXT);
      if (url.pathname === '/') {
        // Authentication runs before gorilla's upgrader notices there is no upgrade.
        const auth = await authenticate(ctx, req, false);
        if (!auth.ok) return goHttpError(res, 401, auth.text);
        return goHttpError(res, 400, 'Bad Request');
      }
      notFound(res);
    };
    work().catch((err: unknown) => {
      if (!res.headersSent) goHttpError(res, 500, err instanceof Error ? err.message : String(err));
    });
  };
}

/** The agent WebSocket endpoint; `close` drops every session (backend shutdown). */
export interface AgentSessions {
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  close: () => void;
}

/** Handles agent WebSocket upgrades; `mtls` when agents authenticate with client certificates. */
export function agentSessions(ctx: BackendContext, mtls: boolean): AgentSessions {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  // agentd answers the upgrade with its backend entity name; agents log it as `backend-id`.
  wss.on('headers', (headers) => headers.push(`Backend-ID: ${ctx.name}`));
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://agentd');
    const work = async (): Promise<void> => {
      if (url.pathname !== '/') return rejectUpgrade(socket, 404, '404 page not found');
      if (!ctx.ready) return rejectUpgrade(socket, 503, READY_TEXT);
      if (ctx.refuseAgents) {
        ctx.log.with({ component: 'agentd' }).warn('refusing agent connection (lab fault refuse-agents)');
        return rejectUpgrade(socket, 503, 'Service Unavailable');
      }
      const auth = await authenticate(ctx, req, mtls);
      if (!auth.ok) return rejectUpgrade(socket, 401, auth.text);
      const namespace = String(req.headers[AGENT_HEADERS.namespace] ?? '') || 'default';
      if (!(await ctx.store.namespaceExists(namespace))) return rejectUpgrade(socket, 404, `namespace "${namespace}" not found`);
      wss.handleUpgrade(req, socket, head, (ws) => runSession(ctx, ws, req, auth.who, namespace));
    };
    work().catch((err: unknown) => {
      ctx.log.with({ component: 'agentd' }).error('agent upgrade failed', { error: err instanceof Error ? err.message : String(err) });
      rejectUpgrade(socket, 500, 'Internal Server Error');
    });
  };
  return {
    onUpgrade,
    close: () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}
