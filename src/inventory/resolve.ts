/**
 * From the group tree to one `HostSpec` per host: Ansible's variable precedence, `{{ }}`
 * substitution, types (zod), aliases, paths and SSH arguments. Problems are reported where the
 * winning value is written, so a bad group var is reported once, at the group.
 */
import { Secret } from '../secret.js';
import type { FileCheck } from './files.js';
import { resolveLocalPath } from './files.js';
import type { HostEntry, InventoryGraph } from './graph.js';
import { ALL, ancestorsOrSelf, groupDepth } from './graph.js';
import type { ProblemList } from './problems.js';
import type { HostVars } from './schema.js';
import { hostVarsSchema, isSecretVar, KNOWN_VARS, unknownVarMessage } from './schema.js';
import type { LineIndex, Path, PathSegment } from './source.js';
import { pathKey, VAULT_MESSAGE } from './source.js';
import { parseSshArgs } from './ssh-args.js';
import { renderTemplate } from './template.js';
import type { VarLookup } from './template.js';
import type { HostSpec, KnownHostsFiles, ProxyHop, Role, SensuSettings } from './types.js';

/** The groups that give a host its role. */
export const ROLE_GROUPS: Readonly<Record<string, Role>> = { backends: 'backend', agents: 'agent' };

/** Ansible's default `ansible_group_priority`. */
const DEFAULT_PRIORITY = 1;

/** Everything resolution needs besides the host itself. */
export interface ResolveContext {
  graph: InventoryGraph;
  problems: ProblemList;
  warnings: ProblemList;
  lines: LineIndex;
  /** The inventory, absolute, and how messages name it. */
  file: string;
  fileName: string;
  /** Base for relative paths. */
  dir: string;
  /** Base for `~`. */
  home: string;
  /** `!unsafe` values, never templated. */
  unsafe: ReadonlySet<string>;
  /** `!vault` values, refused when a host uses them. */
  vault: ReadonlySet<string>;
  /** Files to check once every host is resolved. */
  files: FileCheck[];
  /** Memo of group depths and priorities. */
  depths: Map<string, number>;
  priorities: Map<string, number>;
}

/** What became of one host. */
export type HostResolution =
  /** Resolved; `source` tells where a var's winning value is written. */
  | { kind: 'host'; host: HostSpec; source: (key: string) => Path }
  /** In neither role group: another playbook's host. */
  | { kind: 'ignored' }
  /** Reported as a problem; left out. */
  | { kind: 'invalid' };

/** A value and where the file sets it. */
interface Sourced {
  value: unknown;
  path: Path;
}

