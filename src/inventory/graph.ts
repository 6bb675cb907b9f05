/**
 * The group tree of an Ansible YAML inventory: which groups contain which groups and hosts, and
 * every place a variable is set, in file order. Resolution (precedence, types, files) is
 * resolve.ts's job; this file only reads the structure and reports structural problems.
 */
import type { z } from 'zod';
import type { ProblemList } from './problems.js';
import { expandHostPattern } from './ranges.js';
import { groupSections, groupSchema, unknownGroupKeyMessage } from './schema.js';
import type { Path, PathSegment } from './source.js';

/** A `vars:` mapping of a group, where it is written. */
export interface VarSite {
  /** Path of the mapping (`[…, 'vars']`). */
  path: Path;
  vars: Record<string, unknown>;
}

/** A group, merged over every place the file defines it (Ansible merges them too). */
export interface GroupNode {
  name: string;
  /** Groups that list this one under `children`. */
  parents: Set<string>;
  /** Its `vars:` mappings in file order; the later wins on a clash. */
  varSites: VarSite[];
  /** Every place the group is defined, first one first. */
  definedAt: Path[];
}

/** One listing of a host under a group's `hosts:`. */
export interface HostEntry {
  host: string;
  group: string;
  /** Path of the host key as written (a range key for every host it expands to). */
  path: Path;
  /** The host vars written there. */
  vars: Record<string, unknown>;
  /** Port from a `name:port` key. */
  port?: number;
}

/** The whole tree. Hosts map to their listings in file order; Map order is first appearance. */
export interface InventoryGraph {
  groups: Map<string, GroupNode>;
  hosts: Map<string, HostEntry[]>;
}

/** The implicit root group every other group descends from. */
export const ALL = 'all';

/** Builds the tree from the file's top-level mapping, reporting structural problems. */
export function buildGraph(top: Record<string, unknown>, problems: ProblemList): InventoryGraph {
  const graph: InventoryGraph = { groups: new Map(), hosts: new Map() };
  ensureGroup(graph, ALL, undefined);

  for (const [name, data] of Object.entries(top)) {
    if ((groupSections as Record<string, unknown>)[name] !== undefined) {
      problems.add([name], `"${name}:" at the top level is not a group: put it under a group such as \`all:\``);
      continue;
    }
    if (name === '_meta') {
      problems.add([name], 'this is the dynamic-inventory JSON format: export the YAML format with `ansible-inventory -i FILE --list --yaml`');
      continue;
    }
    if (name === 'plugin') {
      problems.add([name], 'this is an inventory plugin configuration, not a YAML inventory');
      continue;
    }
    parseGroup(graph, name, data, [name], undefined, problems);
  }
  return graph;
}

function ensureGroup(graph: InventoryGraph, name: string, path: Path | undefined): GroupNode {
  let group = graph.groups.get(name);
  if (!group) {
    group = { name, parents: new Set(), varSites: [], definedAt: [] };
    graph.groups.set(name, group);
  }
  if (path) group.definedAt.push(path);
  return group;
}

function parseGroup(graph: InventoryGraph, name: string, data: unknown, path: Path, parent: string | undefined, problems: ProblemList): void {
  if (name.trim() === '') {
    problems.add(path, 'empty group name');
    return;
  }
  const group = ensureGroup(graph, name, path);
  if (parent !== undefined && !addEdge(graph, parent, name, path, problems)) return;

  const checked = groupSchema.safeParse(data);
  if (!checked.success) reportIssues(problems, path, checked.error.issues, unknownGroupKeyMessage);
  if (!isRecord(data)) return;

  // Sections in the order written, as Ansible walks them: it only matters for messages.
  for (const [section, value] of Object.entries(data)) {
    if (section === 'vars') {
      const vars = groupSections.vars.safeParse(value);
      if (vars.success && vars.data) group.varSites.push({ path: [...path, 'vars'], vars: vars.data });
    } else if (section === 'children') {
      const children = groupSections.children.safeParse(value);
      if (!children.success || !children.data) continue;
      for (const [child, childData] of Object.entries(children.data)) {
        const childPath = [...path, 'children', child];
        if (child === ALL) {
          problems.add(childPath, '`all` contains every group and cannot be a child of one');
          continue;
        }
        parseGroup(graph, child, childData, childPath, name, problems);
      }
    } else if (section === 'hosts') {
      // Host by host: one host with bad vars (already reported) must not hide the others.
      const hosts = typeof value === 'string' ? { [value]: null } : value;
      if (!isRecord(hosts)) continue;
      for (const [pattern, rawVars] of Object.entries(hosts)) {
        const hostVars = rawVars === null || rawVars === undefined ? {} : isRecord(rawVars) ? rawVars : undefined;
        if (hostVars === undefined) continue;
        const hostPath = [...path, 'hosts', pattern];
        const expanded = expandHostPattern(pattern);
        if (!expanded.ok) {
          problems.add(hostPath, expanded.message);
          continue;
        }
        for (const host of expanded.hosts) {
          const entry: HostEntry = { host, group: name, path: hostPath, vars: hostVars };
          if (expanded.port !== undefined) entry.port = expanded.port;
          const entries = graph.hosts.get(host);
          if (entries) entries.push(entry);
          else graph.hosts.set(host, [entry]);
        }
      }
    }
  }
}

/** Adds parent → child unless it would close a loop (Ansible refuses those too). */
function addEdge(graph: InventoryGraph, parent: string, child: string, path: Path, problems: ProblemList): boolean {
  if (parent === child || ancestorsOrSelf(graph, parent).has(child)) {
    problems.add(path, `group "${child}" cannot be a child of "${parent}": "${parent}" is already inside "${child}" (a loop)`);
    return false;
  }
  graph.groups.get(child)?.parents.add(parent);
  return true;
}

/** The group, every group above it, and `all`. */
export function ancestorsOrSelf(graph: InventoryGraph, name: string): Set<string> {
  const out = new Set<string>([name, ALL]);
  const queue = [name];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const p of graph.groups.get(next)?.parents ?? []) {
      if (!out.has(p)) {
        out.add(p);
        queue.push(p);
      }
    }
  }
  return out;
}

/**
 * Ansible's group depth: `all` is 0, a group with no parent is 1 (it hangs under `all`), others
 * are one below their deepest parent. Deeper groups' vars win.
 */
export function groupDepth(graph: InventoryGraph, name: string, memo = new Map<string, number>()): number {
  if (name === ALL) return 0;
  const known = memo.get(name);
  if (known !== undefined) return known;
  let depth = 1;
  for (const p of graph.groups.get(name)?.parents ?? []) depth = Math.max(depth, groupDepth(graph, p, memo) + 1);
  memo.set(name, depth);
  return depth;
}

/** Reports zod issues under `base`; unknown keys get one problem each, worded by `unknownKey`. */
export function reportIssues(problems: ProblemList, base: Path, issues: readonly z.core.$ZodIssue[], unknownKey: (key: string) => string): void {
  for (const issue of issues) {
    const at: PathSegment[] = [...base, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.add([...at, key], unknownKey(key));
    } else {
      problems.add(at, issue.message);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
