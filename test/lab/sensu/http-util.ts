/**
 * Small HTTP helpers that answer the way Go's net/http and sensu-go's routers do
 * (`http.Error` bodies end in a newline, gorilla/mux's 404 text).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Go's `http.Error`: plain text, nosniff, the message plus a newline. */
export function goHttpError(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${text}\n`);
}

/** A JSON body (sensu-go's `RespondWith`). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** sensu-go's `WriteError` body for an API error code (2 = not found, 5 = unauthenticated…). */
export function sendApiError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(JSON.stringify({ message, code }));
}

/** gorilla/mux's answer for an unknown path. */
export function notFound(res: ServerResponse): void {
  goHttpError(res, 404, '404 page not found');
}

/** Credentials from an `Authorization: Basic …` header, like Go's `Request.BasicAuth`. */
export function basicAuth(req: IncomingMessage): { username: string; password: string } | undefined {
  const header = req.headers.authorization ?? '';
  if (!/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Reads a small request body. */
export function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The `?timeout=` of /health, as sensu-go's `parseTimeout` reads it (default 3 seconds).
 * @throws Error with Go's `strconv.Atoi` text for a value that is not an integer.
 */
export function parseTimeoutParam(url: URL): number {
  const val = url.searchParams.get('timeout') ?? '';
  if (val === '') return 3;
  if (!/^[+-]?\d+$/.test(val)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(val)}: invalid syntax`);
  return Number(val);
}
