/**
 * One root shell per host, held for the run, as mitogen does for Ansible: every `sudo` of a real
 * run after the first would otherwise cost a new SSH channel, a login shell, sudo (PAM, logging)
 * and a shell on the host. The shell is started once through the become protocol (sudo.ts), and
 * then reads commands from its stdin, one frame at a time.
 *
 * The protocol, kept small enough to check by reading the driver below:
 *
 * - The session key, 128 random bits, is the first line the controller sends once the shell runs
 *   as root. It never appears in a process list (it is not in argv), and no command can read it
 *   (a shell variable, never exported, cleared with the script's own text before each command
 *   runs). Commands' scripts come over stdin too: they are not in any process list either.
 * - Each command is a frame: a header line `KEY SEQ SCRIPT_BYTES STDIN_BYTES`, the script followed
 *   by a `#KEY` line, then the command's stdin. The driver reads the header with `read` (one byte
 *   at a time from a pipe, so never past the line) and the script and stdin with `head -c N`
 *   (GNU head reads at most N bytes), so the stream stays in step whatever a command does.
 * - A header without the key, or a script that does not end with `#KEY` (the stream ended
 *   mid-frame), stops the shell: nothing truncated is ever run as root.
 * - The command runs in a subshell (`set -e`, traps, `exit`, umask and cd stay its own) with its
 *   stdin from /dev/null, or from `head -c N` with whatever it leaves unread drained after it: it
 *   never reads the control stream, so it cannot eat the next command.
 * - The driver prints `KEY SEQ run` on stdout before the command starts, and after it ends
 *   `KEY SEQ end` on stderr and `KEY SEQ end STATUS` on stdout. Output between the two stdout
 *   markers is the command's stdout, output before the stderr marker its stderr (the SSH channel
 *   keeps the two streams apart, and does not order one against the other: both markers are
 *   awaited). Output may be binary and may lack a final newline: the markers are found by bytes,
 *   and a command cannot print one without knowing the key.
 * - A session that dies before `run` came for a command never started it: the caller may retry
 *   that command on a new session. After `run`, its outcome on the host is unknown.
 */
import { randomBytes } from 'node:crypto';
import type { RunResult } from './transport.js';

/** The shell text the root shell runs (its argv holds no secret: the key comes over stdin). */
export const SESSION_DRIVER = [
  // `k` the key, `q` the command's number, `n`/`m` the byte counts, `s` the script, `r` its status.
  'IFS= read -r k || exit 0',
  'while IFS=" " read -r h q n m; do',
  '  [ "$h" = "$k" ] || exit 70',
  '  s=$(head -c "$n")',
  '  case $s in *"#$k") ;; *) exit 71 ;; esac',
  '  s=${s%"#$k"}',
  '  printf "%s %s run\\n" "$k" "$q"',
  // The subshell forgets the driver's variables before the script runs, the key above all, and
  // the script itself: `eval "shift; $1"` takes its text before `shift` drops it.
  '  if [ "$m" -gt 0 ]; then',
  '    head -c "$m" | { (set -- "$s"; h= q= n= m= k= r= s=; eval "shift; $1"); r=$?; cat >/dev/null; exit $r; }',
  '  else',
  '    (set -- "$s"; h= q= n= m= k= r= s=; eval "shift; $1") </dev/null',
  '  fi',
  '  r=$?',
  '  printf "%s %s end\\n" "$k" "$q" >&2',
  '  printf "%s %s end %s\\n" "$k" "$q" "$r"',
  'done',
].join('\n');

/** Thrown when the session ended before the command started: it may be run again elsewhere. */
export class NotStartedError extends Error {}

/** The SSH channel a session runs on (ssh2's ClientChannel fits; this file does not import ssh2). */
export interface SessionChannel {
  write(data: Buffer | string): unknown;
  end(): unknown;
  close(): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  stderr: { on(event: 'data', listener: (chunk: Buffer) => void): unknown };
}

/** How a session reports what went wrong, in the words the transport uses for any command. */
export interface SessionErrors {
  overflow(): Error;
  timeout(ms: number): Error;
}

/**
 * Finds `marker` in a stream fed chunk by chunk; what came before it is passed on (or dropped),
 * holding back only the bytes that could be the start of a marker split between two chunks.
 */
class Scanner {
  private held = Buffer.alloc(0);
  constructor(
    private readonly marker: Buffer,
    private readonly keep: (bytes: Buffer) => void,
  ) {}
  /** Feeds a chunk; returns what followed the marker once it came, else undefined. */
  feed(chunk: Buffer): Buffer | undefined {
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    const at = data.indexOf(this.marker);
    if (at >= 0) {
      if (at > 0) this.keep(data.subarray(0, at));
      this.held = Buffer.alloc(0);
      return data.subarray(at + this.marker.length);
    }
    const safe = Math.max(0, data.length - (this.marker.length - 1));
    if (safe > 0) this.keep(data.subarray(0, safe));
    this.held = Buffer.from(data.subarray(safe));
    return undefined;
  }
  /** Passes on what was held back: the stream ended without the marker. */
  flush(): void {
    if (this.held.length > 0) this.keep(this.held);
    this.held = Buffer.alloc(0);
  }
}

interface Pending {
  seq: number;
  out: Buffer[];
  err: Buffer[];
  /** The stdout marker `run` seen: the command started. */
  started: boolean;
  outScan: Scanner;
  errScan: Scanner;
  /** Bytes of the status line after the stdout end marker, until its newline. */
  status: Buffer | undefined;
  code: number | null | undefined;
  errDone: boolean;
  received: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (r: RunResult) => void;
  reject: (err: Error) => void;
}

