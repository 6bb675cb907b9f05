/**
 * The backend API (apid, `api-listen-address`): /health, /ready, /version, /auth and the
 * core/v2 reads a rollout needs (entities, events, namespaces).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { BackendContext } from './backend-context.js';
import { clusterHealth, encodeHealth } from './cluster-health.js';
import { basicAuth, goHttpError, notFound, parseTimeoutParam, readBody, sendApiError, sendJson } from './http-util.js';
import { API_GROUPS, SENSU_VERSION } from './version.js';

/** `GET /health` (shared by apid and agentd). */
export async function handleHealth(ctx: BackendContext, url: URL, res: ServerResponse): Promise<void> {
  let timeout: number;
  try {
    timeout = parseTimeoutParam(url);
  } catch (err) {
    goHttpError(res, 400, err instanceof Error ? err.message : String(err));
    return;
  }
  const health = await clusterHealth(ctx.etcd, ctx.etcdTls, timeout, ctx.log.with({ component: 'store' }));
  // The router sets no Content-Type; Go's sniffing calls JSON text/plain.
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(encodeHealth(health));
}

/** `GET /ready`: 503 until startup finished (sensu-go's AwaitStartupMiddleware). */
export function handleReady(ctx: BackendContext, res: ServerResponse, unavailableText: string): void {
  if (!ctx.ready) {
    goHttpError(res, 503, unavailableText);
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('ready\n');
}

/** The authenticated user behind a Bearer token or an API key, or undefined. */
async function authenticatedUser(ctx: BackendContext, req: IncomingMessage): Promise<{ user?: string; reason: string }> {
  const header = req.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) {
    const user = await ctx.store.tokenUser(header.slice(7));
    return user ? { user, reason: '' } : { reason: 'invalid credentials' };
  }
  if (header.startsWith('Key ')) {
    const user = await ctx.store.apiKeyUser(header.slice(4));
    return user ? { user, reason: '' } : { reason: 'invalid credentials' };
  }
  return { reason: 'bad credentials' };
}

function unauthenticated(res: ServerResponse, message: string): void {
  // sensu-go's authentication middleware marshals actions.Error, whose fields have no JSON tags.
  res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(JSON.stringify({ Code: 5, Message: message }));
}

async function handleAuth(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (path === '/auth' || path === '/auth/test') {
    const creds = basicAuth(req);
    const user = creds ? await ctx.store.authenticate(creds.username, creds.password) : undefined;
    if (!creds || !user) {
      if (creds) ctx.log.with({ component: 'apid' }).error('invalid username and/or password', { user: creds.username });
      goHttpError(res, 401, 'Unauthorized');
      return;
    }
    if (path === '/auth/test') {
      res.writeHead(200);
      res.end();
      return;
    }
    sendJson(res, 200, `${JSON.stringify(await ctx.store.issueTokens(user.username))}\n`);
    return;
  }
  if (path === '/auth/token' && req.method === 'POST') {
    const body = await readBody(req);
    let refresh: string;
    try {
      const value = (JSON.parse(body) as { refresh_token?: unknown }).refresh_token;
      refresh = typeof value === 'string' ? value : '';
    } catch {
      refresh = '';
    }
    const user = refresh ? await ctx.store.tokenUser(refresh, 'refresh') : undefined;
    if (!user) {
      goHttpError(res, 401, 'Request unauthorized');
      return;
    }
    await ctx.store.revokeToken(refresh);
    sendJson(res, 200, `${JSON.stringify(await ctx.store.issueTokens(user))}\n`);
    return;
  }
  if (path === '/auth/logout' && req.method === 'POST') {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) await ctx.store.revokeToken(header.slice(7));
    res.writeHead(204);
    res.end();
    return;
  }
  notFound(res);
}

