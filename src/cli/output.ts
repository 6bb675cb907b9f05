/**
 * Where the CLI's words go. Commands write through an Output so tests can capture it, colour
 * follows the conventions (NO_COLOR, FORCE_COLOR, a terminal), and nothing else in rollout writes
 * to stdout or stderr.
 */
import { stripVTControlCharacters } from 'node:util';
import type { JsonCommand, JsonDocument } from './json-schemas.js';
import { Trace } from './trace.js';

/** Styles the CLI uses. */
export type Style = 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold';

// Plain SGR codes rather than util.styleText: from Node 22 on, styleText checks stdout itself and
// would drop stderr's colours whenever stdout is piped.
const SGR: Record<Style, [number, number]> = { red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39], dim: [2, 22], bold: [1, 22] };

/**
 * True when colour should be used on this stream, by Node's rules: FORCE_COLOR wins ('', 1, 2, 3
 * or true turn colour on, anything else off), then NO_COLOR, then a terminal that is not dumb.
 */
export function colorWanted(stream: { isTTY?: boolean }): boolean {
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) return ['', '1', '2', '3', 'true'].includes(force);
  if ('NO_COLOR' in process.env && process.env.NO_COLOR !== '') return false;
  return stream.isTTY === true && process.env.TERM !== 'dumb';
}

/** The CLI's printer. */
export class Output {
  /** Colour on stdout (what renderers of stdout content ask). */
  readonly color: boolean;
  /** Colour on stderr, decided apart: `rollout … 2>log` on a terminal keeps stdout coloured, the log plain. */
  readonly colorErr: boolean;
  /** Under --json: the one document this invocation prints, filled by the command, printed by the CLI entry. */
  private doc: Record<string, unknown> | undefined;
  /** -v…-vvv and --log: events printed on stderr by level, and every event and line in the log. */
  readonly trace: Trace;
  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly err: NodeJS.WritableStream = process.stderr,
    color = colorWanted(process.stdout),
    colorErr = colorWanted(process.stderr),
  ) {
    this.color = color;
    this.colorErr = colorErr;
    this.trace = new Trace((line) => this.err.write(`${line}\n`));
  }

  /** Colours text when either stream takes colour; each stream drops the codes it does not want. */
  style(style: Style, text: string): string {
    if (!this.color && !this.colorErr) return text;
    const [on, off] = SGR[style];
    return `\u001b[${on}m${text}\u001b[${off}m`;
  }

  /** A line on stdout (results). */
  line(text = ''): void {
    this.trace.output('stdout', text);
    this.out.write(`${this.color ? text : stripVTControlCharacters(text)}\n`);
  }

  /** A line on stderr (progress, warnings, errors). */
  note(text: string): void {
    this.trace.output('stderr', text);
    this.err.write(`${this.colorErr ? text : stripVTControlCharacters(text)}\n`);
  }

  /** Raw text on stdout. */
  write(text: string): void {
    this.trace.output('stdout', text);
    this.out.write(this.color ? text : stripVTControlCharacters(text));
  }

  /** Collects this invocation's results into one JSON document (--json) instead of printing them. */
  startJson(): void {
    this.doc ??= {};
  }

  /** Adds fields to the --json document (a command's parts arrive as it goes: plan, result, stats). */
  json<C extends JsonCommand>(_command: C, fields: JsonDocument<C>): void {
    if (!this.doc) throw new Error('Output.json() called without --json');
    Object.assign(this.doc, fields);
  }

  /** Adds why the command failed to the --json document (every command's document has `error`). */
  jsonError(error: NonNullable<JsonDocument<JsonCommand>['error']>): void {
    if (this.doc) this.doc.error = error;
  }

  /** Prints the --json document, once; nothing when not under --json. */
  flushJson(): void {
    if (!this.doc) return;
    this.line(JSON.stringify(this.doc, null, 2));
    this.doc = undefined;
  }
}

/** Lays out rows as aligned columns (no library needed for plain padding). */
export function table(rows: readonly (readonly string[])[], visibleLength: (s: string) => number = (s) => stripVTControlCharacters(s).length): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
