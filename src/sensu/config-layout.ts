/**
 * Where new text goes in a Sensu config file and how it is written: placement of new keys,
 * rendering in the file's own style, and whole-line insertions and removals that keep the file's
 * line endings (and its lack of a final newline). Used by config-patch.ts; see its module comment
 * for the rules as operators see them.
 */
import { isScalar } from 'yaml';
import type { Scalar } from 'yaml';
import { placeAfterCandidates } from './config-keys.js';
import { renderScalar } from './yaml-source.js';
import type { ConfigSource, QuoteStyle, TopPair } from './yaml-source.js';

/** A value a config edit can write. */
export type ConfigValue = string | boolean | number | string[];

/** Replace text[start, end) by `text`. */
export interface Splice {
  /** First offset replaced. */
  start: number;
  /** Offset after the last one replaced (= start for an insertion). */
  end: number;
  /** The new text. */
  text: string;
}

/** Where a new key's lines go: see the module comment for the order of preference. */
export function placeNewKey(src: ConfigSource, key: string): number {
  const placeholder = placeholderEnd(src, key);
  if (placeholder !== undefined) return placeholder;
  for (const candidate of placeAfterCandidates(key)) {
    const p = src.pair(candidate);
    if (p) return afterPairBlock(src, p);
  }
  const items = src.map?.items ?? [];
  const last = items[items.length - 1];
  if (last) return afterPairBlock(src, last);
  // Nothing but comments: append, but before a `...` end marker (after it a key starts a second document).
  const end = src.lines().find((s) => /^\.\.\.(\s|$)/.test(src.lineText(s)));
  return end ?? src.text.length;
}

/** After a pair, and after comment lines indented under it (they belong to its value). */
function afterPairBlock(src: ConfigSource, pair: TopPair): number {
  let pos = src.afterLine(src.pairEnd(pair));
  while (pos < src.text.length && src.isCommentLine(pos) && src.indentOf(pos) > src.topColumn) pos = src.nextLineStart(pos);
  return pos;
}

/** End of a commented-out example of `key` (`#key: …` and its `#  - …` continuation lines). */
function placeholderEnd(src: ConfigSource, key: string): number | undefined {
  const re = new RegExp(`^#\\s?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`);
  for (const start of src.lines()) {
    if (!src.isCommentLine(start) || src.indentOf(start) !== src.topColumn) continue;
    if (!re.test(src.lineText(start).trimStart())) continue;
    if (src.map?.items.some((p) => isScalar(p.key) && p.key.range && p.key.range[0] < start && start < src.pairEnd(p))) continue;
    let pos = src.nextLineStart(start);
    while (pos < src.text.length && src.isCommentLine(pos) && /^#(\s{2,}\S|\s*-(\s|$))/.test(src.lineText(pos).trimStart())) {
      pos = src.nextLineStart(pos);
    }
    return pos;
  }
  return undefined;
}

/** The lines of a new `key: value` pair (a block list below the key unless the file prefers flow lists). */
export function renderNewPair(src: ConfigSource, key: string, value: ConfigValue): string[] {
  const style = src.quoteStyle();
  const indent = ' '.repeat(src.topColumn);
  const k = renderScalar(key, 'PLAIN');
  if (!Array.isArray(value)) return [`${indent}${k}: ${renderScalar(value, style)}`];
  if (value.length === 0 || src.prefersFlowLists()) return [`${indent}${k}: ${renderFlow(value, style)}`];
  const itemIndent = indent + ' '.repeat(src.seqIndent());
  return [`${indent}${k}:`, ...value.map((v) => `${itemIndent}- ${renderScalar(v, style)}`)];
}

/** A flow list (`[a, "b"]`) in the given quoting. */
export function renderFlow(values: readonly string[], style: QuoteStyle): string {
  return `[${values.map((v) => renderScalar(v, style, true)).join(', ')}]`;
}

/** A value that fits on the key's line: a scalar, or a flow list. */
export function renderInline(value: ConfigValue, style: QuoteStyle): string {
  return Array.isArray(value) ? renderFlow(value, style) : renderScalar(value, style);
}

/** The node's own quoting, or the file's when the node is a block scalar. */
export function styleOf(node: Scalar, fallback: QuoteStyle): QuoteStyle {
  return node.type === 'PLAIN' || node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? node.type : fallback;
}

/** A range end without trailing whitespace and line breaks (block scalars' ranges include them). */
export function trimEnd(text: string, start: number, end: number): number {
  let e = end;
  while (e > start && /[ \t\r\n]/.test(text[e - 1] ?? '')) e--;
  return e;
}

/** Insert whole lines at a line start; at the end of a file without a final newline, keep it without one. */
export function insertLines(src: ConfigSource, pos: number, lines: readonly string[]): Splice {
  const { text, eol } = src;
  if (pos >= text.length && text !== '' && !text.endsWith('\n')) return { start: text.length, end: text.length, text: eol + lines.join(eol) };
  return { start: pos, end: pos, text: lines.map((l) => l + eol).join('') };
}

/** Remove whole lines [start, end); when they end the file without a final newline, keep it without one. */
export function removeLines(src: ConfigSource, start: number, end: number): Splice {
  const { text } = src;
  if (end >= text.length && !text.endsWith('\n') && start > 0) {
    const prev = text[start - 2] === '\r' ? start - 2 : start - 1;
    return { start: prev, end: text.length, text: '' };
  }
  return { start, end, text: '' };
}