/** Resolves one host from its listings (in file order). */
export function resolveHost(name: string, entries: readonly HostEntry[], ctx: ResolveContext): HostResolution {
  const { role, conflict } = hostRole(name, entries, ctx);
  if (role === undefined) return { kind: 'ignored' };

  const groups = new Set<string>();
  for (const entry of entries) for (const g of ancestorsOrSelf(ctx.graph, entry.group)) groups.add(g);
  const groupNames = [...groups].filter((g) => g !== ALL).sort(byCodePoint);

  const merged = mergeVars(groups, entries, ctx);
  for (const [key, { path }] of merged) {
    const message = unknownVarMessage(key);
    if (message) ctx.problems.add(path, message);
  }

  const rendered = renderKnownVars(name, merged, groupNames, ctx);
  const vars = validate(rendered, merged, ctx);
  const source = (key: string): Path => merged.get(key)?.path ?? [];

  const pick = <K extends keyof HostVars>(keys: readonly K[]): HostVars[K] | undefined => pickAlias(keys, vars, source, ctx);
  const address = pick(['ansible_host', 'ansible_ssh_host']);
  const port = pick(['ansible_port', 'ansible_ssh_port']);
  const user = pick(['ansible_user', 'ansible_ssh_user']);
  const keyFile = pick(['ansible_private_key_file', 'ansible_ssh_private_key_file']);
  const becomePassword = pick(['ansible_become_password', 'ansible_become_pass', 'ansible_sudo_pass']);

  const localFile = (key: keyof HostVars & string): string | undefined => {
    const written = vars[key];
    if (typeof written !== 'string') return undefined;
    const resolved = resolveLocalPath(written, ctx.dir, ctx.home);
    if (!resolved.ok) {
      ctx.problems.add(source(key), resolved.message);
      return undefined;
    }
    ctx.files.push({ file: resolved.path, path: source(key) });
    return resolved.path;
  };
  const keyFileKey = vars.ansible_private_key_file !== undefined ? 'ansible_private_key_file' : 'ansible_ssh_private_key_file';
  const privateKeyFile = keyFile === undefined ? undefined : localFile(keyFileKey);

  // Root edits these files: where a host's configuration lives, unless the inventory says so.
  for (const key of ['sensu_backend_config', 'sensu_agent_config'] as const) {
    const path = vars[key];
    if (path !== undefined && !path.startsWith('/etc/') && vars.rollout_config_outside_etc !== true) {
      ctx.problems.add(
        source(key),
        'must be under /etc/ (root edits this file); set rollout_config_outside_etc: true for the host if it really lives elsewhere',
      );
    }
  }
  checkPairs(vars, source, ctx);
  checkBecome(name, vars, source, ctx);
  checkHostKeyChecking(merged, ctx);
  const ssh = sshSettings(vars, source, ctx);

  const sensu: SensuSettings = {
    ...optional('caFile', localFile('sensu_ca_file')),
    ...optional('certFile', localFile('sensu_cert_file')),
    ...optional('keyFile', localFile('sensu_key_file')),
    backendConfig: vars.sensu_backend_config ?? '/etc/sensu/backend.yml',
    agentConfig: vars.sensu_agent_config ?? '/etc/sensu/agent.yml',
    ...optional('apiKey', wrap(vars.sensu_api_key)),
    ...optional('apiUser', vars.sensu_api_user),
    ...optional('apiPassword', wrap(vars.sensu_api_password)),
    ...optional('dashboardCertFile', localFile('sensu_dashboard_cert_file')),
    ...optional('dashboardKeyFile', localFile('sensu_dashboard_key_file')),
    ...optional('clientCertFile', localFile('sensu_client_cert_file')),
    ...optional('clientKeyFile', localFile('sensu_client_key_file')),
    extraSans: vars.sensu_extra_sans ?? [],
    ...optional('entityName', vars.sensu_entity_name),
  };

  const first = entries[0];
  const host: HostSpec = {
    name,
    role,
    groups: groupNames,
    address: address ?? name,
    port: port ?? 22,
    ...optional('user', user),
    ...optional('privateKeyFile', privateKeyFile),
    ...optional('becomePassword', wrap(becomePassword)),
    ...optional('become', vars.ansible_become),
    ...optional('becomeUser', vars.ansible_become_user),
    ...optional('proxyJump', ssh.proxyJump),
    ...optional('knownHosts', ssh.knownHosts),
    ...optional('hashKnownHosts', ssh.hashKnownHosts),
    ...optional('sshCommonArgs', ssh.raw),
    sensu,
    vars: publicVars(merged, rendered),
    ...optional('definedAt', first ? `${ctx.fileName}:${ctx.lines.lineOf(first.path)}` : undefined),
  };
  // A host in both roles is still resolved above, so its other problems are reported too.
  return conflict ? { kind: 'invalid' } : { kind: 'host', host, source };
}

