/**
 * The environment files the packaged units load (`EnvironmentFile=-/etc/default/sensu-agent`,
 * `/etc/sysconfig/sensu-backend`, …): parsed the way systemd parses them, and patched without
 * disturbing anything else.
 *
 * systemd is not a shell, and the differences matter for what Sensu really sees:
 * - `#` and `;` start a comment only at the beginning of a line; `KEY=a # b` has the value `a # b`.
 * - `export KEY=value` is NOT an assignment to systemd (the name would be `export KEY`, which is
 *   invalid, so the line is ignored). Such lines are reported and do not count.
 * - unquoted values keep inner spaces (`KEY=ws://a ws://b` is one value with a space); trailing
 *   spaces are dropped. `"…"` understands `\"`, `\\`, `` \` ``, `\$` and keeps other backslashes;
 *   `'…'` is literal; a quoted part can be followed by more (`"b c"d` is `b cd`), but quotes
 *   inside an unquoted value are literal (`a"b"` is `a"b"`); a backslash at the end continues the line.
 * - a later assignment of the same name wins.
 * The state machine below follows systemd's parse_env_file_internal() (src/basic/env-file.c).
 */
import { InputError } from '../errors.js';
import { rewriteSchemes } from './urls.js';

/** One `NAME=value` assignment as written. */
export interface EnvAssignment {
  /** The name (before `=`, trimmed). */
  name: string;
  /** The value systemd passes on. */
  value: string;
  /** 1-based line where the assignment starts. */
  line: number;
  /** Offset where its line starts. */
  start: number;
  /** Offset where it ends (before the line ending). */
  end: number;
  /** Offset where the value as written starts (its opening quote, if any). */
  valueStart: number;
  /** Offset just after the value as written (after its closing quote; trailing blanks excluded). */
  valueEnd: number;
  /** False when systemd ignores the line (invalid name, `export`). */
  applied: boolean;
  /** Why it is ignored. */
  problem?: string;
}

/** A parsed environment file. */
export interface EnvFile {
  /** Every assignment line, in order, including ignored ones. */
  assignments: EnvAssignment[];
  /** The assignment that counts for each name (the last applied one). */
  vars: Record<string, EnvAssignment>;
  /** Lines systemd ignores or misreads, each naming file and line. */
  warnings: string[];
}

const WHITESPACE = ' \t\n\r';
const NEWLINE = '\n\r';
const COMMENTS = '#;';
const SHELL_NEED_ESCAPE = '"\\`$';
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

type State = 'preKey' | 'key' | 'preValue' | 'value' | 'valueEscape' | 'single' | 'double' | 'doubleEscape' | 'comment' | 'commentEscape';

