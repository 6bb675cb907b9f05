/**
 * `loadInventory`: read → parse (YAML 1.1, lines kept) → group tree → per-host resolution →
 * file checks, collecting every problem on the way and throwing them together at the end.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { Secret } from '../secret.js';
import { checkFiles } from './files.js';
import { ALL, ancestorsOrSelf, buildGraph } from './graph.js';
import type { InventoryGraph } from './graph.js';
import { failWith, ProblemList, throwIfProblems } from './problems.js';
import { resolveHost, ROLE_GROUPS } from './resolve.js';
import type { ResolveContext } from './resolve.js';
import { isSecretVar, topSchema } from './schema.js';
import { parseSource } from './source.js';
import type { Path } from './source.js';
import { suggest } from './suggest.js';
import type { HostSpec, LoadedInventory, LoadOptions } from './types.js';

/**
 * Loads and validates an Ansible YAML inventory. Throws one `InputError` listing every problem
 * (`<file>:<line>: <dot.path>: <message>`); secrets never appear in it.
 */
export async function loadInventory(file: string, options: LoadOptions = {}): Promise<LoadedInventory> {
  const abs = resolve(file);
  const dir = dirname(abs);
  const fileName = options.displayName ?? file;
  const text = await readInventoryText(abs, fileName);
  const problems = new ProblemList(fileName);
  const warnings = new ProblemList(fileName);

  const ini = iniHeaderLine(text);
  if (ini !== undefined) {
    problems.add(
      undefined,
      "this looks like an INI inventory: rollout reads Ansible's YAML format (convert with `ansible-inventory -i FILE --list --yaml`)",
      ini,
    );
    failWith(problems);
  }

  const parsed = parseSource(text);
  problems.setLines(parsed.lines);
  warnings.setLines(parsed.lines);
  for (const p of parsed.problems) problems.add(p.path, p.message, p.line);
  for (const w of parsed.warnings) warnings.add(w.path, w.message, w.line);
  const secrets = collectSecrets(parsed.value);
  if (parsed.value === undefined && problems.size > 0) failWith(problems, secrets);

  const value = parsed.value;
  if (value === null || value === undefined || (isRecord(value) && Object.keys(value).length === 0)) {
    problems.add(undefined, 'inventory is empty: expected groups such as `all:` with `children:` backends and agents', 1);
    failWith(problems, secrets);
  }
  const top = topSchema.safeParse(value);
  if (!top.success) {
    problems.add(undefined, top.error.issues[0]?.message ?? 'expected a mapping of groups', 1);
    failWith(problems, secrets);
  }

  const graph = buildGraph(top.data, problems);
  const ctx: ResolveContext = {
    graph,
    problems,
    warnings,
    lines: parsed.lines,
    file: abs,
    fileName,
    dir,
    home: options.homeDir ?? homedir(),
    unsafe: parsed.unsafe,
    vault: parsed.vault,
    files: [],
    depths: new Map(),
    priorities: new Map(),
  };

  const hosts: HostSpec[] = [];
  const ignoredHosts: string[] = [];
  const entityNames = new Map<string, { host: string; path: Path }[]>();
  for (const [name, entries] of graph.hosts) {
    const r = resolveHost(name, entries, ctx);
    if (r.kind === 'ignored') ignoredHosts.push(name);
    if (r.kind !== 'host') continue;
    hosts.push(r.host);
    const entity = r.host.sensu.entityName;
    if (r.host.role === 'agent' && entity !== undefined) {
      const users = entityNames.get(entity) ?? [];
      users.push({ host: name, path: r.source('sensu_entity_name') });
      entityNames.set(entity, users);
    }
  }

  for (const [entity, users] of entityNames) {
    const second = users[1];
    if (!second) continue;
    problems.add(second.path, `entity name "${entity}" is shared by ${users.map((u) => u.host).join(', ')}: each agent needs its own`);
  }
  checkRoleGroups(graph, hosts, ignoredHosts, problems);
  for (const sub of ['group_vars', 'host_vars']) {
    if (existsSync(join(dir, sub))) {
      warnings.add(undefined, `${sub}/ next to the inventory is not read by rollout: put the variables it needs in the inventory file`, 0);
    }
  }
  if (options.checkFiles !== false) await checkFiles(ctx.files, problems);
  throwIfProblems(problems, secrets);

  // Backends first: every later stage handles them first (they serve, agents follow).
  const ordered = [...hosts.filter((h) => h.role === 'backend'), ...hosts.filter((h) => h.role === 'agent')];
  return {
    file: abs,
    dir,
    hosts: ordered,
    groups: [...graph.groups.keys()],
    ignoredHosts,
    warnings: warnings.list(secrets),
  };
}

async function readInventoryText(abs: string, fileName: string): Promise<string> {
  try {
    return await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `file not found (${abs})`
        : code === 'EISDIR'
          ? 'is a directory: rollout reads one YAML inventory file'
          : `cannot be read (${code ?? String(e)})`;
    throw new InputError(`inventory ${fileName} ${code === 'ENOENT' ? 'not found' : 'cannot be read'}`, [`${fileName}: ${why}`], {
      place: { file: fileName },
      cause: e,
    });
  }
}

/** Line of an INI `[group]` header opening the file, if that is how it starts. */
function iniHeaderLine(text: string): number | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line === '---') continue;
    // A YAML inventory's top is a mapping, never a one-line flow list.
    return /^\[[^\]]+\]$/.test(line) ? i + 1 : undefined;
  }
  return undefined;
}

/** No backends; and groups one typo away from a role group that hold hosts rollout would skip. */
function checkRoleGroups(graph: InventoryGraph, hosts: readonly HostSpec[], ignored: readonly string[], problems: ProblemList): void {
  const roleGroups = Object.keys(ROLE_GROUPS);
  const skippedGroups = new Set<string>();
  for (const name of ignored) {
    for (const entry of graph.hosts.get(name) ?? []) for (const g of ancestorsOrSelf(graph, entry.group)) skippedGroups.add(g);
  }
  const misspelt = new Map<string, string>();
  for (const group of skippedGroups) {
    if (group === ALL || roleGroups.includes(group)) continue;
    const guess = suggest(group, roleGroups, 2);
    if (guess) misspelt.set(group, guess);
  }
  for (const [group, guess] of misspelt) {
    const at = graph.groups.get(group)?.definedAt[0];
    problems.add(at, `group "${group}" is not a role group: did you mean ${guess}? (its hosts are in neither backends nor agents, so rollout would skip them)`);
  }

  // A misspelt backends group already explains why there are none.
  if (hosts.some((h) => h.role === 'backend') || [...misspelt.values()].includes('backends')) return;
  const backends = graph.groups.get('backends');
  if (backends) problems.add(backends.definedAt[0], 'no hosts in backends: rollout needs at least one Sensu backend');
  else problems.add(undefined, 'no backends group: rollout needs at least one Sensu backend, in a group named backends', 1);
}

/** Every value the file gives a secret-named variable, for the last-resort redaction of messages. */
function collectSecrets(value: unknown, out: Secret[] = []): Secret[] {
  if (Array.isArray(value)) {
    for (const item of value) collectSecrets(item, out);
  } else if (isRecord(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (isSecretVar(key) && (typeof v === 'string' || typeof v === 'number')) out.push(new Secret(String(v)));
      else collectSecrets(v, out);
    }
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
