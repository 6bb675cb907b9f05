/**
 * A parsed Sensu config file that keeps its source text next to the `yaml` Document, with the
 * line arithmetic and style detection the comment-preserving patcher needs. The patcher never
 * re-stringifies the document: it reads node ranges here and splices text into the original.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, Scalar, stringify, visit } from 'yaml';
import type { Document, Pair, ParsedNode, YAMLMap } from 'yaml';
import { InputError } from '../errors.js';

/** The quoting styles a new string value can be written in. */
export type QuoteStyle = 'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE';

/** A top-level `key: value` entry of the config. */
export type TopPair = Pair<ParsedNode, ParsedNode | null>;

/**
 * Parse options shared by every reader: YAML merge keys (`<<: *base`) on, because Sensu reads its
 * files with Go's yaml, which honours them; duplicate keys are errors, because Go would keep one of
 * them silently and the operator would not know which.
 */
const PARSE_OPTIONS = { merge: true, uniqueKeys: true, prettyErrors: true } as const;

/** Parse YAML text, or throw an InputError naming the file and the line of every problem. */
export function parseYaml(text: string, file: string): Document.Parsed {
  const doc = parseDocument(text, PARSE_OPTIONS);
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const at = e.linePos?.[0];
      const where = at ? `${file}:${at.line}:${at.col}` : file;
      if (e.code === 'DUPLICATE_KEY') {
        const dup = duplicateOf(doc, text, e.pos[0]);
        return `${where}: duplicate key "${dup.key}"${dup.firstLine === undefined ? '' : ` (first set at line ${dup.firstLine})`}`;
      }
      // yaml's messages end with " at line N, column M:" and a source excerpt: keep the first part.
      const msg = e.message.split(/ at line \d+, column \d+:?/)[0] ?? e.message;
      return `${where}: ${msg.trim()}`;
    });
    throw new InputError(`${file}: not valid YAML`, issues, {
      place: { file },
      hint: 'fix the file by hand; rollout only edits files it can parse unambiguously',
    });
  }
  return doc;
}

/** The duplicated key found at `pos`, and the 1-based line of its first occurrence in the same mapping. */
function duplicateOf(doc: Document.Parsed, text: string, pos: number): { key: string; firstLine?: number } {
  let found: { key: string; firstLine?: number } = { key: text.slice(pos, text.indexOf(':', pos)).trim() || '?' };
  visit(doc, {
    Map: (_k, map) => {
      const dup = map.items.find((p) => isScalar(p.key) && p.key.range?.[0] === pos);
      if (!dup || !isScalar(dup.key)) return undefined;
      const name = dup.key.value;
      const first = map.items.find((p) => isScalar(p.key) && p.key.value === name);
      const at = first && isScalar(first.key) ? first.key.range?.[0] : undefined;
      found = { key: String(name) };
      if (at !== undefined && at !== pos) found.firstLine = text.slice(0, at).split('\n').length;
      return visit.BREAK;
    },
  });
  return found;
}

/** Parsed text plus its lines, the top-level map, and how the file likes to be written. */
export class ConfigSource {
  /**
   * Parsed sources by file and text. A run reads each host's config many times over (current
   * health, the effective config, each edit of the patch, its check): parsing is most of a dry
   * run's CPU on a big fleet, and a ConfigSource is never changed once made, so one parse serves all.
   */
  private static readonly cache = new Map<string, ConfigSource>();
  private static readonly cacheSize = 2048;
  /** The same sources by text alone (the last one made of each text), for `documentOf`. */
  private static readonly byText = new Map<string, ConfigSource>();

  /** The source of `text`, parsed once per process. */
  static of(text: string, file: string): ConfigSource {
    const key = `${file}\0${text}`;
    const hit = ConfigSource.cache.get(key);
    if (hit) return hit;
    const src = new ConfigSource(text, file);
    if (ConfigSource.cache.size >= ConfigSource.cacheSize) {
      const oldest = ConfigSource.cache.keys().next().value;
      if (oldest !== undefined) {
        const gone = ConfigSource.cache.get(oldest);
        ConfigSource.cache.delete(oldest);
        if (gone && ConfigSource.byText.get(gone.text) === gone) ConfigSource.byText.delete(gone.text);
      }
    }
    ConfigSource.cache.set(key, src);
    ConfigSource.byText.set(text, src);
    return src;
  }

  /**
   * The document of `text` when this process parsed it already (without errors: a source is only
   * made of a text that parses), else undefined. Read it, never change it: it is shared.
   */
  static documentOf(text: string): Document.Parsed | undefined {
    return ConfigSource.byText.get(text)?.doc;
  }

