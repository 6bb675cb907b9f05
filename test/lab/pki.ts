// TEMPORARY shim until the certs work lands: openssl-based lab PKI.
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { issue, makeCa } from './sensu/test-pki.js';

export interface LabHostCert { name: string; address: string; extraNames?: string[] }

export async function writeLabPki(dir: string, hosts: LabHostCert[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const ca = makeCa(dir, 'ca');
  renameSync(ca.key, join(dir, 'ca.key'));
  const caFiles = { cert: ca.cert, key: join(dir, 'ca.key') };
  for (const h of hosts) {
    const f = issue(caFiles, dir, h.name, { cn: h.name, dns: [h.name, 'localhost', ...(h.extraNames ?? [])], ips: [h.address, '127.0.0.1'] });
    renameSync(f.key, join(dir, `${h.name}.key`));
  }
  await Promise.resolve();
}
