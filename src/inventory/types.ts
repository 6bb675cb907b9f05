/**
 * What the rest of rollout sees of an inventory: resolved hosts with absolute paths, typed
 * connection settings and wrapped secrets. Ansible's group tree is gone by then; `groups` on a
 * host keeps the names for `--limit` and messages.
 */
import type { Secret } from '../secret.js';

/** The two roles a host can have; each comes from a group of the same name (plural). */
export type Role = 'backend' | 'agent';

/** One SSH hop on the way to a host, from `-J` or `-o ProxyJump=` in `ansible_ssh_common_args`. */
export interface ProxyHop {
  /** Login user on the jump host; absent means the SSH client's default. */
  user?: string;
  /** Jump host name or address. */
  host: string;
  /** Jump host port; absent means 22. */
  port?: number;
}

/** Sensu-specific settings of one host (the `sensu_*` vars). Local paths are absolute. */
export interface SensuSettings {
  /** CA bundle on the controller (`sensu_ca_file`). */
  caFile?: string;
  /** Server certificate on the controller (`sensu_cert_file`): backends serve it. */
  certFile?: string;
  /** Its private key (`sensu_key_file`). */
  keyFile?: string;
  /** Backend config path on the host (`sensu_backend_config`, default `/etc/sensu/backend.yml`). */
  backendConfig: string;
  /** Agent config path on the host (`sensu_agent_config`, default `/etc/sensu/agent.yml`). */
  agentConfig: string;
  /** Sensu API key (`sensu_api_key`). */
  apiKey?: Secret;
  /** Sensu API user (`sensu_api_user`), used with `apiPassword`. */
  apiUser?: string;
  /** Sensu API password (`sensu_api_password`). */
  apiPassword?: Secret;
  /** Dashboard certificate on the controller (`sensu_dashboard_cert_file`). */
  dashboardCertFile?: string;
  /** Dashboard key on the controller (`sensu_dashboard_key_file`). */
  dashboardKeyFile?: string;
  /** Agent client certificate for mTLS (`sensu_client_cert_file`). */
  clientCertFile?: string;
  /** Agent client key for mTLS (`sensu_client_key_file`). */
  clientKeyFile?: string;
  /** Extra names or addresses the host's certificate must cover (`sensu_extra_sans`). */
  extraSans: string[];
  /** Agent entity name (`sensu_entity_name`); absent means Sensu's default, the host's hostname. */
  entityName?: string;
}

/** One host of the rollout, with every inventory var resolved. */
export interface HostSpec {
  /** Inventory name (after range expansion), e.g. `agent-07`. */
  name: string;
  /** From membership of `backends` or `agents` (directly or through child groups). */
  role: Role;
  /** Every group the host is in, ancestors included, `all` excluded, sorted (Ansible's `group_names`). */
  groups: string[];
  /** What to dial: `ansible_host`, else the name. */
  address: string;
  /** SSH port: `ansible_port`, else a `name:port` host key, else 22. */
  port: number;
  /** SSH login user (`ansible_user`); absent means the SSH client's default. */
  user?: string;
  /** SSH private key (`ansible_ssh_private_key_file`), absolute. */
  privateKeyFile?: string;
  /** Sudo password (`ansible_become_password` or `ansible_become_pass`). */
  becomePassword?: Secret;
  /** `ansible_become` as given; absent when the inventory does not say. */
  become?: boolean;
  /** `ansible_become_user` as given; absent means root. */
  becomeUser?: string;
  /** Jump hosts, in order, from `-J a,b` or `-o ProxyJump=a,b` in the SSH args. */
  proxyJump?: ProxyHop[];
  /** `-o UserKnownHostsFile=…` from ansible_ssh_common_args/extra_args, as written (`~` and relative paths unresolved). */
  userKnownHostsFiles?: string[];
  /** `ansible_ssh_common_args` (and `ansible_ssh_extra_args`) as written, for messages. */
  sshCommonArgs?: string;
  /** The `sensu_*` settings. */
  sensu: SensuSettings;
  /** Every merged var, Ansible precedence applied; secret-looking ones wrapped in `Secret`. */
  vars: Record<string, unknown>;
  /** Where the host is first listed, `file:line`, for messages that must point at the inventory. */
  definedAt?: string;
}

/** A resolved inventory: what every later stage takes. */
export interface Inventory {
  /** The inventory file, absolute. */
  file: string;
  /** Its directory: relative paths in the inventory are resolved against it. */
  dir: string;
  /** Backends first, then agents, each in the order the file lists them. */
  hosts: HostSpec[];
  /** Every group the file defines, `all` included; lets `--limit` tell an empty group from a typo. */
  groups?: string[];
  /** Hosts in neither `backends` nor `agents`: the file may serve other playbooks too. */
  ignoredHosts?: string[];
  /** Things worth telling the user that do not stop the run, each `file:line: path: message`. */
  warnings?: string[];
}

/** What `loadInventory` returns: an `Inventory` with every optional part filled in. */
export interface LoadedInventory extends Inventory {
  groups: string[];
  ignoredHosts: string[];
  warnings: string[];
}

/** Options of `loadInventory`. */
export interface LoadOptions {
  /**
   * Check that every local file the inventory names exists (default true). The `certs` command
   * turns it off because it is about to create them.
   */
  checkFiles?: boolean;
  /** Home directory for `~` in paths; defaults to `os.homedir()`. Tests set it. */
  homeDir?: string;
  /** How the file is named in messages; defaults to the path as given. */
  displayName?: string;
}