/** The host's role (the first found), and whether it has both. Reports a host in both role groups. */
function hostRole(name: string, entries: readonly HostEntry[], ctx: ResolveContext): { role?: Role; conflict: boolean } {
  const roles = new Set<Role>();
  for (const entry of entries) {
    const above = ancestorsOrSelf(ctx.graph, entry.group);
    for (const [group, role] of Object.entries(ROLE_GROUPS)) if (above.has(group)) roles.add(role);
    if (roles.size > 1) {
      ctx.problems.add(
        entry.path,
        `host "${name}" is in both backends and agents: a host has one role (for a machine that runs both, list it twice under two names with the same ansible_host)`,
      );
      return { role: [...roles][0], conflict: true };
    }
  }
  const [role] = roles;
  return role === undefined ? { conflict: false } : { role, conflict: false };
}

/**
 * Ansible's precedence: group vars sorted by (depth, ansible_group_priority, name), so `all` first,
 * deeper groups later and, at equal depth and priority, the alphabetically later group wins; then
 * host vars in the order the host is listed. A later value replaces an earlier one whole.
 */
function mergeVars(groups: ReadonlySet<string>, entries: readonly HostEntry[], ctx: ResolveContext): Map<string, Sourced> {
  const ordered = [...groups].sort(
    (a, b) => groupDepth(ctx.graph, a, ctx.depths) - groupDepth(ctx.graph, b, ctx.depths) || groupPriority(a, ctx) - groupPriority(b, ctx) || byCodePoint(a, b),
  );
  const merged = new Map<string, Sourced>();
  for (const g of ordered) {
    for (const site of ctx.graph.groups.get(g)?.varSites ?? []) {
      for (const [key, value] of Object.entries(site.vars)) merged.set(key, { value, path: [...site.path, key] });
    }
  }
  for (const entry of entries) {
    if (entry.port !== undefined) merged.set('ansible_port', { value: entry.port, path: entry.path });
    for (const [key, value] of Object.entries(entry.vars)) merged.set(key, { value, path: [...entry.path, key] });
  }
  return merged;
}

function groupPriority(group: string, ctx: ResolveContext): number {
  const known = ctx.priorities.get(group);
  if (known !== undefined) return known;
  let priority = DEFAULT_PRIORITY;
  for (const site of ctx.graph.groups.get(group)?.varSites ?? []) {
    if (!('ansible_group_priority' in site.vars)) continue;
    const parsed = hostVarsSchema.shape.ansible_group_priority.safeParse(site.vars.ansible_group_priority);
    if (parsed.success && parsed.data !== undefined) priority = parsed.data;
    else ctx.problems.add([...site.path, 'ansible_group_priority'], 'expected an integer');
  }
  ctx.priorities.set(group, priority);
  return priority;
}

/** Substitutes `{{ }}` in the variables rollout reads; the user's own vars stay as written. */
function renderKnownVars(name: string, merged: ReadonlyMap<string, Sourced>, groupNames: string[], ctx: ResolveContext): Map<string, unknown> {
  const magic: Record<string, unknown> = {
    inventory_hostname: name,
    inventory_hostname_short: name.split('.')[0] ?? name,
    inventory_dir: ctx.dir,
    inventory_file: ctx.file,
    group_names: groupNames,
  };
  const lookup: VarLookup = (n) => {
    if (Object.hasOwn(magic, n)) return { found: true, value: magic[n] };
    const v = merged.get(n);
    return v ? { found: true, value: v.value } : { found: false };
  };
  const out = new Map<string, unknown>();
  for (const [key, { value, path }] of merged) {
    // The tag is lost through a YAML alias; the ciphertext's header is not.
    if (ctx.vault.has(pathKey(path)) || (typeof value === 'string' && value.startsWith('$ANSIBLE_VAULT;'))) {
      // Only the vars rollout reads: the user's own may stay encrypted, nothing here uses them.
      if (KNOWN_VARS.has(key)) ctx.problems.add(path, VAULT_MESSAGE);
      else out.set(key, value);
      continue;
    }
    if (!KNOWN_VARS.has(key) || ctx.unsafe.has(pathKey(path))) {
      out.set(key, value);
      continue;
    }
    const r = renderTemplate(value, lookup, !isSecretVar(key));
    if (r.ok) out.set(key, r.value);
    else ctx.problems.add(path, r.message);
  }
  return out;
}

