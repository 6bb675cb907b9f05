/**
 * The certificate part of preflight for `rollout secure`: what each host will serve or trust,
 * checked on this machine before any host is touched (src/certs/preflight.ts does the checking).
 */
import { relative } from 'node:path';
import { preflightCertificates, type CertExpectation } from '../certs/preflight.js';
import type { HostFacts } from '../facts/types.js';
import type { HostSpec } from '../inventory/types.js';
import type { PlanProblem } from '../plan/types.js';
import type { Feature } from '../playbook/schema.js';
import { agentIdentity } from '../sensu/agent-identity.js';

/** Names and addresses peers dial to reach a backend: every one must be in its certificate. */
export function namesDialled(host: HostSpec): string[] {
  return [...new Set([host.address, host.name, 'localhost', '127.0.0.1', ...host.sensu.extraSans])];
}

/** What else the certificate preflight needs to know about the run. */
export interface CertificateRun {
  minValidityDays: number;
  /** Optional parts the run turns on (agent mTLS checks the agents' client certificates). */
  features?: ReadonlySet<Feature>;
  /** Facts of the hosts (an agent's entity name, which its client certificate's CN must be). */
  facts?: ReadonlyMap<string, HostFacts>;
}

/**
 * An agent's client certificate: it must allow clientAuth and name the agent's entity in its CN
 * (needs no SANs: nobody dials an agent). Its entity name is read from the host's config.
 */
function clientExpectation(h: HostSpec, caFile: string, facts: HostFacts | undefined, problems: PlanProblem[]): CertExpectation | undefined {
  if (!h.sensu.clientCertFile || !h.sensu.clientKeyFile) {
    problems.push({
      host: h.name,
      message: '--agent-mtls needs sensu_client_cert_file and sensu_client_key_file for every agent',
      fix: 'issue them with `rollout certs --agents` (CN = the entity name, clientAuth), then set both vars for the agents',
    });
    return undefined;
  }
  let entity = h.sensu.entityName;
  if (facts) {
    try {
      entity = agentIdentity(h, facts).entity;
    } catch {
      // the config's own problem is reported by planning
    }
  }
  return {
    host: h.name,
    certFile: h.sensu.clientCertFile,
    keyFile: h.sensu.clientKeyFile,
    caFile,
    names: [],
    usages: ['clientAuth'],
    ...(entity ? { commonName: entity } : {}),
  };
}

/** Checks every backend's certificate, key and CA, and that every agent has a CA to trust. */
export async function certificateProblems(hosts: readonly HostSpec[], inventoryDir: string, options: CertificateRun): Promise<PlanProblem[]> {
  const problems: PlanProblem[] = [];
  const expectations: CertExpectation[] = [];
  const backendCa = hosts.find((h) => h.role === 'backend' && h.sensu.caFile)?.sensu.caFile;
  for (const h of hosts) {
    const missing = [
      !h.sensu.caFile ? 'sensu_ca_file' : undefined,
      h.role === 'backend' && !h.sensu.certFile ? 'sensu_cert_file' : undefined,
      h.role === 'backend' && !h.sensu.keyFile ? 'sensu_key_file' : undefined,
    ].filter((x): x is string => x !== undefined);
    if (missing.length > 0) {
      problems.push({
        host: h.name,
        message: `no ${missing.join(', ')} in the inventory`,
        fix: `set ${missing.join(' and ')} for ${h.name} (paths relative to the inventory), or generate them with \`rollout certs\``,
      });
      continue;
    }
    if (h.role === 'backend' && h.sensu.certFile && h.sensu.keyFile && h.sensu.caFile) {
      // With --etcd-tls it is also etcd's client and peer certificate: members and the backend's own
      // store client present it to each other, so it needs clientAuth too.
      const usages = options.features?.has('etcd_tls') ? (['serverAuth', 'clientAuth'] as const) : (['serverAuth'] as const);
      expectations.push({
        host: h.name,
        certFile: h.sensu.certFile,
        keyFile: h.sensu.keyFile,
        caFile: h.sensu.caFile,
        names: namesDialled(h),
        usages: [...usages],
      });
      // The web UI is dialled at the same names.
      if (h.sensu.dashboardCertFile && h.sensu.dashboardKeyFile) {
        expectations.push({
          host: h.name,
          certFile: h.sensu.dashboardCertFile,
          keyFile: h.sensu.dashboardKeyFile,
          caFile: h.sensu.caFile,
          names: namesDialled(h),
          usages: ['serverAuth'],
        });
      }
    }
    if (h.role === 'agent' && h.sensu.caFile && options.features?.has('agent_mtls')) {
      // The backends verify it (agent-auth-trusted-ca-file is their CA file), not the agent.
      const e = clientExpectation(h, backendCa ?? h.sensu.caFile, options.facts?.get(h.name), problems);
      if (e) expectations.push(e);
    }
  }
  const found = await preflightCertificates(expectations, { minValidityDays: options.minValidityDays, display: (p) => relative(inventoryDir, p) || p });
  for (const p of found) problems.push({ host: p.host, message: `${p.file} ${p.problem}`, fix: p.fix });
  return problems;
}