/** A root shell on one host that runs one framed command at a time. */
export class RootSession {
  private readonly key = randomBytes(16).toString('hex');
  private seq = 0;
  private closed = false;
  private pending: Pending | undefined;
  /** Commands wait here for the one before them: the shell runs one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * `channel` runs SESSION_DRIVER as root and has printed the become marker; `rest` is what came
   * on stdout after it (nothing, as the driver prints nothing before its first command).
   */
  constructor(
    private readonly channel: SessionChannel,
    private readonly maxBytes: number,
    private readonly errors: SessionErrors,
  ) {
    channel.on('data', (chunk: Buffer) => this.onStdout(chunk));
    channel.stderr.on('data', (chunk: Buffer) => this.onStderr(chunk));
    channel.on('close', () => this.onClose());
    // A write racing the channel's end is reported as an error event; the close says the rest.
    channel.on('error', () => undefined);
    channel.write(`${this.key}\n`);
  }

  /** False once the shell ended or was given up on: the next command needs a new session. */
  get alive(): boolean {
    return !this.closed;
  }

  /** Runs a shell script as root; resolves with its status, stdout and stderr kept apart. */
  run(script: string, stdin: Buffer | string | undefined, timeoutMs: number): Promise<RunResult> {
    const turn = this.queue.then(() => this.start(script, stdin === undefined ? Buffer.alloc(0) : Buffer.from(stdin), timeoutMs));
    // The next command waits for this one to end, however it ends.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Ends the shell: its stdin closes, `read` fails and it exits. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.end();
  }

  private start(script: string, stdin: Buffer, timeoutMs: number): Promise<RunResult> {
    if (this.closed) return Promise.reject(new NotStartedError('the root session has ended'));
    this.seq += 1;
    const seq = this.seq;
    return new Promise<RunResult>((resolve, reject) => {
      const p: Pending = {
        seq,
        out: [],
        err: [],
        started: false,
        // Before `run`: late output of an earlier command's background process, dropped.
        outScan: new Scanner(Buffer.from(`${this.key} ${seq} run\n`), () => undefined),
        errScan: new Scanner(Buffer.from(`${this.key} ${seq} end\n`), (b) => p.err.push(b)),
        status: undefined,
        code: undefined,
        errDone: false,
        received: 0,
        timer: undefined,
        resolve,
        reject,
      };
      this.pending = p;
      p.timer = setTimeout(() => this.fail(p, this.errors.timeout(timeoutMs)), timeoutMs);
      // The `#KEY` line proves the script arrived whole; a script never ends in a comment-eating
      // continuation, so the line stands on its own.
      const body = Buffer.from(`${script}\n#${this.key}`);
      this.channel.write(Buffer.concat([Buffer.from(`${this.key} ${seq} ${body.length} ${stdin.length}\n`), body, stdin]));
    });
  }

  /** Ends the command with `err` and gives the shell up: the command may still run on the host. */
  private fail(p: Pending, err: Error): void {
    if (this.pending !== p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    this.closed = true;
    // Closing the channel closes the command's pipes: it dies of SIGPIPE on its next write.
    this.channel.close();
    p.reject(err);
  }

  /** Counts a chunk against the output limit; false (and the command failed) once it is passed. */
  private within(p: Pending, chunk: Buffer): boolean {
    p.received += chunk.length;
    if (p.received <= this.maxBytes) return true;
    // What bounds the controller's memory is that nothing more is kept.
    p.out.length = 0;
    p.err.length = 0;
    this.fail(p, this.errors.overflow());
    return false;
  }

  private onStdout(chunk: Buffer): void {
    const p = this.pending;
    if (!p || p.code !== undefined || !this.within(p, chunk)) return;
    let rest: Buffer | undefined = chunk;
    if (!p.started) {
      rest = p.outScan.feed(chunk);
      if (rest === undefined) return;
      p.started = true;
      p.outScan = new Scanner(Buffer.from(`${this.key} ${p.seq} end `), (b) => p.out.push(b));
    }
    if (p.status === undefined) {
      rest = p.outScan.feed(rest);
      if (rest === undefined) return;
      p.status = Buffer.alloc(0);
    }
    p.status = Buffer.concat([p.status, rest]);
    const nl = p.status.indexOf(0x0a);
    if (nl < 0) return;
    const status = Number(p.status.subarray(0, nl).toString('latin1'));
    // 129 and up is how the shell reports a command killed by a signal (exit-signal, as a plain
    // exec channel says it: null), so a write killed half way is never taken for a refusal.
    p.code = Number.isInteger(status) && status >= 0 && status <= 128 ? status : null;
    this.settle(p);
  }

  private onStderr(chunk: Buffer): void {
    const p = this.pending;
    if (!p || p.errDone || !this.within(p, chunk)) return;
    if (p.errScan.feed(chunk) === undefined) return;
    p.errDone = true;
    this.settle(p);
  }

  private settle(p: Pending): void {
    if (p.code === undefined || !p.errDone || this.pending !== p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve({ code: p.code, stdout: Buffer.concat(p.out), stderr: Buffer.concat(p.err) });
  }

  private onClose(): void {
    this.closed = true;
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    if (!p.started) {
      p.reject(new NotStartedError('the root session ended before the command started'));
      return;
    }
    // Killed under the command (the root shell, or the connection): as an exec channel cut off
    // without an exit status reports it.
    if (p.status === undefined) p.outScan.flush();
    if (!p.errDone) p.errScan.flush();
    p.resolve({ code: null, stdout: Buffer.concat(p.out), stderr: Buffer.concat(p.err) });
  }
}
