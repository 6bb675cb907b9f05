/**
 * The stand-ins' own agent ↔ backend protocol: JSON text frames over the WebSocket at `/` of the
 * agent port, plus the handshake headers of sensu-go's transport package.
 */
import type { EntityDoc } from './store.js';

/** What an agent sends: a keepalive carrying its entity, right after connecting and every interval. */
export interface AgentMessage {
  type: 'keepalive';
  entity: EntityDoc;
  /** keepalive-interval, seconds. */
  interval: number;
  /** keepalive-warning-timeout, seconds. */
  timeout: number;
}

/** Handshake header names (sensu-go transport), lower case as Node exposes them. */
export const AGENT_HEADERS = {
  name: 'sensu-agentname',
  namespace: 'sensu-namespace',
  user: 'sensu-user',
  subscriptions: 'sensu-subscriptions',
} as const;
