/**
 * The real `rollout` executable in a real pseudo-terminal (tmux), driven the way a person would:
 * wait until a question shows, press keys, read the screen. Each Terminal runs in its own tmux
 * server (a private socket in its own temporary directory), so `kill()` ends exactly what it
 * started and leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'rollout.mjs');

/** A `rollout` process on a terminal of `columns` × `rows`. */
export class Terminal {
  /** The line of the transcript where the next `expect` starts looking. */
  private cursor = 0;
  /** Every line of an open question seen while waiting (answered ones are redrawn as one line). */
  private readonly open = new Set<string>();

  private constructor(
    private readonly socket: string,
    private readonly dir: string,
  ) {}

  /** Starts `rollout …args` on a fresh terminal with `env` added (NO_COLOR=1 and COLUMNS=80 unless given). */
  static async start(args: string[], options: { env?: Record<string, string>; columns?: number; rows?: number } = {}): Promise<Terminal> {
    const dir = mkdtempSync(join(tmpdir(), 'rollout-tty-'));
    const socket = join(dir, 'tmux.sock');
    const columns = options.columns ?? 80;
    const env = { NO_COLOR: '1', COLUMNS: String(columns), ...options.env };
    const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
    // bash keeps running after a Ctrl-C (its trap is a handler, and handlers are not inherited
    // across exec), so the exit status is always written, and the screen stays to be read.
    const command = `trap true INT; ${[process.execPath, BIN, ...args].map(quote).join(' ')}; echo $? > ${quote(join(dir, 'exit'))}; exec sleep 3600`;
    // One tmux invocation: the history limit must be set before the pane exists.
    await run('tmux', [
      '-S',
      socket,
      '-f',
      '/dev/null',
      'start-server',
      ';',
      'set-option',
      '-g',
      'history-limit',
      '100000',
      ';',
      'new-session',
      '-d',
      '-s',
      'rollout',
      '-x',
      String(columns),
      '-y',
      String(options.rows ?? 50),
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      'bash',
      '-c',
      command,
    ]);
    return new Terminal(socket, dir);
  }

  /** Everything shown so far, wrapped lines joined, trailing spaces cut. */
  async transcript(): Promise<string> {
    const r = await run('tmux', ['-S', this.socket, 'capture-pane', '-p', '-J', '-S', '-', '-t', 'rollout'], { maxBuffer: 64 * 1024 * 1024 });
    return r.stdout
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n')
      .trimEnd();
  }

  /** The screen with its styles as escape sequences (to check that NO_COLOR was obeyed). */
  async styled(): Promise<string> {
    const r = await run('tmux', ['-S', this.socket, 'capture-pane', '-p', '-e', '-S', '-', '-t', 'rollout'], { maxBuffer: 64 * 1024 * 1024 });
    return r.stdout;
  }

  /**
   * Waits until `text` shows on a line at or after where earlier calls matched, then moves there.
   * An open question is redrawn in place (its block becomes one "✔ question answer" line), so a
   * match inside it leaves the place at the question's first line; any other match moves past
   * its line. The screen is polled; there is no fixed sleep.
   */
  async expect(text: string | RegExp, timeoutMs = 120_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    let seen = '';
    while (Date.now() < end) {
      seen = await this.transcript();
      const lines = seen.split('\n');
      const question = lines.findLastIndex((l) => l.startsWith('? '));
      if (question >= 0) for (const l of lines.slice(question)) if (/^(\? | {2}[a-z]\) )/.test(l)) this.open.add(l);
      const hit = lines.findIndex((l, i) => i >= this.cursor && (typeof text === 'string' ? l.includes(text) : text.test(l)));
      if (hit >= 0) {
        const open = lines.findLastIndex((l, i) => i <= hit && l.startsWith('? '));
        this.cursor = open >= this.cursor ? open : hit + 1;
        return;
      }
      if (this.exitCode() !== undefined) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`expected ${String(text)} on the terminal; it shows:\n${seen.slice(-3000)}`);
  }

  /** The lines of the questions seen open (as `expect` saw them), wrapped lines joined. */
  questions(): string[] {
    return [...this.open];
  }

  /** Presses keys: plain text is typed as is; `Enter`, `C-c` and other tmux key names as keys. */
  async press(...keys: string[]): Promise<void> {
    for (const key of keys) {
      const named = /^(Enter|Escape|C-[a-z]|Up|Down|Tab|BSpace)$/.test(key);
      await run('tmux', ['-S', this.socket, 'send-keys', '-t', 'rollout', ...(named ? [key] : ['-l', key])]);
    }
  }

  /** Types an answer and Enter. */
  async answer(key: string): Promise<void> {
    await this.press(key, 'Enter');
  }

  /** The exit status of rollout, once it ended. */
  exitCode(): number | undefined {
    try {
      return Number(readFileSync(join(this.dir, 'exit'), 'utf8').trim());
    } catch {
      return undefined;
    }
  }

  /** Waits for rollout to end; resolves to its exit status. */
  async exited(timeoutMs = 300_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const code = this.exitCode();
      if (code !== undefined) return code;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`rollout did not end within ${timeoutMs / 1000} s; the terminal shows:\n${(await this.transcript()).slice(-3000)}`);
  }

  /** Ends the terminal's tmux server (and whatever still runs in it). */
  async kill(): Promise<void> {
    await run('tmux', ['-S', this.socket, 'kill-server']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
