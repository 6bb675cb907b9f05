/**
 * Process shutdown for the stand-ins: whatever path ends the process (signal, fatal error,
 * crash), the hooks run first, so a backend never leaves its etcd child behind.
 */

type Hook = () => Promise<void> | void;

const hooks: Hook[] = [];
const lastResort: (() => void)[] = [];
let shuttingDown = false;

/** Registers work to finish before the process exits (stop listeners, stop etcd). */
export function onShutdown(hook: Hook): void {
  hooks.push(hook);
}

/** Registers a synchronous action for `process.exit` paths that skip the async hooks. */
export function onExit(action: () => void): void {
  lastResort.push(action);
}

/** True once shutdown has begun: long-running loops use it to stop retrying. */
export function isShuttingDown(): boolean {
  return shuttingDown;
}

/**
 * Runs every hook (newest first, bounded by `graceMs` in total), then exits with `code`.
 * Calling it again while it runs does nothing, so a second signal cannot cut the cleanup short.
 */
export function shutdown(code: number, graceMs = 10_000): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    const all = (async () => {
      for (const hook of [...hooks].reverse()) {
        try {
          await hook();
        } catch {
          // A failing hook must not keep the others (or the exit) from happening.
        }
      }
    })();
    const timer = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    void Promise.race([all, timer]).then(() => process.exit(code));
  }
  return new Promise<never>(() => undefined);
}

/** Wires SIGTERM/SIGINT to a clean exit and makes sure `onExit` actions run on any exit. */
export function installSignalHandlers(onSignal?: (signal: NodeJS.Signals) => void): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      onSignal?.(signal);
      void shutdown(0);
    });
  }
  process.on('exit', () => {
    for (const action of lastResort) {
      try {
        action();
      } catch {
        // Nothing left to report to at this point.
      }
    }
  });
}

/**
 * A crash ends the process the way a Go panic does (text on stderr, status 2), but only after
 * the shutdown hooks ran, so no etcd child is left behind.
 */
export function installCrashHandler(): void {
  const crash = (err: unknown): void => {
    const text = err instanceof Error ? `${err.message}\n\n${err.stack ?? ''}` : String(err);
    process.stderr.write(`panic: ${text}\n`);
    void shutdown(2);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
}
