/**
 * Every playbook module, by the name a task gives it: the planner and the playbook loader look
 * modules up here (no switch on module names elsewhere).
 */
import type { ModuleName } from '../playbook/schema.js';
import { certPreflight } from './cert-preflight.js';
import { copy } from './copy.js';
import { directory } from './directory.js';
import { etcdMember } from './etcd-member.js';
import { agentHealth, backendHealth } from './health.js';
import type { PlaybookModule } from './module.js';
import { sensuConfig } from './sensu-config.js';
import { service } from './service.js';

export const modules = {
  cert_preflight: certPreflight,
  directory,
  copy,
  sensu_config: sensuConfig,
  service,
  backend_health: backendHealth,
  agent_health: agentHealth,
  etcd_member: etcdMember,
} satisfies Record<ModuleName, PlaybookModule>;

export type { PlaybookModule } from './module.js';
