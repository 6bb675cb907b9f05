/**
 * What `-v`…`-vvv` print and `--log FILE` records. Every event goes to the log, as one JSON line
 * with a timestamp, whatever the verbosity; each is printed on stderr from its level on: -v
 * connections, -vv every command per host with its exit code and time (and each read and write),
 * -vvv also the commands' remote stderr. The inventory's secrets are swept out of both (the log is
 * meant to be sent to a colleague).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import type { TransportEvent } from '../transport/traced.js';
import { sweepSecrets } from '../ui/redact.js';

/** Where a printed line goes. */
export type TraceWriter = (line: string) => void;

/** A command's first line, cut to fit a terminal line: the whole script is in the log. */
function shortCommand(command: string): string {
  const first = command.trim().split('\n')[0] ?? '';
  const lines = command.trim().split('\n').length;
  const cut = first.length > 100 ? `${first.slice(0, 100)}…` : first;
  return lines > 1 ? `${cut} (+${lines - 1} lines)` : cut;
}

/** The run's verbosity and log. */
export class Trace {
  private fd: number | undefined;
  private verbosity = 0;
  private secrets: readonly string[] = [];

  constructor(private readonly print: TraceWriter) {}

  /** Opens the log (appending) and sets what is printed. */
  start(options: { logFile?: string; verbosity: number; argv: readonly string[]; version: string }): void {
    this.verbosity = options.verbosity;
    if (options.logFile && this.fd === undefined) this.fd = openSync(options.logFile, 'a', 0o600);
    this.record({ type: 'start', argv: [...options.argv], version: options.version, node: process.version, pid: process.pid });
  }

  /** The secrets to sweep from everything printed or logged from now on. */
  redactSecrets(secrets: readonly string[]): void {
    this.secrets = secrets;
  }

  /** True when events of this level are printed. */
  shows(level: number): boolean {
    return this.verbosity >= level;
  }

  /** Records an event in the log (never printed). */
  record(event: Record<string, unknown> & { type: string }): void {
    if (this.fd === undefined) return;
    const line = sweepSecrets(JSON.stringify({ at: new Date().toISOString(), ...event }), this.secrets);
    writeSync(this.fd, `${line}\n`);
  }

  /** Records an event and prints `line` from verbosity `level` on. */
  event(level: number, event: Record<string, unknown> & { type: string }, line: string): void {
    this.record(event);
    if (this.shows(level)) this.print(sweepSecrets(line, this.secrets));
  }

  /** A line the CLI printed, kept in the log as the person saw it (without colours). */
  output(stream: 'stdout' | 'stderr', text: string): void {
    if (this.fd !== undefined) this.record({ type: 'output', stream, text: stripVTControlCharacters(text) });
  }

  /** A connection attempt's outcome. */
  connect(host: string, detail: { address: string; port: number; user: string; ms: number; error?: string }): void {
    this.event(
      1,
      { type: 'connect', host, ...detail, ok: detail.error === undefined },
      detail.error === undefined
        ? `${host}: connected to ${detail.user}@${detail.address}:${detail.port} in ${detail.ms} ms`
        : `${host}: connect failed after ${detail.ms} ms: ${detail.error}`,
    );
  }

  /** What a transport did. */
  transport(e: TransportEvent): void {
    switch (e.type) {
      case 'command': {
        // Logged in full but bounded: a write's script is long and says nothing the paths do not.
        const logged = { ...e, command: e.command.length > 4000 ? `${e.command.slice(0, 4000)}… (${e.command.length} chars)` : e.command };
        this.event(
          2,
          logged,
          `${e.host}: ${e.sudo ? 'sudo ' : ''}$ ${shortCommand(e.command)} → ${e.error ? `error: ${e.error}` : `exit ${String(e.code)}`} in ${e.ms} ms`,
        );
        if (this.shows(3) && e.stderr.trim() !== '')
          for (const l of e.stderr.trimEnd().split('\n')) this.print(sweepSecrets(`${e.host}:   stderr: ${l}`, this.secrets));
        return;
      }
      case 'read':
        this.event(2, e, `${e.host}: read ${e.path} (${e.error ? `error: ${e.error}` : e.found ? 'found' : 'absent'}) in ${e.ms} ms`);
        return;
      case 'write':
        this.event(2, e, `${e.host}: wrote ${e.done}/${e.paths.length}: ${e.paths.join(', ')}${e.error ? ` (error: ${e.error})` : ''} in ${e.ms} ms`);
        return;
      case 'stat':
        this.event(2, e, `${e.host}: stat ${e.path} in ${e.ms} ms`);
        return;
      case 'forward':
        this.event(2, e, `${e.host}: tunnel to ${e.address}:${e.port}${e.error ? ` failed: ${e.error}` : ''} in ${e.ms} ms`);
        return;
      case 'close':
        this.event(1, e, `${e.host}: disconnected`);
        return;
    }
  }

  /** Closes the log. */
  close(): void {
    if (this.fd === undefined) return;
    this.record({ type: 'end' });
    closeSync(this.fd);
    this.fd = undefined;
  }
}
