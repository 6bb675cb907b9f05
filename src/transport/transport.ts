/**
 * The one interface rollout uses to touch a host. Everything above it (facts, modules, gates) is
 * written against this, and only ssh.ts knows it is SSH.
 */
import type { Duplex } from 'node:stream';

/** Result of a command on a host. */
export interface RunResult {
  /** Exit status (null when the command was killed by a signal). */
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Options of `Transport.run`. */
export interface RunOptions {
  /** Run as root through sudo (the become password, if any, is sent over stdin, never argv). */
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

/** Options of `writeFileAtomic`. */
export interface WriteOptions {
  /** Permission bits of the new file. */
  mode: number;
  owner: string;
  group: string;
  /**
   * Before replacing, copy the current file (owner and mode kept) to this path on the host. The
   * copy and the write are one command: a file is never replaced without its backup.
   */
  backupTo?: string;
  /**
   * Refuse (exit status 65) unless the current file has this sha256, or, when null, unless there is
   * no file: the host changed since the plan was made, and the plan is no longer what was shown.
   */
  expectSha256?: string | null;
}

/** What a connection has carried so far. */
export interface TransportStats {
  /** Commands run (each `run`, `readFile`, `stat` and `writeFileAtomic` is one). */
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
   * Replaces a file atomically as root: a temp file in the same directory, fsync, chown/chmod,
   * rename, so a reader sees the old file or the new one, never half of one.
   */
  writeFileAtomic(path: string, content: Buffer | string, options: WriteOptions): Promise<void>;
  /** Stats a path as root; undefined when it does not exist. */
  stat(path: string): Promise<RemoteStat | undefined>;
  /** A TCP stream to `address:port` as dialled from the host itself (SSH port forwarding). */
  forward(address: string, port: number): Promise<Duplex>;
  /** Commands and bytes so far (readable after close too). */
  stats(): TransportStats;
  /** Closes the connection (idempotent). */
  close(): Promise<void>;
}
