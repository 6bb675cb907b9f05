/**
 * The certificate part of preflight for `rollout secure`: what each host will serve or trust,
 * checked on this machine before any host is touched (src/certs/preflight.ts does the checking).
 */
import { relative } from 'node:path';
import { preflightCertificates, type CertExpectation } from '../../certs/preflight.js';
import type { HostSpec } from '../../inventory/types.js';
import type { PlanProblem } from '../../plan/types.js';

/** Names and addresses peers dial to reach a backend: every one must be in its certificate. */
export function namesDialled(host: HostSpec): string[] {
  return [...new Set([host.address, host.name, 'localhost', '127.0.0.1', ...host.sensu.extraSans])];
}

/** Checks every backend's certificate, key and CA, and that every agent has a CA to trust. */
export async function certificateProblems(hosts: readonly HostSpec[], inventoryDir: string, options: { minValidityDays: number }): Promise<PlanProblem[]> {
  const problems: PlanProblem[] = [];
  const expectations: CertExpectation[] = [];
  for (const h of hosts) {
    const missing = [
      !h.sensu.caFile ? 'sensu_ca_file' : undefined,
      h.role === 'backend' && !h.sensu.certFile ? 'sensu_cert_file' : undefined,
      h.role === 'backend' && !h.sensu.keyFile ? 'sensu_key_file' : undefined,
    ].filter((x): x is string => x !== undefined);
    if (missing.length > 0) {
      problems.push({ host: h.name, message: `no ${missing.join(', ')} in the inventory`, fix: `set ${missing.join(' and ')} for ${h.name} (paths relative to the inventory), or generate them with \`rollout certs\`` });
      continue;
    }
    if (h.role === 'backend' && h.sensu.certFile && h.sensu.keyFile && h.sensu.caFile) {
      expectations.push({ host: h.name, certFile: h.sensu.certFile, keyFile: h.sensu.keyFile, caFile: h.sensu.caFile, names: namesDialled(h), usages: ['serverAuth'] });
    }
  }
  const found = await preflightCertificates(expectations, { minValidityDays: options.minValidityDays, display: (p) => relative(inventoryDir, p) || p });
  for (const p of found) problems.push({ host: p.host, message: `${p.file} ${p.problem}`, fix: p.fix });
  return problems;
}
