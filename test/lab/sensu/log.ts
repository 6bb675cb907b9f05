/**
 * logrus-style JSON logging: one line per entry, keys sorted (Go marshals maps sorted), RFC 3339
 * timestamps, logrus' level names ("warning", not "warn").
 */
import { writeSync } from 'node:fs';
import { rfc3339 } from './go-time.js';
import { shutdown } from './lifecycle.js';

/** Log levels, in logrus order (lower is more severe). */
export const LEVELS = ['panic', 'fatal', 'error', 'warning', 'info', 'debug', 'trace'] as const;
/** One logrus level name. */
export type Level = (typeof LEVELS)[number];

/** Fields attached to a log entry; values are marshalled as JSON. */
export type Fields = Record<string, unknown>;

/**
 * Parses a `log-level` setting the way `logrus.ParseLevel` does.
 * @throws Error with logrus' text for an unknown level.
 */
export function parseLevel(text: string): Level {
  const lower = text.toLowerCase();
  if (lower === 'warn') return 'warning';
  if ((LEVELS as readonly string[]).includes(lower)) return lower as Level;
  throw new Error(`not a valid logrus Level: "${text}"`);
}

let threshold: Level = 'info';

/** Sets the most verbose level that is still written. */
export function setLevel(level: Level): void {
  threshold = level;
}

function write(line: string): void {
  // Synchronous, so the last line before a fatal exit is never lost in a stream buffer.
  let buf = Buffer.from(line, 'utf8');
  for (let attempt = 0; buf.length > 0 && attempt < 1000; attempt++) {
    try {
      buf = buf.subarray(writeSync(1, buf));
    } catch (err) {
      // A full non-blocking pipe: try again; anything else (stdout closed): give up.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}

function errorText(value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}

/** A logger with fixed fields (logrus' `WithFields`), e.g. `{component: "agentd"}`. */
export class Logger {
  constructor(private readonly fields: Fields) {}

  /** A logger with extra fixed fields. */
  with(fields: Fields): Logger {
    return new Logger({ ...this.fields, ...fields });
  }

  /** Writes one entry when `level` passes the threshold. */
  log(level: Level, msg: string, fields: Fields = {}): void {
    if (LEVELS.indexOf(level) > LEVELS.indexOf(threshold)) return;
    const entry: Fields = { ...this.fields, ...fields, level, msg, time: rfc3339() };
    if ('error' in entry) entry.error = errorText(entry.error);
    const sorted = Object.fromEntries(Object.entries(entry).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    write(`${JSON.stringify(sorted)}\n`);
  }

  /** Logs at debug. */
  debug(msg: string, fields?: Fields): void {
    this.log('debug', msg, fields);
  }

  /** Logs at info. */
  info(msg: string, fields?: Fields): void {
    this.log('info', msg, fields);
  }

  /** Logs at warning. */
  warn(msg: string, fields?: Fields): void {
    this.log('warning', msg, fields);
  }

  /** Logs at error. */
  error(msg: string, fields?: Fields): void {
    this.log('error', msg, fields);
  }

  /**
   * Logs at fatal and exits with status 1 after the shutdown hooks ran (logrus' `Fatal`).
   * The returned promise never settles: `return log.fatal(…)` ends the caller's work.
   */
  fatal(msg: string, fields?: Fields): Promise<never> {
    this.log('fatal', msg, fields);
    return shutdown(1);
  }
}