  /** The document. */
  readonly doc: Document.Parsed;
  /** The top-level map; undefined when the file holds only comments or nothing at all. */
  readonly map: YAMLMap.Parsed | undefined;
  /** Line ending the file uses (the majority; `\n` for a new file). */
  readonly eol: '\n' | '\r\n';
  /** Column of the top-level keys (0 in every real config, but an indented file stays indented). */
  readonly topColumn: number;
  private readonly lineStarts: number[];
  private readonly multiLineScalars: [number, number][] = [];

  constructor(
    /** The file's text. */
    readonly text: string,
    /** The file name, for error messages. */
    readonly file: string,
  ) {
    this.doc = parseYaml(text, file);
    this.lineStarts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
    const crlf = text.split('\r\n').length - 1;
    const lf = this.lineStarts.length - 1 - crlf;
    this.eol = crlf > lf ? '\r\n' : '\n';
    this.map = this.topMap();
    const first = this.map?.items[0]?.key;
    this.topColumn = first && isScalar(first) && first.range ? this.columnOf(first.range[0]) : 0;
    visit(this.doc, {
      Scalar: (_k, node) => {
        const r = node.range;
        if (r && text.slice(r[0], r[1]).includes('\n')) this.multiLineScalars.push([r[0], r[1]]);
      },
    });
  }

  private topMap(): YAMLMap.Parsed | undefined {
    const c = this.doc.contents;
    if (c === null) return undefined;
    // A document with only `---` or only comments parses as an empty plain scalar: no settings yet.
    if (isScalar(c) && c.value === null && c.source === '') return undefined;
    const line = this.lineOf(c.range[0]) + 1;
    if (!isMap(c)) {
      const found = isSeq(c) ? 'a list' : isAlias(c) ? 'an alias' : 'a single value';
      throw new InputError(
        `${this.file}: expected settings (key: value) at the top level`,
        [`${this.file}:${line}: expected a mapping of settings at the top level, found ${found}`],
        { place: { file: this.file } },
      );
    }
    if (c.flow) {
      throw new InputError(
        `${this.file}: settings written as one flow mapping ({…}) are not supported`,
        [`${this.file}:${line}: top-level flow mapping; rewrite it as one "key: value" per line`],
        { place: { file: this.file } },
      );
    }
    return c;
  }

  /** The top-level entry for `key`, or undefined. Merge keys (`<<`) are not entries. */
  pair(key: string): TopPair | undefined {
    return this.map?.items.find((p) => isScalar(p.key) && p.key.value === key);
  }

  /** The document as plain data (aliases and merges resolved), `{}` when empty. */
  values(): Record<string, unknown> {
    // A copy each time: callers may change what they get, the source stays as parsed.
    this.js ??= this.toJS();
    return structuredClone(this.js);
  }

  private js: Record<string, unknown> | undefined;

  private toJS(): Record<string, unknown> {
    let js: unknown;
    try {
      js = this.doc.toJS();
    } catch (e) {
      // yaml refuses documents whose aliases expand exponentially ("billion laughs").
      throw new InputError(`${this.file}: ${e instanceof Error ? e.message : String(e)}`, [], { place: { file: this.file }, cause: e });
    }
    return js !== null && typeof js === 'object' && !Array.isArray(js) ? (js as Record<string, unknown>) : {};
  }

