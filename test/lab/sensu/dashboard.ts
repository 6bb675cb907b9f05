/**
 * The web UI port (`dashboard-host`:`dashboard-port`): a placeholder page, served plain or with
 * the dashboard (or main) certificate, so TLS on 3000 can be checked like the real one.
 */
import type { RequestListener } from 'node:http';
import { SENSU_VERSION } from './version.js';

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sensu</title></head>
<body><h1>Sensu Go ${SENSU_VERSION}</h1><p>Lab stand-in web UI.</p></body>
</html>
`;

/** Serves the page for every GET, as the single-page UI does for its routes. */
export function dashboardHandler(): RequestListener {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : PAGE);
  };
}
