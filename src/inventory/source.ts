/**
 * The inventory's YAML, parsed the way Ansible (PyYAML, YAML 1.1) reads it, plus what plain JS
 * values lose: the line of every key, duplicate keys, and Ansible's `!vault` / `!unsafe` tags.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Pair, ScalarTag, Tags } from 'yaml';

/** One step of a dot-path: a mapping key or a list index. */
export type PathSegment = string | number;
/** Where a value sits in the file, from the top: `['all', 'children', 'backends']`. */
export type Path = readonly PathSegment[];

/** `all.children.agents.vars.sensu_extra_sans[1]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** A path as a Map/Set key. */
export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

/** Why a `!vault` value cannot be used. */
export const VAULT_MESSAGE =
  'ansible-vault encrypted values are not supported (rollout cannot decrypt them): write the value in plain text, in an inventory only you can read';

/** A problem found while parsing, before it is given the file name. */
export interface RawProblem {
  line: number;
  path?: Path;
  message: string;
}

/** The parsed file: its plain value and a way back from a path to a line. */
export interface ParsedSource {
  /** The YAML as plain JS (aliases and `<<` merges resolved); undefined when it did not parse. */
  value: unknown;
  /** Line lookup for paths into `value`. */
  lines: LineIndex;
  /** Syntax errors and duplicate keys. */
  problems: RawProblem[];
  /** The parser's warnings. */
  warnings: RawProblem[];
  /** Scalars tagged `!unsafe` (by `pathKey`): Ansible never templates them, nor do we. */
  unsafe: Set<string>;
  /** Scalars tagged `!vault` (by `pathKey`): refused where a backend or agent would use them. */
  vault: Set<string>;
}

// Ansible's own tags. Without them the parser would warn about unknown tags. The walk below records
// where they are: `!vault` values are refused where rollout reads them, `!unsafe` ones skip templating.
const ansibleTags: ScalarTag[] = [
  { tag: '!vault', resolve: (s: string) => s },
  { tag: '!unsafe', resolve: (s: string) => s },
];

/**
 * YAML 1.1 as PyYAML reads it: `y` and `n` are strings there, not booleans (so a host or var
 * named `y` keeps its name).
 */
function pyyamlBool(tag: Tags[number]): Tags[number] {
  if (typeof tag === 'string' || tag.tag !== 'tag:yaml.org,2002:bool' || !('test' in tag) || !tag.test) return tag;
  const isTrue = tag.identify?.(true) === true;
  return { ...tag, test: isTrue ? /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/ : /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/ };
}

/** Parses inventory text. Never throws on bad YAML: every syntax error becomes a problem. */
export function parseSource(text: string): ParsedSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    // Ansible reads inventories with PyYAML, i.e. YAML 1.1: `yes`/`no` are booleans, `<<` merges.
    version: '1.1',
    // Our own duplicate check names the path and says what the duplicate is (host, group, var).
    uniqueKeys: false,
    // Pretty errors quote the offending source line, which could be a line holding a password.
    prettyErrors: false,
    customTags: (tags) => [...tags.map(pyyamlBool), ...ansibleTags],
  });
  const lines = new LineIndex(doc, lineCounter);
  const problems: RawProblem[] = [];
  const warnings: RawProblem[] = [];
  for (const e of doc.errors) problems.push({ line: lineCounter.linePos(e.pos[0]).line, message: yamlMessage(e.message) });
  for (const w of doc.warnings) warnings.push({ line: lineCounter.linePos(w.pos[0]).line, message: yamlMessage(w.message, 'YAML') });
  const unsafe = new Set<string>();
  const vault = new Set<string>();
  if (problems.length > 0) return { value: undefined, lines, problems, warnings, unsafe, vault };

  const state: WalkState = { doc, lines, problems, unsafe, vault, badAliases: 0 };
  walk(doc.contents, [], state);
  // toJS would throw on the first unknown alias, with no line: the walk has reported each one.
  if (state.badAliases > 0) return { value: undefined, lines, problems, warnings, unsafe, vault };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    // An alias bomb or a reference to a missing anchor: the parser throws rather than reports.
    problems.push({ line: 1, message: `YAML: ${e instanceof Error ? e.message : String(e)}` });
  }
  return { value, lines, problems, warnings, unsafe, vault };
}

function yamlMessage(message: string, prefix = 'YAML syntax'): string {
  // Keep only the parser's first sentence: no quoted source, so no secret can ride along.
  const first = message.split('\n')[0] ?? message;
  return `${prefix}: ${first.replace(/ at line \d+, column \d+:?$/, '')}`;
}

