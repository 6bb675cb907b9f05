/**
 * `--limit`, with Ansible's host pattern language: names, groups, globs (`agent-0*`), regexes
 * (`~agent-0[1-3]`), lists (`a,b` or `a:b`), intersection (`&backends`), exclusion (`!agent-03`)
 * and subscripts (`agents[0]`, `agents[0:2]`, inclusive). Unlike Ansible, a part that matches
 * nothing is an error, not a warning: a mistyped exclusion would otherwise run on the very host
 * it meant to spare.
 */
import { InputError } from '../errors.js';
import { suggest } from './suggest.js';
import type { HostSpec, Inventory } from './types.js';

/** The implicit group of every host. */
const ALL = 'all';

/**
 * The hosts `pattern` selects, in inventory order (backends first). No pattern, or an empty one,
 * selects every host. Throws an `InputError` naming every part that matches nothing.
 */
export function selectHosts(inv: Inventory, pattern: string | undefined): HostSpec[] {
  if (pattern === undefined || pattern.trim() === '') return [...inv.hosts];
  const index = new HostIndex(inv);
  const issues: string[] = [];
  let selected = new Set<HostSpec>();

  for (const part of orderPatterns(splitPattern(pattern))) {
    const op = part.startsWith('!') ? '!' : part.startsWith('&') ? '&' : '';
    const body = op === '' ? part : part.slice(1);
    const matched = index.match(body);
    if (typeof matched === 'string') {
      issues.push(`--limit: "${part}": ${matched}`);
      continue;
    }
    if (matched.length === 0) {
      issues.push(`--limit: "${part}" matches no host${index.why(body)}`);
      continue;
    }
    if (op === '!') for (const h of matched) selected.delete(h);
    else if (op === '&') selected = new Set(matched.filter((h) => selected.has(h)));
    else for (const h of matched) selected.add(h);
  }

  if (issues.length > 0) {
    const noun = issues.length === 1 ? 'part matches' : 'parts match';
    throw new InputError(`--limit ${pattern}: ${issues.length} ${noun} no host`, issues, {
      hint: 'patterns are host names, group names, globs (agent-0*), ~regex, joined by "," with !exclude and &intersect',
    });
  }
  if (selected.size === 0) {
    throw new InputError(`--limit ${pattern} selects no host`, [`--limit: "${pattern}" leaves no host once its exclusions and intersections apply`]);
  }
  return inv.hosts.filter((h) => selected.has(h));
}

/**
 * Splits a pattern as Ansible's split_host_pattern does: on commas if there are any, otherwise on
 * colons outside `[…]` (the legacy separator), keeping a lone IPv6 address whole.
 */
export function splitPattern(pattern: string): string[] {
  const p = pattern.trim();
  let parts: string[];
  if (p.includes(',')) parts = p.split(',');
  else if ((p.match(/:/g) ?? []).length >= 2 && /^[0-9a-fA-F:.]+$/.test(p)) parts = [p];
  else parts = p.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((s) => s.trim()).filter((s) => s !== '');
}

/** Ansible's order: plain parts first, then `&` parts, then `!` parts; only `!`/`&` means all hosts first. */
export function orderPatterns(parts: readonly string[]): string[] {
  const regular = parts.filter((p) => !p.startsWith('!') && !p.startsWith('&'));
  const intersect = parts.filter((p) => p.startsWith('&'));
  const exclude = parts.filter((p) => p.startsWith('!'));
  return [...(regular.length > 0 ? regular : [ALL]), ...intersect, ...exclude];
}

/** Python's fnmatch.translate: `*`, `?`, `[seq]`, `[!seq]`, anchored at both ends. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) {
        out += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, j).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      else if (set.startsWith('^')) set = `\\${set}`;
      out += `[${set}]`;
      i = j;
    } else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^(?:${out})$`, 's');
}

// Ansible's subscript: `name[3]`, `name[-1]`, `name[0:2]` (inclusive), `name[1:]`.
const SUBSCRIPT = /^(.+)\[(?:(-?\d+)|(\d+):(\d*))\]$/;

class HostIndex {
  private readonly byName = new Map<string, HostSpec>();
  private readonly byGroup = new Map<string, HostSpec[]>();
  private readonly groupNames: string[];

  constructor(private readonly inv: Inventory) {
    this.byGroup.set(ALL, [...inv.hosts]);
    for (const h of inv.hosts) {
      this.byName.set(h.name, h);
      for (const g of h.groups) {
        const list = this.byGroup.get(g) ?? [];
        list.push(h);
        this.byGroup.set(g, list);
      }
    }
    this.groupNames = [...new Set([ALL, ...(inv.groups ?? []), ...this.byGroup.keys()])];
  }

  /** Hosts one pattern (without its `!`/`&`) matches, or why it is not a valid pattern. */
  match(pattern: string): HostSpec[] | string {
    const plain = this.byName.get(pattern);
    if (plain) return [plain];
    let expr = pattern;
    let subscript: { start: number; end?: number } | undefined;
    if (!pattern.startsWith('~')) {
      const m = SUBSCRIPT.exec(pattern);
      if (m?.[1] !== undefined) {
        expr = m[1];
        if (m[2] !== undefined) subscript = { start: Number(m[2]) };
        else subscript = { start: Number(m[3]), end: m[4] === '' || m[4] === undefined ? -1 : Number(m[4]) };
      }
    }
    let re: RegExp;
    try {
      re = expr.startsWith('~') ? new RegExp(`^(?:${expr.slice(1)})`) : globToRegExp(expr);
    } catch {
      return 'invalid regular expression';
    }
    const out = new Set<HostSpec>();
    const groups = this.groupNames.filter((g) => re.test(g));
    for (const g of groups) for (const h of this.byGroup.get(g) ?? []) out.add(h);
    // As Ansible: host names are tried when no group matched, or when the pattern is a glob or regex.
    if (groups.length === 0 || expr.startsWith('~') || /[.?*[]/.test(expr)) {
      for (const h of this.inv.hosts) if (re.test(h.name)) out.add(h);
    }
    // Subscripts count in inventory order, whatever order the groups matched in.
    const ordered = this.inv.hosts.filter((h) => out.has(h));
    return subscript ? applySubscript(ordered, subscript) : ordered;
  }

  /** Why a pattern matched nothing, when there is more to say than that. */
  why(pattern: string): string {
    let bare = pattern;
    const sub = pattern.startsWith('~') ? null : SUBSCRIPT.exec(pattern);
    if (sub?.[1] !== undefined) {
      bare = sub[1];
      const base = this.match(bare);
      if (typeof base !== 'string' && base.length > 0) return ` (subscript out of range: ${bare} has ${base.length} hosts)`;
    }
    if (this.inv.ignoredHosts?.includes(bare)) return ` (host ${bare} is in neither backends nor agents)`;
    if (this.inv.groups?.includes(bare) && !this.byGroup.has(bare)) return ` (group ${bare} has no backends or agents in it)`;
    if (/[~*?[]/.test(bare)) return '';
    const guess = suggest(bare, [...this.byName.keys(), ...this.groupNames]);
    return guess ? `: did you mean ${guess}?` : '';
  }
}

function applySubscript(hosts: HostSpec[], sub: { start: number; end?: number }): HostSpec[] {
  const at = (i: number): number => (i < 0 ? hosts.length + i : i);
  if (sub.end === undefined) {
    const h = hosts[at(sub.start)];
    return h ? [h] : [];
  }
  const end = sub.end === -1 ? hosts.length - 1 : sub.end;
  return hosts.slice(at(sub.start), end + 1);
}
