/**
 * Gathering facts over each host's one connection: one sudo command per host (the facts script),
 * plus the controller's own files (certificates and keys to upload). Read-only: nothing on a host
 * changes here.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { renderTemplate } from '../inventory/template.js';
import type { HostSpec } from '../inventory/types.js';
import type { LocalFile } from '../plan/plan.js';
import type { Playbook } from '../playbook/schema.js';
import { RemoteCommandError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import { factsScript, parseFacts, type PathRequest } from './script.js';
import type { HostFacts } from './types.js';
import { printable } from '../terminal-text.js';
import { configPathOf, envFilesOf, unitOf } from '../sensu/host-config.js';

function render(value: string, host: HostSpec): string {
  const r = renderTemplate(value, (name) =>
    name === 'inventory_hostname' ? { found: true, value: host.name } : name in host.vars ? { found: true, value: host.vars[name] } : { found: false },
  );
  return r.ok && typeof r.value === 'string' ? r.value : value;
}

/** Every remote path the playbook may touch on this host, and the directories to list. */
export function factRequests(host: HostSpec, playbook: Playbook): { paths: PathRequest[]; dirs: string[] } {
  const paths: PathRequest[] = [{ path: configPathOf(host), want: 'content' }, ...envFilesOf(host.role).map((path) => ({ path, want: 'content' as const }))];
  const dirs: string[] = [];
  for (const phase of playbook.phases) {
    for (const task of phase.tasks) {
      if (task.when && task.when !== host.role) continue;
      if (task.module === 'directory') {
        const p = render(String(task.args.path), host);
        paths.push({ path: p, want: 'meta' });
        dirs.push(p);
      }
      if (task.module === 'copy') paths.push({ path: render(String(task.args.dest), host), want: 'content' });
    }
  }
  return { paths: dedupe(paths), dirs: [...new Set(dirs)] };
}

function dedupe(paths: PathRequest[]): PathRequest[] {
  const seen = new Map<string, PathRequest>();
  for (const p of paths) if (!seen.has(p.path) || p.want === 'content') seen.set(p.path, p);
  return [...seen.values()];
}

/** Gathers one host's facts in one round trip. */
export async function gatherHostFacts(host: HostSpec, transport: Transport, playbook: Playbook): Promise<HostFacts> {
  const { paths, dirs } = factRequests(host, playbook);
  const unit = unitOf(host.role);
  const r = await transport.run(factsScript(paths, dirs, unit), { sudo: true });
  if (r.code !== 0)
    throw new RemoteCommandError(`${host.name}: gathering facts failed: ${printable(r.stderr.toString().trim().split('\n').pop() ?? '')}`, {
      place: { host: host.name },
    });
  return parseFacts(host.name, unit, r.stdout);
}

/** The controller's files the playbook uploads (CA, certificates, keys), read once. */
export async function gatherLocalFiles(hosts: readonly HostSpec[]): Promise<Map<string, LocalFile>> {
  const paths = new Set<string>();
  for (const h of hosts) {
    const s = h.sensu;
    for (const p of [s.caFile, s.certFile, s.keyFile, s.dashboardCertFile, s.dashboardKeyFile, s.clientCertFile, s.clientKeyFile]) if (p) paths.add(p);
  }
  const out = new Map<string, LocalFile>();
  await Promise.all(
    [...paths].map(async (path) => {
      try {
        const data = await readFile(path);
        const text = data.toString('utf8');
        const secret = text.includes('PRIVATE KEY');
        const file: LocalFile = { path, exists: true, sha256: createHash('sha256').update(data).digest('hex'), secret, ...(secret ? {} : { text }) };
        if (!secret && text.includes('BEGIN CERTIFICATE')) {
          try {
            const cert = new X509Certificate(data);
            file.cert = {
              subject: cert.subject.replace(/\n/g, ', '),
              sans: (cert.subjectAltName ?? '').split(', ').filter(Boolean),
              issuer: cert.issuer.replace(/\n/g, ', '),
              notAfter: new Date(cert.validTo).toISOString().slice(0, 10),
              sha256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
            };
          } catch {
            // not parseable: preflight reports it
          }
        }
        out.set(path, file);
      } catch {
        out.set(path, { path, exists: false, secret: false });
      }
    }),
  );
  return out;
}