interface WalkState {
  doc: Document;
  badAliases: number;
  lines: LineIndex;
  problems: RawProblem[];
  unsafe: Set<string>;
  vault: Set<string>;
}

function walk(node: unknown, path: Path, state: WalkState): void {
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = keyText(pair);
      if (key === undefined) {
        state.problems.push({
          line: state.lines.lineOfNode(pair.key) ?? state.lines.lineOfNode(node) ?? 1,
          path,
          message: 'mapping keys must be plain names, not lists or mappings',
        });
        continue;
      }
      const here = [...path, key];
      if (key !== '<<') {
        if (seen.has(key)) {
          state.problems.push({ line: state.lines.lineOfNode(pair.key) ?? 1, path: here, message: duplicateMessage(path, key) });
        }
        seen.add(key);
      }
      checkTag(pair.value, here, state);
      walk(pair.value, here, state);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      checkTag(item, [...path, i], state);
      walk(item, [...path, i], state);
    });
  }
}

function checkTag(node: unknown, path: Path, state: WalkState): void {
  if (isAlias(node) && node.resolve(state.doc) === undefined) {
    state.badAliases++;
    state.problems.push({ line: state.lines.lineOfNode(node) ?? 1, path, message: `YAML: alias *${node.source} has no anchor &${node.source} before it` });
  }
  if (!isScalar(node)) return;
  // Vault values are only a problem where rollout would read them: resolve.ts decides.
  if (node.tag === '!vault') {
    state.vault.add(pathKey(path));
  } else if (node.tag === '!unsafe') {
    state.unsafe.add(pathKey(path));
  }
}

function duplicateMessage(parent: Path, key: string): string {
  const section = parent[parent.length - 1];
  if (section === 'hosts') return `host "${key}" is listed twice in the same hosts mapping (YAML keys must be unique)`;
  if (section === 'children') return `group "${key}" is listed twice in the same children mapping (YAML keys must be unique)`;
  if (section === 'vars') return `variable "${key}" is set twice in the same vars mapping (YAML keys must be unique)`;
  return `key "${key}" appears twice in the same mapping (YAML keys must be unique)`;
}

/** The key as `toJS` spells it (scalars stringified), or undefined for a collection key. */
function keyText(pair: Pair): string | undefined {
  const key: unknown = pair.key;
  if (key === null || key === undefined) return '';
  if (!isScalar(key)) return undefined;
  const v = key.value;
  if (v === null || v === undefined) return '';
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  // A timestamp or binary key: as written.
  return key.source ?? key.toString();
}

/** Finds the line of a path in the file: the key's line when the path ends at a key. */
export class LineIndex {
  constructor(
    private readonly doc: Document,
    private readonly counter: LineCounter,
  ) {}

  /** 1-based line of the node, or undefined for a node without a source range. */
  lineOfNode(node: unknown): number | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.counter.linePos(range[0]).line : undefined;
  }

  /**
   * Line of `path`: follows it as far as the file goes (through aliases and `<<` merges) and
   * returns the line of the last key found, or 1 for the empty path.
   */
  lineOf(path: Path): number {
    let node: unknown = this.doc.contents;
    let line = this.lineOfNode(node) ?? 1;
    for (const seg of path) {
      node = this.deref(node);
      if (isMap(node)) {
        const pair = this.findPair(node.items, String(seg), 0);
        if (!pair) return line;
        line = this.lineOfNode(pair.key) ?? this.lineOfNode(pair.value) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item: unknown = node.items[seg];
        if (item === undefined) return line;
        line = this.lineOfNode(item) ?? line;
        node = item;
      } else {
        return line;
      }
    }
    return line;
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  private findPair(items: readonly unknown[], key: string, depth: number): Pair | undefined {
    if (depth > 20) return undefined;
    for (const item of items) {
      if (isPair(item) && keyText(item) === key) return item;
    }
    // Not written here: maybe brought in by a `<<: *anchor` merge; the later of those wins in YAML.
    for (const item of [...items].reverse()) {
      if (!isPair(item) || keyText(item) !== '<<') continue;
      const sources = isSeq(item.value) ? item.value.items : [item.value];
      for (const source of sources) {
        const target = this.deref(source);
        if (isMap(target)) {
          const found = this.findPair(target.items, key, depth + 1);
          if (found) return found;
        }
      }
    }
    return undefined;
  }
}