/** Types every known var with zod; a bad one is reported and left out, so the rest still resolves. */
function validate(rendered: ReadonlyMap<string, unknown>, merged: ReadonlyMap<string, Sourced>, ctx: ResolveContext): HostVars {
  const input: Record<string, unknown> = Object.fromEntries(rendered);
  const first = hostVarsSchema.safeParse(input);
  if (first.success) return first.data;
  for (const issue of first.error.issues) {
    const [key, ...rest] = issue.path;
    if (typeof key !== 'string') continue;
    const at: PathSegment[] = [...(merged.get(key)?.path ?? [key]), ...rest.map((p) => (typeof p === 'number' ? p : String(p)))];
    ctx.problems.add(at, issue.message);
    delete input[key];
  }
  const second = hostVarsSchema.safeParse(input);
  return second.success ? second.data : {};
}

/** The first alias set wins, as in current Ansible; the others are ignored with a warning. */
function pickAlias<K extends keyof HostVars>(keys: readonly K[], vars: HostVars, source: (key: string) => Path, ctx: ResolveContext): HostVars[K] | undefined {
  const present = keys.filter((k) => vars[k] !== undefined);
  const [winner, ...losers] = present;
  if (winner === undefined) return undefined;
  for (const loser of losers) {
    if (vars[loser] === vars[winner]) continue;
    ctx.warnings.add(source(String(loser)), `ignored: ${String(winner)} is also set and wins (the first of ${keys.join(', ')}, as in Ansible)`);
  }
  return vars[winner];
}

const PAIRS: readonly [keyof HostVars & string, keyof HostVars & string, string][] = [
  ['sensu_cert_file', 'sensu_key_file', 'a certificate needs its private key'],
  ['sensu_dashboard_cert_file', 'sensu_dashboard_key_file', 'a certificate needs its private key'],
  ['sensu_client_cert_file', 'sensu_client_key_file', 'a certificate needs its private key'],
  ['sensu_api_user', 'sensu_api_password', 'the API user logs in with a password'],
];

function checkPairs(vars: HostVars, source: (key: string) => Path, ctx: ResolveContext): void {
  for (const [a, b, why] of PAIRS) {
    const hasA = vars[a] !== undefined;
    const hasB = vars[b] !== undefined;
    if (hasA && !hasB) ctx.problems.add(source(a), `set without ${b}: ${why}`);
    if (hasB && !hasA) ctx.problems.add(source(b), `set without ${a}: ${why}`);
  }
}

/**
 * rollout needs root on every host: it runs each command through sudo as root, and what it writes
 * (root-owned keys and configs, service restarts) needs root. Another become user, or no become,
 * would mean running as someone else than the inventory says; refused, never ignored.
 */
function checkBecome(name: string, vars: HostVars, source: (key: string) => Path, ctx: ResolveContext): void {
  if (vars.ansible_become_user !== undefined && vars.ansible_become_user !== 'root') {
    ctx.problems.add(
      source('ansible_become_user'),
      `host ${name}: become user "${vars.ansible_become_user}" is not supported: rollout runs every command as root (sudo to root); remove ansible_become_user or set it to root`,
    );
  }
  if (vars.ansible_become === false) {
    ctx.problems.add(
      source('ansible_become'),
      `host ${name}: ansible_become is false, but rollout needs root on every host and always uses sudo to root; remove it or set it to true`,
    );
  }
}

function checkHostKeyChecking(merged: ReadonlyMap<string, Sourced>, ctx: ResolveContext): void {
  for (const key of ['ansible_host_key_checking', 'ansible_ssh_host_key_checking']) {
    const v = merged.get(key);
    if (!v) continue;
    const off = v.value === false || v.value === 0 || (typeof v.value === 'string' && /^(no|false|off|0|n|f)$/i.test(v.value.trim()));
    if (off) ctx.warnings.add(v.path, 'ignored: rollout always checks host keys against known_hosts');
  }
}

