/**
 * How healthy a host is before anything changes: a backend's /health (https when its config already
 * has a certificate, verified against the CA), an agent's /healthz through the host's connection.
 * A run on a fleet that is already sick could not tell its own failure from the old one, so
 * preflight refuses it.
 */
import net from 'node:net';
import type { EffectiveSetting } from '../sensu/effective-config.js';
import { endpointsOf, hostSettings } from '../sensu/host-config.js';
import type { HostSpec } from '../inventory/types.js';
import type { Transport } from '../transport/transport.js';
import { agentHealthz, backendHealth } from './health.js';
import type { HealthFact, HostFacts } from './types.js';

/**
 * The CA file the host trusts now (its `trusted-ca-file`), when the facts hold its text: during a
 * CA rotation, what still verifies the certificates served before the run (and after a rollback).
 */
export function trustedCaText(host: HostSpec, facts: HostFacts): string | undefined {
  try {
    const path = hostSettings(host, facts)['trusted-ca-file']?.value;
    return typeof path === 'string' && path !== '' ? facts.files[path]?.text : undefined;
  } catch {
    return undefined;
  }
}

/** Whether something accepts a TCP connection there (no bytes sent). */
function tcpAnswers(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port, timeout: timeoutMs });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** Probes one host's current health; never throws. */
export async function currentHealth(host: HostSpec, facts: HostFacts, transport: Transport, ca: string | undefined): Promise<HealthFact> {
  let settings: Record<string, EffectiveSetting>;
  try {
    settings = hostSettings(host, facts);
  } catch (err) {
    return { ok: false, detail: `config unreadable: ${(err as Error).message}` };
  }
  if (host.role === 'backend') {
    const { apiPort: port, dashboardHost, dashboardPort: dashPort } = endpointsOf(settings, 'backend');
    const tls = String(settings['cert-file']?.value ?? '') !== '';
    const dashHost = dashboardHost.replace(/^\[|\]$/g, '');
    const [h, webUi] = await Promise.all([
      backendHealth(host.address, port, tls ? 'https' : 'http', { ...(ca ? { ca } : {}), timeoutMs: 5000 }),
      tcpAnswers(dashHost === '' || dashHost === '::' || dashHost === '0.0.0.0' ? host.address : dashHost, dashPort, 3000),
    ]);
    return { ok: h.ok, scheme: h.scheme, detail: h.detail, webUi };
  }
  const { agentApiHost: apiHost, agentApiPort: apiPort } = endpointsOf(settings, 'agent');
  try {
    const socket = await transport.forward(apiHost, apiPort);
    const h = await agentHealthz(socket, apiHost, apiPort, 5000);
    return { ok: h.ok, detail: h.detail, agent: h.ok ? 'connected' : h.status === undefined ? 'down' : 'disconnected' };
  } catch (err) {
    return { ok: false, detail: (err as Error).message, agent: 'down' };
  }
}
