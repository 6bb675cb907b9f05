/**
 * The one interface rollout uses to touch a host. Everything above it (facts, modules, gates) is
 * written against this, and only ssh.ts knows it is SSH.
 */
import type { Duplex } from 'node:stream';
import type { WriteItem } from './write-script.js';

/** Result of a command on a host. */
export interface RunResult {
  /** Exit status (null when the command was killed by a signal). */
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Options of `Transport.run`. */
export interface RunOptions {
  /**
   * Run as root through sudo (the become password, if any, is sent over stdin, never argv); from a
   * host's second such command on, in its one root shell (root-session.ts), the script and stdin
   * over that shell's stdin.
   */
  sudo?: boolean;
  /** Data for the command's stdin. */
  stdin?: Buffer | string;
  /** Per-command deadline; the channel is closed and a RemoteCommandError thrown when it passes. */
  timeoutMs?: number;
}

/** What `stat` tells about a file on a host. */
export interface RemoteStat {
  /** Permission bits, e.g. 0o640. */
  mode: number;
  owner: string;
  group: string;
  size: number;
  isDirectory: boolean;
}

/** What `writeAll` made: the first `done` items; `error` says why the next one was not. */
export interface WriteOutcome {
  done: number;
  error?: Error;
}

/** What a connection has carried so far. */
export interface TransportStats {
  /** Commands run (each `run`, `readFile`, `stat` and `writeAll` is one). */
  commands: number;
  /** Bytes written to and read from the TCP socket (encrypted SSH traffic, handshake included). */
  bytesSent: number;
  bytesReceived: number;
}

/** One connection to one host, reused for every command and file of a run. */
export interface Transport {
  /** Inventory name of the host. */
  readonly host: string;
  /** Runs a shell command line. Never throws for a non-zero exit: callers read `code`. */
  run(command: string, options?: RunOptions): Promise<RunResult>;
  /** Reads a file as root; undefined when it does not exist. */
  readFile(path: string): Promise<Buffer | undefined>;
  /**
   * Writes files and directories as root, in order, in one command. Each file is replaced
   * atomically: a temp file in the same directory, fsync, chown/chmod, rename, so a reader sees the
   * old file or the new one, never half of one; with `backupTo`, the old one is copied first. Stops
   * at the first that fails: `done` items were made, the failing one was not (its file is left as
   * it was, at most backed up) and those after it were never tried. Throws only when the command ended without
   * an exit status (connection lost, timeout): then what it made is not known.
   */
  writeAll(items: readonly WriteItem[]): Promise<WriteOutcome>;
  /** Stats a path as root; undefined when it does not exist. */
  stat(path: string): Promise<RemoteStat | undefined>;
  /** A TCP stream to `address:port` as dialled from the host itself (SSH port forwarding). */
  forward(address: string, port: number): Promise<Duplex>;
  /** Commands and bytes so far (readable after close too). */
  stats(): TransportStats;
  /** Closes the connection (idempotent). */
  close(): Promise<void>;
}