/** Parse an environment file as systemd does; undefined or '' gives an empty file. */
export function parseEnvFile(text: string | undefined, file: string): EnvFile {
  const src = text ?? '';
  const assignments: EnvAssignment[] = [];
  const warnings: string[] = [];
  let state: State = 'preKey';
  let line = 1;
  let key = '';
  let value = '';
  let start = 0;
  let startLine = 1;
  let valueStart = -1;
  let valueEnd = -1;
  // Length of `value` up to its last non-blank character (systemd chomps trailing blanks).
  let keep = 0;

  const push = (end: number): void => {
    const name = key.trim();
    const a: EnvAssignment = {
      name,
      value: value.slice(0, keep),
      line: startLine,
      start,
      end,
      valueStart: valueStart < 0 ? end : valueStart,
      valueEnd: valueEnd < 0 ? end : valueEnd,
      applied: true,
    };
    const exported = /^export\s+([A-Za-z_][A-Za-z0-9_]*)$/.exec(name);
    if (exported) {
      a.applied = false;
      a.problem = `systemd ignores "export ${exported[1] ?? ''}=…" in an EnvironmentFile (write ${exported[1] ?? ''}=… without export)`;
    } else if (!NAME_RE.test(name)) {
      a.applied = false;
      a.problem = `"${name}" is not a valid variable name; systemd ignores the line`;
    }
    if (a.problem) warnings.push(`${file}:${a.line}: ${a.problem}`);
    assignments.push(a);
  };
  const reset = (): void => {
    key = '';
    value = '';
    keep = 0;
    valueStart = -1;
    valueEnd = -1;
  };
  const add = (c: string, at: number, blank = false): void => {
    if (valueStart < 0) valueStart = at;
    value += c;
    if (!blank) {
      keep = value.length;
      valueEnd = at + 1;
    }
  };

  for (let i = 0; i < src.length; i++) {
    const c = src[i] ?? '';
    switch (state) {
      case 'preKey':
        if (COMMENTS.includes(c)) state = 'comment';
        else if (!WHITESPACE.includes(c)) {
          state = 'key';
          reset();
          start = src.lastIndexOf('\n', i - 1) + 1;
          startLine = line;
          key = c;
        }
        break;
      case 'key':
        if (NEWLINE.includes(c)) {
          warnings.push(`${file}:${line}: "${key.trim()}" has no "="; systemd ignores the line`);
          state = 'preKey';
        } else if (c === '=') state = 'preValue';
        else key += c;
        break;
      case 'preValue':
        if (NEWLINE.includes(c)) {
          push(i);
          state = 'preKey';
        } else if (c === "'") {
          if (valueStart < 0) valueStart = i;
          state = 'single';
        } else if (c === '"') {
          if (valueStart < 0) valueStart = i;
          state = 'double';
        } else if (c === '\\') {
          if (valueStart < 0) valueStart = i;
          state = 'valueEscape';
        } else if (!WHITESPACE.includes(c)) {
          add(c, i);
          state = 'value';
        }
        break;
      case 'value':
        if (NEWLINE.includes(c)) {
          push(i);
          state = 'preKey';
        } else if (c === '\\') state = 'valueEscape';
        else add(c, i, WHITESPACE.includes(c));
        break;
      case 'valueEscape':
        state = 'value';
        // An escaped newline is eaten: the value continues on the next line.
        if (!NEWLINE.includes(c)) add(c, i);
        else valueEnd = i + 1;
        break;
      case 'single':
        if (c === "'") {
          state = 'preValue';
          keep = value.length;
          valueEnd = i + 1;
        } else value += c;
        break;
      case 'double':
        if (c === '"') {
          state = 'preValue';
          keep = value.length;
          valueEnd = i + 1;
        } else if (c === '\\') state = 'doubleEscape';
        else value += c;
        break;
      case 'doubleEscape':
        state = 'double';
        if (SHELL_NEED_ESCAPE.includes(c)) value += c;
        else if (c !== '\n') value += `\\${c}`;
        break;
      case 'comment':
        if (c === '\\') state = 'commentEscape';
        else if (NEWLINE.includes(c)) state = 'preKey';
        break;
      case 'commentEscape':
        state = NEWLINE.includes(c) ? 'preKey' : 'comment';
        break;
    }
    if (c === '\n') line++;
  }
  if (state === 'preValue' || state === 'value' || state === 'valueEscape' || state === 'single' || state === 'double' || state === 'doubleEscape') {
    if (state === 'single' || state === 'double' || state === 'doubleEscape') {
      warnings.push(`${file}:${startLine}: unterminated quote; systemd takes the rest of the file as the value`);
      keep = value.length;
    }
    push(src.length);
  }
  const vars: Record<string, EnvAssignment> = {};
  for (const a of assignments) if (a.applied) vars[a.name] = a;
  return { assignments, vars, warnings };
}

/** One change to an environment file. */
export type EnvEdit =
  /** Make `name` hold `value` (the last assignment is rewritten, or a line is added). */
  | { op: 'set'; name: string; value: string }
  /** Delete every assignment of `name`. */
  | { op: 'unset'; name: string }
  /** Change `from://` to `to://` in every URL of `name`'s value, keeping the rest as written. */
  | { op: 'scheme'; name: string; from: string; to: string };

/** The outcome of patchEnvFile. */
export interface EnvPatchResult {
  /** New text (the input when nothing changed; '' for a missing file left alone). */
  text: string;
  /** True when there is something to write. */
  changed: boolean;
  /** Variables whose values changed. Raw: redact before showing. */
  changes: { name: string; before: string | undefined; after: string | undefined }[];
  /** Things worth telling the operator. */
  notes: string[];
}

/** The first line of an environment file rollout creates. */
export const ENV_CREATED_HEADER = '# Written by rollout: this file was missing or empty.';

type Quote = 'double' | 'single' | 'bare';

/**
 * Apply edits to an environment file's text, touching only the values that change: quotes,
 * `export`-free layout, comments and line endings stay as they are.
 * @throws InputError when a value cannot be written (a newline in it)
 */
