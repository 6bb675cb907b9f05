/**
 * Looking at a lab fleet the way an operator would after a run: file checksums with owner and
 * mode, unit start counts, TLS on the backends' ports, agents' health and keepalives.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Lab } from '../lab/lab.js';

/**
 * Every entry under /etc/sensu and /etc/default, per host: files with sha256, directories, symlinks
 * with their target and anything else by type, each with mode, owner and group. Rollout's own
 * backups are left out (they stay on purpose); a temp file it left behind would show.
 */
export async function fileSnapshot(lab: Lab): Promise<Record<string, string>> {
  const script = [
    'find /etc/sensu /etc/default -path /etc/sensu/.rollout-backups -prune -o -print 2>/dev/null | sort | while read -r f; do',
    '  m=$(stat -c "%a %U:%G" "$f")',
    '  if [ -L "$f" ]; then echo "$f link $(readlink "$f") $m"',
    '  elif [ -d "$f" ]; then echo "$f dir $m"',
    // A planted 1 GiB file would take minutes to hash on a loaded machine: size and mtime say whether it changed.
    '  elif [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 67108864 ]; then echo "$f size $(stat -c "%s %Y" "$f") $m"',
    '  elif [ -f "$f" ]; then echo "$f $(sha256sum < "$f" | cut -c1-64) $m"',
    '  else echo "$f $(stat -c %F "$f") $m"; fi',
    'done',
  ].join('\n');
  const out: Record<string, string> = {};
  for (const h of lab.state.hosts) out[h.name] = (await lab.exec(h.name, '/bin/sh', ['-c', script])).stdout;
  return out;
}

/** Starts of every unit so far (manual and automatic), per host. */
export function startCounts(lab: Lab): Record<string, number> {
  return Object.fromEntries(lab.state.hosts.map((h) => [h.name, lab.unitStatus(h.name).starts]));
}

/** The certificate a TLS port serves, verified against the lab CA (rejects when it does not verify). */
export function servedCertificate(address: string, port: number, ca: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: address, port, ca, minVersion: 'TLSv1.2', timeout: 5000 }, () => {
      const cert = s.getPeerCertificate();
      const ok = s.authorized;
      const why = s.authorizationError;
      s.end();
      if (ok) resolve(cert);
      else reject(new Error(String(why)));
    });
    s.on('error', reject);
    s.on('timeout', () => reject(new Error('timeout')));
  });
}

/** The lab CA's PEM text. */
export function labCa(lab: Lab): string {
  return readFileSync(`${lab.dir}/pki/ca.pem`, 'utf8');
}

/** Status of an agent's /healthz (dialled directly: the lab binds it to the host's address). */
export async function agentHealthz(lab: Lab, name: string): Promise<number> {
  const res = await fetch(`http://${lab.host(name).address}:3031/healthz`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  return res?.status ?? 0;
}

/** Unix seconds of the keepalive the backend recorded for an agent, read over https with the admin login. */
export async function keepaliveSeconds(lab: Lab, backend: string, agent: string, scheme: 'http' | 'https'): Promise<number | undefined> {
  const admin = lab.state.admin;
  if (!admin) return undefined;
  const base = `${scheme}://${lab.host(backend).address}:8080`;
  const get = async (path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> => {
    const { get: httpsGet } = await import('node:https');
    const { get: httpGet } = await import('node:http');
    return new Promise((resolve, reject) => {
      const req = (scheme === 'https' ? httpsGet : httpGet)(`${base}${path}`, { headers, ca: labCa(lab) }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
    });
  };
  const auth = await get('/auth', { authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}` });
  const token = (JSON.parse(auth.body) as { access_token: string }).access_token;
  const ev = await get(`/api/core/v2/namespaces/default/events/${agent}/keepalive`, { authorization: `Bearer ${token}` });
  if (ev.status !== 200) return undefined;
  return (JSON.parse(ev.body) as { timestamp: number }).timestamp;
}

/** Polls until `probe` holds or the time runs out. */
export async function eventually(what: string, ms: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (
      await Promise.resolve()
        .then(probe)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One request that carried credentials, as a lab backend logged it (stand-in only). */
export interface CredentialedRequest {
  host: string;
  scheme: string;
  tls: boolean;
  path: string;
}

/** Every request that reached a lab backend's API with credentials, and whether it came over TLS. */
export function credentialedRequests(lab: Lab): CredentialedRequest[] {
  return lab.state.hosts
    .filter((h) => h.role === 'backend')
    .flatMap((h) => {
      let text: string;
      try {
        text = lab.readFile(h.name, '/var/log/sensu/sensu-backend.log');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter((l) => l.includes('lab: request carried credentials'))
        .map((l) => {
          const e = JSON.parse(l) as { scheme: string; tls: boolean; path: string };
          return { host: h.name, scheme: e.scheme, tls: e.tls, path: e.path };
        });
    });
}