  /** 0-based line index of a position. */
  lineOf(pos: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Position where the line holding `pos` starts. */
  lineStart(pos: number): number {
    return this.lineStarts[this.lineOf(pos)] ?? 0;
  }

  /** Position of the line ending (`\r\n` or `\n`) of the line holding `pos`, or the text length. */
  lineEnd(pos: number): number {
    const nl = this.text.indexOf('\n', pos);
    if (nl < 0) return this.text.length;
    return nl > 0 && this.text[nl - 1] === '\r' ? nl - 1 : nl;
  }

  /** Start of the line after the one holding `pos`, or the text length on the last line. */
  nextLineStart(pos: number): number {
    const nl = this.text.indexOf('\n', pos);
    return nl < 0 ? this.text.length : nl + 1;
  }

  /**
   * Where the line after a node ends up: node ranges sometimes end after the newline (block
   * collections and block scalars) and sometimes before it, so normalise to "start of next line".
   */
  afterLine(end: number): number {
    if (end > 0 && this.text[end - 1] === '\n') return end;
    return this.nextLineStart(end);
  }

  /** Column of a position (a leading BOM does not count). */
  columnOf(pos: number): number {
    const start = this.lineStart(pos);
    return pos - start - (start === 0 && this.text.startsWith('\uFEFF') ? 1 : 0);
  }

  /** Start positions of every line. */
  lines(): readonly number[] {
    return this.lineStarts;
  }

  /** Text of the line starting at `start`, without its line ending. */
  lineText(start: number): string {
    return this.text.slice(start, this.lineEnd(start));
  }

  /** True when the line starting at `start` is a comment, not text inside a multi-line scalar. */
  isCommentLine(start: number): boolean {
    if (!this.lineText(start).trimStart().startsWith('#')) return false;
    return !this.multiLineScalars.some(([a, b]) => start > a && start < b);
  }

  /** Indentation (in columns) of the line starting at `start`. */
  indentOf(start: number): number {
    const t = this.lineText(start).replace(/^\uFEFF/, '');
    return t.length - t.trimStart().length;
  }

  /** Position just after the `:` that follows a pair's key. */
  afterColon(pair: TopPair): number {
    const key = pair.key;
    let i = isScalar(key) && key.range ? key.range[1] : 0;
    while (i < this.text.length && this.text[i] !== ':') i++;
    return i + 1;
  }

  /** Where a top-level pair's text ends (the end of its value, or of its key when it has none). */
  pairEnd(pair: TopPair): number {
    const keyEnd = isScalar(pair.key) && pair.key.range ? pair.key.range[1] : 0;
    const v = pair.value;
    return Math.max(keyEnd, this.afterColon(pair), v ? v.range[1] : 0);
  }

  /**
   * The quoting style the file uses for string values (keys don't count): the most common one,
   * with double quotes winning ties and standing in when the file has no strings yet, as Sensu's
   * packaged files quote their strings that way.
   */
  quoteStyle(): QuoteStyle {
    const count: Record<QuoteStyle, number> = { PLAIN: 0, QUOTE_DOUBLE: 0, QUOTE_SINGLE: 0 };
    visit(this.doc, {
      Scalar: (key, node) => {
        if (key === 'key' || typeof node.value !== 'string') return;
        if (node.type === 'PLAIN' || node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') count[node.type]++;
      },
    });
    const order: QuoteStyle[] = ['QUOTE_DOUBLE', 'QUOTE_SINGLE', 'PLAIN'];
    return order.reduce((best, s) => (count[s] > count[best] ? s : best), 'QUOTE_DOUBLE');
  }

  /** How far block-list items sit right of their key (`key:\n  - a` → 2), 2 when the file has none. */
  seqIndent(): number {
    for (const p of this.map?.items ?? []) {
      const v = p.value;
      if (isSeq(v) && !v.flow && isScalar(p.key) && p.key.range) {
        return Math.max(0, this.columnOf(v.range[0]) - this.columnOf(p.key.range[0]));
      }
    }
    return 2;
  }

  /** True when the file writes its top-level lists as flow sequences (`[a, b]`) more than as blocks. */
  prefersFlowLists(): boolean {
    let flow = 0;
    let block = 0;
    for (const p of this.map?.items ?? []) {
      if (isSeq(p.value)) {
        if (p.value.flow) flow++;
        else block++;
      }
    }
    return flow > block;
  }

  /** Top-level key a node path lies under, or undefined. */
  static topKeyOf(path: readonly unknown[]): string | undefined {
    const pair = path.find((n, i) => isPair(n) && i === 2);
    if (isPair(pair) && isScalar(pair.key)) return String(pair.key.value);
    return undefined;
  }
}

/**
 * A scalar as YAML source in the given style. Numbers and booleans are always plain; strings fall
 * back to double quotes when the style cannot hold them (a newline, or a character that would end
 * a plain scalar inside `[ ]`).
 */
export function renderScalar(value: string | number | boolean, style: QuoteStyle, inFlow = false): string {
  if (typeof value !== 'string') return String(value);
  let type: QuoteStyle = style;
  // eslint-disable-next-line no-control-regex -- control characters only survive in double quotes
  if (/[\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(value)) type = 'QUOTE_DOUBLE';
  else if (type === 'PLAIN' && inFlow && /[,[\]{}]/.test(value)) type = 'QUOTE_DOUBLE';
  const node = new Scalar(value);
  node.type = type;
  // lineWidth 0: never fold a long value over several lines, as that would touch extra lines.
  return stringify(node, { lineWidth: 0, minContentWidth: 0 }).replace(/\n$/, '');
}
