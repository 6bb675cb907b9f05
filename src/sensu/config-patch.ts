/**
 * Comment-preserving edits of Sensu YAML config files (backend.yml, agent.yml).
 *
 * The `yaml` Document is only used to LOCATE what to change (node ranges); the new text is
 * spliced into the original string, so comments, blank lines, key order, quoting, flow style and
 * line endings stay byte-for-byte outside the lines that change. The result is parsed again and
 * checked: the edited keys hold what was asked and no other key changed (except through a shared
 * anchor, which is reported), otherwise an internal error is thrown rather than a file written.
 *
 * Rules, for operators reading a diff:
 * - `set` on an existing key replaces only the value's text, in that value's quoting style;
 *   lists of the same length are edited item by item (comments between items stay), block lists
 *   grow or shrink by whole lines; a single value becoming a list is written as a flow list on the
 *   same line. Numbers and booleans are compared loosely (`"8081"` equals 8081), as Sensu does.
 * - a new key goes, in this order of preference: right after a commented-out example of itself
 *   (`#backend-url:` and its `#  - …` lines, as in the packaged agent.yml); after a related key
 *   (see PLACE_AFTER in config-keys.ts: `key-file` after `cert-file`, the TLS pair after `api-url`…);
 *   after the last top-level key; at the end of the file. It uses the file's top-level indentation,
 *   list indentation and most common quoting style (double quotes when there is no evidence).
 * - `remove` deletes the key's lines; comments above it stay.
 * - `scheme` rewrites `from://` to `to://` in every URL of the key (a string, a comma/space list,
 *   a block or flow list), leaving host, port and the rest as written. An absent key is not added:
 *   the caller decides (see effective-config.ts), and a note says so.
 * - anchors and aliases: an edit changes a value where it is written. A `scheme` edit that reaches
 *   a URL through an alias rewrites the anchored value, so every alias of that anchor follows; a
 *   `set` keeps an anchor on the value it replaces (its aliases follow too), while a `set` on a
 *   value that IS an alias replaces the alias by the literal and leaves the anchor alone. Every key
 *   that changes through an anchor is listed in `changes` with `via: 'alias'`;
 *   `sharedAnchors: 'refuse'` turns that into an InputError instead.
 * - duplicate keys, several documents, a list or a flow mapping at the top level: InputError naming
 *   the file and line. A missing or blank file becomes a new one with a header comment.
 * - idempotent: patching the output again with the same edits returns it unchanged.
 */
import { isAlias, isMap, isScalar, isSeq, visit } from 'yaml';
import type { Document, ParsedNode, Scalar, YAMLSeq } from 'yaml';
import { InputError } from '../errors.js';
import { insertLines, placeNewKey, removeLines, renderFlow, renderInline, renderNewPair, styleOf, trimEnd } from './config-layout.js';
import type { ConfigValue, Splice } from './config-layout.js';
import { hasScheme, rewriteSchemes } from './urls.js';
import { ConfigSource, renderScalar } from './yaml-source.js';
import type { QuoteStyle, TopPair } from './yaml-source.js';

/** A value `set` can write. */
export type { ConfigValue } from './config-layout.js';

/** One change to make to a config file. */
export type ConfigEdit =
  /** Make `key` hold `value` (add it when missing). */
  | { op: 'set'; key: string; value: ConfigValue }
  /** Delete `key` and its value. */
  | { op: 'remove'; key: string }
  /** Change the scheme of every URL in `key`, keeping the rest of each URL as written. */
  | { op: 'scheme'; key: string; from: 'ws' | 'http'; to: 'wss' | 'https' };

/** One top-level key whose value changed. */
export interface ConfigChange {
  /** The top-level key. */
  key: string;
  /** Its value before (undefined when absent). Raw: redact before showing. */
  before: unknown;
  /** Its value after (undefined when removed). Raw: redact before showing. */
  after: unknown;
  /** Set when the key was not edited but changed because it aliases an edited anchor. */
  via?: 'alias';
}

/** The outcome of patchConfig. */
export interface PatchResult {
  /** The new file text (the input itself when nothing changed; '' for a missing file left alone). */
  text: string;
  /** True when `text` differs from the input: only then is there something to write. */
  changed: boolean;
  /** Top-level keys whose values changed, in file order of the result. */
  changes: ConfigChange[];
  /** Things the operator should know: absent keys, aliases replaced or followed. */
  notes: string[];
}

/** Options of patchConfig. */
export interface PatchOptions {
  /**
   * What to do when an edit changes an anchored value that other keys alias: `follow` (default)
   * lets them change too and reports them; `refuse` throws an InputError instead.
   */
  sharedAnchors?: 'follow' | 'refuse';
}

