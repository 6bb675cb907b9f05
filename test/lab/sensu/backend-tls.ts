/**
 * The backend's TLS settings per port, checked the way sensu-go checks them, with its messages:
 * flag pairs first (start.go), then CA file and key pair (core/v2 `ToServerTLSConfig`).
 *
 * One deliberate difference: sensu-go loads the certificate files after starting etcd; the
 * stand-in checks them first, so a bad file fails fast and before any port opens.
 */
import type { BackendConfig } from './backend-config.js';
import { GoTextError, loadCaCerts, loadX509KeyPair } from './tls-files.js';
import type { KeyPair } from './tls-files.js';

/** Node server TLS options for one port. */
export interface ServerTls {
  cert: string;
  key: string;
  /** Client CAs, only when client certificates are requested. */
  ca?: string[] | undefined;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  /** The certificate the port serves (for startup logs). */
  leaf: KeyPair['leaf'];
}

/** TLS per listener; a port without an entry is plain HTTP. */
export interface BackendTls {
  api?: ServerTls | undefined;
  agent?: ServerTls | undefined;
  dashboard?: ServerTls | undefined;
  /** Agents authenticate with client certificates (agent-auth-trusted-ca-file). */
  agentMtls: boolean;
  /** Things worth a warning line (settings the stand-in ignores). */
  warnings: string[];
}

/**
 * The checks `sensu-backend start` makes on flags before anything else.
 * @throws GoTextError with sensu-go's message.
 */
export function checkTlsFlags(cfg: BackendConfig): void {
  if ((cfg.certFile === '') !== (cfg.keyFile === '')) {
    throw new GoTextError('tls configuration error, both flags --cert-file & --key-file are required');
  }
  if ((cfg.dashboardCertFile === '') !== (cfg.dashboardKeyFile === '')) {
    throw new GoTextError('dashboard tls configuration error, both flags --dashboard-cert-file and --dashboard-key-file are required');
  }
}

function serverPair(certFile: string, keyFile: string, swap: ((p: KeyPair) => KeyPair) | undefined): KeyPair {
  let pair: KeyPair;
  try {
    pair = loadX509KeyPair(certFile, keyFile);
  } catch (err) {
    throw new GoTextError(`Error loading tls server certificate: ${err instanceof Error ? err.message : String(err)}`);
  }
  return swap ? swap(pair) : pair;
}

/**
 * Loads every certificate the backend will serve.
 * @param swap replaces each loaded pair (lab fault "wrong-cert").
 * @throws GoTextError with sensu-go's message (`Error reading CA file: …`,
 *   `Error loading tls server certificate: …`).
 */
export function loadBackendTls(cfg: BackendConfig, swap?: (p: KeyPair) => KeyPair): BackendTls {
  checkTlsFlags(cfg);
  const out: BackendTls = { agentMtls: false, warnings: [] };
  // ToServerTLSConfig reads the CA bundle before the key pair, so a bad CA file is reported first.
  if (cfg.trustedCaFile) loadCaCerts(cfg.trustedCaFile);
  let main: KeyPair | undefined;
  if (cfg.certFile && cfg.keyFile) {
    main = serverPair(cfg.certFile, cfg.keyFile, swap);
    out.api = { cert: main.cert, key: main.key, leaf: main.leaf };
  }

  let agentPair = main;
  if (cfg.agentAuthCertFile && cfg.agentAuthKeyFile) agentPair = serverPair(cfg.agentAuthCertFile, cfg.agentAuthKeyFile, swap);
  if (agentPair) {
    out.agent = { cert: agentPair.cert, key: agentPair.key, leaf: agentPair.leaf };
    if (cfg.agentAuthTrustedCaFile) {
      const ca = loadCaCerts(cfg.agentAuthTrustedCaFile);
      // The handshake always completes; the WebSocket upgrade checks the verdict, so /health
      // on the agent port still answers clients without a certificate.
      out.agent = { ...out.agent, ca, requestCert: true, rejectUnauthorized: false };
      out.agentMtls = true;
    }
  } else if (cfg.agentAuthTrustedCaFile) {
    out.warnings.push('agent-auth-trusted-ca-file is set but the agent port has no certificate: agent mTLS is off');
  }
  if (cfg.agentAuthCrlUrls.length > 0) out.warnings.push('agent-auth-crl-urls is not checked by the lab stand-in');

  if (cfg.dashboardCertFile && cfg.dashboardKeyFile) {
    const d = serverPair(cfg.dashboardCertFile, cfg.dashboardKeyFile, swap);
    out.dashboard = { cert: d.cert, key: d.key, leaf: d.leaf };
  } else if (main) {
    out.dashboard = { cert: main.cert, key: main.key, leaf: main.leaf };
  }
  return out;
}
