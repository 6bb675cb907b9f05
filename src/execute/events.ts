/**
 * What the executor tells a view as a run goes: which phases it will go through, each one's
 * progress and end, and the rollback. The executor only emits these; src/ui/run-view.ts turns
 * them into listr2's display, and `--json` runs drop them. Nothing here writes to a terminal.
 */

/** A phase as the view lists it before the run starts. */
export interface PhaseHeading {
  name: string;
  title: string;
  /** Set when the phase has nothing to change: shown as skipped with this reason, never started. */
  skip?: string;
}

export type RunEvent =
  /** The phases of the run, in order; the view shows them and waits for each one's events. */
  | { type: 'phases'; phases: PhaseHeading[] }
  /** Text under a running phase: progress ("12/200 hosts done"), a diff, what gates saw. */
  | { type: 'output'; phase: string; text: string }
  /** A phase dropped as it came up (step mode: its wave was skipped). */
  | { type: 'phase-skipped'; phase: string; reason: string }
  /** A phase finished; its title becomes the summary ("agents: 20 host(s), 40 change(s)"). */
  | { type: 'phase-done'; phase: string; title: string }
  /** A phase failed: nothing after it starts. */
  | { type: 'phase-failed'; phase: string; message: string }
  /** The rollback started (after a failure, an abort or an interrupt). */
  | { type: 'rollback'; title: string }
  | { type: 'rollback-output'; text: string }
  /** The rollback ended; `message` says what is left when it did not succeed. */
  | { type: 'rollback-done'; ok: boolean; message?: string };

/** Where the executor sends its events. */
export type RunListener = (event: RunEvent) => void;