/** The first line of a file rollout creates. */
export const CREATED_HEADER = '# Written by rollout: this file was missing or empty. Comments and key order are kept on later edits.';

/** What the edits touched, for the final check. */
interface Touched {
  /** Top-level keys whose text was spliced. */
  owners: Set<string>;
  /** Anchors whose node was changed in place (their aliases follow). */
  anchors: Set<string>;
  notes: string[];
}

/**
 * Apply `edits` in order to a config file's text without disturbing anything else.
 * @param text the file's content; undefined when the file does not exist
 * @param file the path, used in error messages and notes
 * @throws InputError when the text is not a single YAML mapping without duplicate keys, or when
 *   an edit cannot be made safely (a scheme edit on a non-URL value, a shared anchor under
 *   `sharedAnchors: 'refuse'`, dropping an anchor that aliases still use)
 */
export function patchConfig(text: string | undefined, edits: readonly ConfigEdit[], file: string, options: PatchOptions = {}): PatchResult {
  const input = text ?? '';
  const blank = input.trim() === '';
  const original = ConfigSource.of(blank ? '' : input, file);
  const touched: Touched = { owners: new Set(), anchors: new Set(), notes: [] };
  let current = original.text;
  for (const edit of edits) {
    const src = ConfigSource.of(current, file);
    current = applySplices(current, editSplices(src, edit, touched));
  }
  if (blank) {
    if (current === '') return { text: input, changed: false, changes: [], notes: touched.notes };
    const eol = input.includes('\r\n') ? '\r\n' : '\n';
    current = `${CREATED_HEADER}${eol}${eol === '\n' ? current : current.replace(/\r?\n/g, eol)}`;
  }
  if (current === input) return { text: input, changed: false, changes: [], notes: touched.notes };
  const changes = checkResult(original, current, edits, touched, file, options);
  return { text: current, changed: true, changes, notes: touched.notes };
}

/** The settings of a config file as plain data (aliases and merge keys resolved); `{}` when missing or empty. */
export function readConfigValues(text: string | undefined, file: string): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  return ConfigSource.of(text, file).values();
}

/** Values plus the 1-based line of each top-level key, for messages such as "set in agent.yml line 12". */
export function readConfig(text: string | undefined, file: string): { values: Record<string, unknown>; lines: Record<string, number> } {
  if (text === undefined || text.trim() === '') return { values: {}, lines: {} };
  const src = ConfigSource.of(text, file);
  const lines: Record<string, number> = {};
  for (const p of src.map?.items ?? []) {
    if (isScalar(p.key) && typeof p.key.value === 'string' && p.key.range) lines[p.key.value] = src.lineOf(p.key.range[0]) + 1;
  }
  return { values: src.values(), lines };
}

function applySplices(text: string, splices: readonly Splice[]): string {
  let out = text;
  for (const s of [...splices].sort((a, b) => b.start - a.start)) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return out;
}

function editSplices(src: ConfigSource, edit: ConfigEdit, touched: Touched): Splice[] {
  switch (edit.op) {
    case 'set':
      return setSplices(src, edit.key, edit.value, touched);
    case 'remove':
      return removeSplices(src, edit.key, touched);
    case 'scheme':
      return schemeSplices(src, edit, touched);
  }
}

// ---------------------------------------------------------------------------------------------
// set

function setSplices(src: ConfigSource, key: string, value: ConfigValue, touched: Touched): Splice[] {
  const pair = src.pair(key);
  if (!pair) {
    return [insertLines(src, placeNewKey(src, key), renderNewPair(src, key, value))];
  }
  if (looseEqual(src.values()[key], value)) return [];
  touched.owners.add(key);
  const node = pair.value;
  const style = src.quoteStyle();
  if (node === null || (isScalar(node) && node.range[0] === node.range[1])) return fillEmpty(src, pair, value, style);
  if (isAlias(node)) {
    touched.notes.push(`${src.file}: ${key} was an alias (*${node.source}); replaced by its new value, the anchor is unchanged`);
    return [{ start: node.range[0], end: node.range[1], text: renderInline(value, style) }];
  }
  if (node.anchor) touched.anchors.add(node.anchor);
  if (isScalar(node)) {
    const text = Array.isArray(value) ? renderFlow(value, style) : renderScalar(value, styleOf(node, style));
    return [{ start: node.range[0], end: trimEnd(src.text, node.range[0], node.range[1]), text }];
  }
  if (isSeq(node) && Array.isArray(value) && value.length > 0) {
    const perItem = editSeq(src, key, node, value, style, touched);
    if (perItem) return perItem;
  }
  return replaceCollection(src, key, pair, node, value, style);
}

