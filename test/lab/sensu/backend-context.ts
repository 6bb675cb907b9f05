/**
 * What the backend's HTTP handlers share: the store, the etcd clients and TLS for health checks,
 * and the startup state behind /ready.
 */
import type { BackendConfig } from './backend-config.js';
import type { EtcdClient, EtcdTls } from './etcd-client.js';
import type { Logger } from './log.js';
import type { SensuStore } from './store.js';

/** Shared state of one running backend. */
export interface BackendContext {
  cfg: BackendConfig;
  /** The backend's own etcd client (dials the advertised client URLs). */
  etcd: EtcdClient;
  /** TLS for dialing each member's client URLs in /health. */
  etcdTls: EtcdTls;
  store: SensuStore;
  log: Logger;
  /** Flips to true once every listener is up (/ready answers 503 before). */
  ready: boolean;
  /** Lab fault "refuse-agents": every agent WebSocket upgrade gets 503. */
  refuseAgents: boolean;
  /** The backend's name (etcd member name), recorded as `processed_by` on events. */
  name: string;
}
