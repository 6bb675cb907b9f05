/**
 * The agent's local HTTP API (`api-host`:`api-port`, plain HTTP): `/healthz` says whether the
 * agent holds a backend connection, `/version` which release it is.
 */
import http from 'node:http';
import { goListenError, goHostPort } from './go-errors.js';
import { notFound } from './http-util.js';
import { SENSU_VERSION } from './version.js';

/**
 * Starts the API.
 * @throws Error with Go's listen text when the port cannot be bound.
 */
export function startAgentApi(host: string, port: number, connected: () => boolean): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    if (req.method === 'GET' && path === '/healthz') {
      if (!connected()) {
        res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('sensu backend unavailable');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if (req.method === 'GET' && path === '/version') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ version: SENSU_VERSION }));
      return;
    }
    notFound(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(goListenError(err, goHostPort(host, port)))));
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}