/** `key:` with nothing after it: write the value after the colon (a block list below the key). */
function fillEmpty(src: ConfigSource, pair: TopPair, value: ConfigValue, style: QuoteStyle): Splice[] {
  const colon = src.afterColon(pair);
  if (Array.isArray(value) && value.length > 0 && !src.prefersFlowLists()) {
    const indent = ' '.repeat(src.topColumn + src.seqIndent());
    return [
      insertLines(
        src,
        src.nextLineStart(colon),
        value.map((v) => `${indent}- ${renderScalar(v, style)}`),
      ),
    ];
  }
  let end = colon;
  while (src.text[end] === ' ' || src.text[end] === '\t') end++;
  const comment = src.text[end] === '#';
  return [{ start: colon, end, text: ` ${renderInline(value, style)}${comment ? ' ' : ''}` }];
}

/** Edit a list in place: changed items keep their quoting and comments; block lists grow or shrink by lines. */
function editSeq(src: ConfigSource, key: string, node: YAMLSeq.Parsed, value: readonly string[], style: QuoteStyle, touched: Touched): Splice[] | undefined {
  const items = node.items;
  if (items.some((it) => !isScalar(it) && !isAlias(it))) return undefined;
  if (node.flow && items.length !== value.length) return undefined;
  const inFlow = node.flow === true;
  const splices: Splice[] = [];
  const common = Math.min(items.length, value.length);
  for (let i = 0; i < common; i++) {
    const item = items[i];
    const want = value[i] ?? '';
    if (!item) continue;
    if (isAlias(item)) {
      if (looseEqual(item.resolve(src.doc)?.toJS(src.doc), want)) continue;
      touched.notes.push(`${src.file}: ${key}[${i}] was an alias (*${item.source}); replaced by its new value, the anchor is unchanged`);
      splices.push({ start: item.range[0], end: item.range[1], text: renderScalar(want, style, inFlow) });
    } else if (isScalar(item)) {
      if (looseEqual(item.value, want)) continue;
      if (item.anchor) touched.anchors.add(item.anchor);
      splices.push({ start: item.range[0], end: trimEnd(src.text, item.range[0], item.range[1]), text: renderScalar(want, styleOf(item, style), inFlow) });
    }
  }
  if (items.length > value.length) {
    const extra = items.slice(value.length);
    for (const item of extra) refuseDroppingAnchors(src, key, item);
    const first = extra[0];
    const last = extra[extra.length - 1];
    // One removal for all of them: per-item removals could overlap at the end of the file.
    if (first && last) splices.push(removeLines(src, src.lineStart(first.range[0]), src.afterLine(last.range[1])));
  } else if (value.length > items.length) {
    const last = items[items.length - 1];
    if (!last) return undefined;
    const first = node.range[0];
    const prefix = `${src.text.slice(src.lineStart(first), first)}- `;
    const itemStyle = isScalar(items[0]) ? styleOf(items[0], style) : style;
    splices.push(
      insertLines(
        src,
        src.afterLine(last.range[1]),
        value.slice(items.length).map((v) => prefix + renderScalar(v, itemStyle)),
      ),
    );
  }
  return splices;
}

/**
 * Replace a whole list or map (or a list by a scalar), written inline. The value's anchor and a
 * comment on the key's line are kept.
 */