/** What the SSH args set that rollout honours. */
interface SshSettings {
  proxyJump?: ProxyHop[];
  knownHosts?: KnownHostsFiles;
  hashKnownHosts?: boolean;
  raw?: string;
}

/**
 * Jump hosts and known_hosts files from the SSH args; other options are kept as text and reported
 * as ignored. Ansible puts common args before extra args, and ssh keeps the first value of an
 * option, so the first setting wins here too.
 */
function sshSettings(vars: HostVars, source: (key: string) => Path, ctx: ResolveContext): SshSettings {
  let proxyJump: ProxyHop[] | undefined;
  let jumpFrom: string | undefined;
  const knownHosts: KnownHostsFiles = {};
  let hashKnownHosts: boolean | undefined;
  const raw: string[] = [];
  const files = (written: string[], key: string): string[] => {
    const out: string[] = [];
    for (const w of written) {
      // Relative to the inventory, like every other local path in it (ssh would use its cwd).
      const r = resolveLocalPath(w, ctx.dir, ctx.home);
      if (r.ok) out.push(r.path);
      else ctx.problems.add(source(key), `${w}: ${r.message}`);
    }
    return out;
  };
  for (const key of ['ansible_ssh_common_args', 'ansible_ssh_extra_args'] as const) {
    const written = vars[key];
    if (written === undefined || written.trim() === '') continue;
    raw.push(written.trim());
    const parsed = parseSshArgs(written);
    for (const e of parsed.errors) ctx.problems.add(source(key), e);
    if (parsed.userKnownHostsFiles && !knownHosts.user) knownHosts.user = files(parsed.userKnownHostsFiles, key);
    if (parsed.globalKnownHostsFiles && !knownHosts.global) knownHosts.global = files(parsed.globalKnownHostsFiles, key);
    hashKnownHosts ??= parsed.hashKnownHosts;
    if (parsed.ignored.length > 0) {
      const notes = parsed.notes.length > 0 ? ` (${[...new Set(parsed.notes)].join('; ')})` : '';
      ctx.warnings.add(source(key), `ignored, rollout reads only -J / ProxyJump and the known_hosts options here: ${parsed.ignored.join(' ')}${notes}`);
    }
    if (parsed.proxyJump === undefined) continue;
    if (jumpFrom !== undefined) {
      ctx.problems.add(source(key), `jump host already set in ${jumpFrom}: give it in one place`);
      continue;
    }
    jumpFrom = key;
    proxyJump = parsed.proxyJump;
  }
  return {
    ...optional('proxyJump', proxyJump && proxyJump.length > 0 ? proxyJump : undefined),
    ...optional('knownHosts', knownHosts.user || knownHosts.global ? knownHosts : undefined),
    ...optional('hashKnownHosts', hashKnownHosts),
    ...optional('raw', raw.length > 0 ? raw.join(' ') : undefined),
  };
}

/** Every merged var, rendered where rollout reads it, secrets wrapped. */
function publicVars(merged: ReadonlyMap<string, Sourced>, rendered: ReadonlyMap<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, { value }] of merged) {
    const v = rendered.has(key) ? rendered.get(key) : value;
    out[key] = isSecretVar(key) ? secretOf(v) : v;
  }
  return out;
}

function secretOf(value: unknown): unknown {
  if (value === null || value === undefined || value instanceof Secret) return value;
  return new Secret(typeof value === 'string' ? value : JSON.stringify(value));
}

function wrap(value: string | undefined): Secret | undefined {
  return value === undefined ? undefined : new Secret(value);
}

/** `{ key: value }` when value is defined, `{}` otherwise: no `key: undefined` in printed specs. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Python's string order (code points), which Ansible sorts group names by. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