export function patchEnvFile(text: string | undefined, edits: readonly EnvEdit[], file: string): EnvPatchResult {
  const input = text ?? '';
  const blank = input.trim() === '';
  let current = blank ? '' : input;
  const eol = input.includes('\r\n') ? '\r\n' : '\n';
  const notes: string[] = [];
  for (const edit of edits) {
    const env = parseEnvFile(current, file);
    const mine = env.assignments.filter((a) => a.applied && a.name === edit.name);
    const lastOne = mine[mine.length - 1];
    if (edit.op === 'scheme') {
      for (const a of [...mine].reverse()) {
        const raw = current.slice(a.valueStart, a.valueEnd);
        const rewritten = rewriteSchemes(raw, edit.from, edit.to);
        if (rewritten !== raw) current = current.slice(0, a.valueStart) + rewritten + current.slice(a.valueEnd);
      }
      if (mine.length === 0) notes.push(`${file}: ${edit.name} is not set; nothing to rewrite`);
    } else if (edit.op === 'unset') {
      for (const a of [...mine].reverse()) current = removeLine(current, a);
    } else {
      if (/[\r\n]/.test(edit.value)) {
        throw new InputError(`${file}: ${edit.name} cannot hold a line break`, [], { place: { file } });
      }
      if (lastOne?.value === edit.value) continue;
      if (lastOne) {
        const quoted = quoteEnv(edit.value, quoteOf(current.slice(lastOne.valueStart, lastOne.valueEnd)));
        current = current.slice(0, lastOne.valueStart) + quoted + current.slice(lastOne.valueEnd);
      } else {
        const ignored = env.assignments.find((a) => !a.applied && a.name.endsWith(edit.name));
        if (ignored) notes.push(`${file}:${ignored.line}: left the ignored "${ignored.name}=…" line alone and added ${edit.name}=…`);
        const line = `${edit.name}=${quoteEnv(edit.value, fileQuote(current, env))}`;
        current = current === '' || current.endsWith('\n') ? `${current}${line}${eol}` : `${current}${eol}${line}`;
      }
    }
  }
  if (blank) {
    if (current === '') return { text: input, changed: false, changes: [], notes };
    current = `${ENV_CREATED_HEADER}${eol}${current}`;
  }
  if (current === input) return { text: input, changed: false, changes: [], notes };
  return { text: current, changed: true, changes: envChanges(input, current, edits, file), notes };
}

function envChanges(before: string, after: string, edits: readonly EnvEdit[], file: string): EnvPatchResult['changes'] {
  const a = parseEnvFile(before, file).vars;
  const b = parseEnvFile(after, file).vars;
  const out: EnvPatchResult['changes'] = [];
  for (const name of new Set(edits.map((e) => e.name))) {
    const x = a[name]?.value;
    const y = b[name]?.value;
    if (x !== y) out.push({ name, before: x, after: y });
  }
  for (const e of edits) {
    const got = b[e.name]?.value;
    const ok = e.op === 'set' ? got === e.value : e.op === 'unset' ? got === undefined : got === undefined || got === rewriteSchemes(got, e.from, e.to);
    if (!ok) throw new Error(`internal: patching ${file} did not give ${e.name} the value asked for`);
  }
  return out;
}

/** Remove an assignment's whole line(s); the last line of a file keeps its lack of a final newline. */
function removeLine(text: string, a: EnvAssignment): string {
  const nl = text.indexOf('\n', a.end);
  if (nl >= 0) return text.slice(0, a.start) + text.slice(nl + 1);
  const prev = a.start > 0 ? (text[a.start - 2] === '\r' ? a.start - 2 : a.start - 1) : 0;
  return text.slice(0, prev);
}

function quoteOf(raw: string): Quote {
  if (raw.startsWith('"')) return 'double';
  if (raw.startsWith("'")) return 'single';
  return 'bare';
}

/** The quoting most values in the file use; double quotes when there are none. */
function fileQuote(text: string, env: EnvFile): Quote {
  const n: Record<Quote, number> = { double: 0, single: 0, bare: 0 };
  for (const a of env.assignments) if (a.valueEnd > a.valueStart) n[quoteOf(text.slice(a.valueStart, a.valueEnd))]++;
  return n.single > n.double && n.single >= n.bare ? 'single' : n.bare > n.double && n.bare > n.single ? 'bare' : 'double';
}

/** A value as systemd (and a shell sourcing the file) reads it back unchanged. */
function quoteEnv(value: string, quote: Quote): string {
  if (quote === 'bare' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  if (quote === 'single' && !value.includes("'")) return `'${value}'`;
  return `"${value.replace(/["\\`$]/g, '\\$&')}"`;
}