function replaceCollection(src: ConfigSource, key: string, pair: TopPair, node: ParsedNode, value: ConfigValue, style: QuoteStyle): Splice[] {
  refuseDroppingAnchors(src, key, node, node.anchor);
  const inline = renderInline(value, style);
  if ((isSeq(node) || isMap(node)) && node.flow) return [{ start: node.range[0], end: node.range[1], text: inline }];
  // A block collection starts on the line after the key: rewrite from the colon to its end.
  const start = src.afterColon(pair);
  const rest = src.text.slice(start, src.lineEnd(start));
  const comment = /(?:^|\s)(#.*)$/.exec(rest)?.[1];
  const anchor = node.anchor ? `&${node.anchor} ` : '';
  return [{ start, end: trimEnd(src.text, node.range[0], node.range[1]), text: ` ${anchor}${inline}${comment ? ` ${comment}` : ''}` }];
}

/** Removing or rewriting `node` must not delete an anchor that aliases elsewhere still use. */
function refuseDroppingAnchors(src: ConfigSource, key: string, node: ParsedNode, keep?: string, verb = 'changing'): void {
  const anchors = new Map<string, number>();
  visit(node, {
    Node: (_k, n) => {
      if ((isScalar(n) || isMap(n) || isSeq(n)) && n.anchor && n.anchor !== keep && n.range) anchors.set(n.anchor, src.lineOf(n.range[0]) + 1);
    },
  });
  if (anchors.size === 0) return;
  const used: string[] = [];
  visit(src.doc, {
    Alias: (_k, a) => {
      const line = anchors.get(a.source);
      if (line !== undefined && a.range && (a.range[0] < node.range[0] || a.range[0] > node.range[2])) {
        used.push(`${src.file}:${line}: anchor &${a.source} in ${key} is used at line ${src.lineOf(a.range[0]) + 1}`);
      }
    },
  });
  if (used.length > 0) {
    throw new InputError(`${src.file}: ${verb} ${key} would delete an anchor that other settings use`, used, {
      place: { file: src.file },
      hint: 'replace the alias by its value by hand, then run again',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// remove

function removeSplices(src: ConfigSource, key: string, touched: Touched): Splice[] {
  const pair = src.pair(key);
  if (!pair) return [];
  touched.owners.add(key);
  if (pair.value && !isAlias(pair.value)) refuseDroppingAnchors(src, key, pair.value, undefined, 'removing');
  const start = isScalar(pair.key) && pair.key.range ? src.lineStart(pair.key.range[0]) : 0;
  return [removeLines(src, start, src.afterLine(src.pairEnd(pair)))];
}

// ---------------------------------------------------------------------------------------------
// scheme

function schemeSplices(src: ConfigSource, edit: Extract<ConfigEdit, { op: 'scheme' }>, touched: Touched): Splice[] {
  const { key, from, to } = edit;
  const pair = src.pair(key);
  if (!pair || pair.value === null) {
    const merged = src.values()[key];
    if (merged !== undefined && merged !== null && !pair) {
      // Only present through a merge key (`<<: *base`): an explicit key overrides the merged one
      // and keeps the change local to this file's own settings.
      const rewritten = rewriteValue(merged, from, to, src.file, key);
      if (looseEqual(merged, rewritten)) return [];
      touched.notes.push(`${src.file}: ${key} came from a merge key (<<); added an explicit ${key} with ${to}:// instead of editing the merged map`);
      return setSplices(src, key, rewritten, touched);
    }
    touched.notes.push(`${src.file}: ${key} is not set in the file; nothing to rewrite (its value comes from the environment or the default)`);
    return [];
  }
  const scalars = new Map<Scalar.Parsed, Reach>();
  collectUrlScalars(src, key, pair.value, { anchors: [] }, scalars, new Set());
  const splices: Splice[] = [];
  for (const [node, reach] of scalars) {
    const value = node.value as string;
    const want = rewriteSchemes(value, from, to);
    if (want === value) continue;
    for (const a of reach.anchors) touched.anchors.add(a);
    if (node.anchor) touched.anchors.add(node.anchor);
    if (reach.via !== undefined) {
      touched.notes.push(`${src.file}: ${key} uses alias *${reach.via}; rewrote the anchored value, so every alias of &${reach.via} changes too`);
    }
    touched.owners.add(ownerOf(src, node.range[0]) ?? key);
    const end = trimEnd(src.text, node.range[0], node.range[1]);
    const raw = src.text.slice(node.range[0], end);
    const rewritten = rewriteSchemes(raw, from, to);
    // The scheme letters never need escaping, so rewriting the source keeps the operator's quoting
    // and line folding; if the source spells the scheme with escapes, write the value afresh.
    const text = rewritten !== raw ? rewritten : renderScalar(want, styleOf(node, 'QUOTE_DOUBLE'));
    splices.push({ start: node.range[0], end, text });
  }
  return [...new Map(splices.map((sp) => [sp.start, sp])).values()];
}

/** How a URL scalar was reached from the key: through which alias, inside which anchored lists. */
interface Reach {
  via?: string;
  anchors: string[];
}

function collectUrlScalars(src: ConfigSource, key: string, node: ParsedNode, reach: Reach, out: Map<Scalar.Parsed, Reach>, seen: Set<unknown>): void {
  if (seen.has(node)) return;
  seen.add(node);
  if (isAlias(node)) {
    const target = node.resolve(src.doc) as ParsedNode | undefined;
    if (target) collectUrlScalars(src, key, target, { via: reach.via ?? node.source, anchors: reach.anchors }, out, seen);
    return;
  }
  if (isScalar(node)) {
    if (node.value === null) return;
    if (typeof node.value !== 'string') throw notUrls(src, key, node);
    out.set(node, reach);
    return;
  }
  if (isSeq(node)) {
    const anchors = node.anchor ? [...reach.anchors, node.anchor] : reach.anchors;
    for (const item of node.items) collectUrlScalars(src, key, item, { ...reach, anchors }, out, seen);
    return;
  }
  throw notUrls(src, key, node);
}

function notUrls(src: ConfigSource, key: string, node: ParsedNode): InputError {
  const line = src.lineOf(node.range[0]) + 1;
  return new InputError(
    `${src.file}: ${key} must be a URL or a list of URLs`,
    [`${src.file}:${line}: ${key} holds ${isMap(node) ? 'a mapping' : 'a non-text value'}`],
    {
      place: { file: src.file },
    },
  );
}

function rewriteValue(value: unknown, from: string, to: string, file: string, key: string): ConfigValue {
  if (typeof value === 'string') return rewriteSchemes(value, from, to);
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return value.map((v) => rewriteSchemes(v, from, to));
  throw new InputError(`${file}: ${key} must be a URL or a list of URLs`, [], { place: { file } });
}

/** Top-level key whose pair contains a position (an anchor can live under another key). */
function ownerOf(src: ConfigSource, pos: number): string | undefined {
  for (const p of src.map?.items ?? []) {
    const start = isScalar(p.key) && p.key.range ? p.key.range[0] : -1;
    if (start <= pos && pos <= src.pairEnd(p) && isScalar(p.key)) return String(p.key.value);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// checking the result

/** Sensu reads every scalar as text first: `"8081"` and 8081, `'true'` and true are the same setting. */
function looseEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => looseEqual(x, b[i]));
  }
  if (typeof a === 'object' && a !== null) return JSON.stringify(a) === JSON.stringify(b);
  if (typeof b === 'object' && b !== null) return false;
  // Absent, null and '' are all "not set" to Sensu.
  return scalarText(a) === scalarText(b);
}

function scalarText(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

/** Every string in a value, for the scheme check. */
function stringsIn(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(stringsIn);
  return [];
}

function checkResult(
  original: ConfigSource,
  text: string,
  edits: readonly ConfigEdit[],
  touched: Touched,
  file: string,
  options: PatchOptions,
): ConfigChange[] {
  let result: ConfigSource;
  try {
    result = ConfigSource.of(text, file);
  } catch (e) {
    throw new Error(`internal: patching ${file} produced invalid YAML`, { cause: e });
  }
  const before = original.values();
  const after = result.values();
  const edited = new Set(edits.map((e) => e.key));
  const aliasUsers = aliasUsersOf(original.doc, touched.anchors);
  const changes: ConfigChange[] = [];
  const keys = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  for (const key of keys) {
    if (JSON.stringify(before[key]) === JSON.stringify(after[key])) continue;
    if (edited.has(key)) changes.push({ key, before: before[key], after: after[key] });
    else if (aliasUsers.has(key) || touched.owners.has(key)) changes.push({ key, before: before[key], after: after[key], via: 'alias' });
    else throw new Error(`internal: patching ${file} changed ${key}, which no edit asked for`);
  }
  const shared = changes.filter((c) => c.via === 'alias');
  if (shared.length > 0) {
    const which = shared.map((c) => c.key).join(', ');
    if (options.sharedAnchors === 'refuse') {
      throw new InputError(
        `${file}: the change would also change ${which} through a shared YAML anchor`,
        shared.map((c) => `${file}: ${c.key} aliases an anchor the edit changes`),
        {
          place: { file },
          hint: 'replace the alias by its value by hand, or allow shared anchors to follow',
        },
      );
    }
    touched.notes.push(`${file}: ${which} changed too, through a shared YAML anchor`);
  }
  // The last edit of each key is the one that must hold.
  const last = new Map(edits.map((e) => [e.key, e] as const));
  for (const [key, edit] of last) {
    const ok =
      edit.op === 'set'
        ? looseEqual(after[key], edit.value)
        : edit.op === 'remove'
          ? result.pair(key) === undefined
          : !stringsIn(after[key]).some((s) => hasScheme(s, edit.from));
    if (!ok) throw new Error(`internal: patching ${file} did not make ${key} ${edit.op === 'remove' ? 'absent' : 'hold the value asked for'}`);
  }
  return changes;
}

/** Top-level keys that hold an alias to one of these anchors. */
function aliasUsersOf(doc: Document.Parsed, anchors: ReadonlySet<string>): Set<string> {
  const users = new Set<string>();
  if (anchors.size === 0) return users;
  visit(doc, {
    Alias: (_k, a, path) => {
      const key = ConfigSource.topKeyOf(path);
      if (anchors.has(a.source) && key !== undefined) users.add(key);
    },
  });
  return users;
}