async function handleCoreV2(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, parts: string[], query: URLSearchParams): Promise<void> {
  const auth = await authenticatedUser(ctx, req);
  if (!auth.user) {
    unauthenticated(res, auth.reason);
    return;
  }
  if (req.method !== 'GET') {
    res.writeHead(405);
    res.end();
    return;
  }
  // parts: ['namespaces', ns?, kind?, name?, check?]
  const [root, ns, kind, name, check] = parts;
  if (root !== 'namespaces') return notFound(res);
  if (ns === undefined) {
    sendJson(
      res,
      200,
      (await ctx.store.listNamespaces()).map((n) => ({ name: n })),
    );
    return;
  }
  if (kind === 'entities') {
    if (name === undefined) return sendPage(res, await ctx.store.listEntities(ns), query);
    const entity = await ctx.store.getEntity(ns, name);
    if (!entity) return sendApiError(res, 404, 2, 'not found');
    return sendJson(res, 200, entity);
  }
  if (kind === 'events') {
    if (name === undefined) return sendJson(res, 200, await ctx.store.listEvents(ns));
    if (check === undefined)
      return sendJson(
        res,
        200,
        (await ctx.store.listEvents(ns)).filter((e) => e.entity.metadata.name === name),
      );
    const event = await ctx.store.getEvent(ns, name, check);
    if (!event) return sendApiError(res, 404, 2, 'not found');
    return sendJson(res, 200, event);
  }
  notFound(res);
}

/**
 * A list, paged as sensu-go's lister pages it: `limit` (0 or absent: everything) and `continue`,
 * the base64url (no padding) token the previous page's `Sensu-Continue` header gave; here the
 * token is the name the next page starts at (etcd's is its next key).
 */
function sendPage<T extends { metadata: { name: string } }>(res: ServerResponse, items: T[], query: URLSearchParams): void {
  const sorted = [...items].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  const limit = Number.parseInt(query.get('limit') ?? '', 10);
  const from = Buffer.from(query.get('continue') ?? '', 'base64url').toString('utf8');
  const rest = from === '' ? sorted : sorted.filter((e) => e.metadata.name >= from);
  if (!(limit > 0) || rest.length <= limit) return sendJson(res, 200, rest);
  res.setHeader('Sensu-Continue', Buffer.from(rest[limit]?.metadata.name ?? '', 'utf8').toString('base64url'));
  sendJson(res, 200, rest.slice(0, limit));
}

/** The apid request handler. */
export function apiHandler(ctx: BackendContext): RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    const path = url.pathname;
    // Lab only (Sensu logs no such line): every request that carried credentials, and whether it
    // came over TLS, so tests can prove rollout never sends them in the clear.
    const authorization = req.headers.authorization;
    if (authorization) {
      ctx.log.with({ component: 'apid' }).info('lab: request carried credentials', {
        scheme: authorization.split(' ')[0] ?? '',
        tls: (req.socket as { encrypted?: boolean }).encrypted === true,
        path,
      });
    }
    const work = async (): Promise<void> => {
      if (path === '/health' && req.method === 'GET') return handleHealth(ctx, url, res);
      if (path === '/ready' && req.method === 'GET') return handleReady(ctx, res, 'Service Unavailable');
      if (path === '/version' && req.method === 'GET') {
        let etcdVersion: Record<string, string> | null;
        try {
          etcdVersion = await ctx.etcd.version(3000);
        } catch {
          etcdVersion = null;
        }
        return sendJson(res, 200, `${JSON.stringify({ etcd: etcdVersion, sensu_backend: SENSU_VERSION, api_groups: API_GROUPS })}\n`);
      }
      if (path === '/auth' || path.startsWith('/auth/')) return handleAuth(ctx, req, res, path);
      const prefix = '/api/core/v2/';
      if (path.startsWith(prefix)) {
        const parts = path
          .slice(prefix.length)
          .split('/')
          .filter((p) => p !== '')
          .map(decodeURIComponent);
        return handleCoreV2(ctx, req, res, parts, url.searchParams);
      }
      notFound(res);
    };
    work().catch((err: unknown) => {
      const text = err instanceof Error ? err.message : String(err);
      ctx.log.with({ component: 'apid' }).error('request failed', { error: text, path });
      if (!res.headersSent) sendApiError(res, 500, 0, text);
      else res.destroy();
    });
  };
}
