/**
 * The run's display: listr2 fed by the executor's events (src/execute/events.ts). One listr2 task
 * per phase, each waiting for its phase's events: progress becomes the task's output, the end its
 * title (or a skip, or a failure), then a second list for the rollback if there is one. listr2
 * chooses how it looks (the renderer the CLI picked: redrawn on a terminal, one line per event
 * otherwise, step mode's scrolling renderer). Step mode's questions are asked through the running
 * phase's task (`io()`), so the prompt and the display share the terminal without tearing it.
 */
import { ListrInquirerPromptAdapter } from '@listr2/prompt-adapter-inquirer';
import { Listr, type ListrRendererValue } from 'listr2';
import type { PhaseHeading, RunEvent, RunListener } from '../execute/events.js';

/** How a step-mode question reaches the terminal: through the running listr2 task. */
export interface StepIO {
  /** A prompt adapter bound to the running phase's task; one per question. */
  adapter(): Promise<ListrInquirerPromptAdapter>;
  /** Shows text under the running phase (a diff, why a skip is refused). */
  show(text: string): void;
  /** Aborted by SIGINT from outside: an open question gives up (as an interrupt). */
  signal: AbortSignal;
}

/** The part of listr2's task wrapper a phase uses. */
interface TaskHandle {
  title: string;
  output: string;
  skip(message: string): void;
  prompt(adapter: typeof ListrInquirerPromptAdapter): ListrInquirerPromptAdapter;
}

type SlotEnd = { kind: 'done'; title?: string } | { kind: 'skipped'; reason: string } | { kind: 'failed'; message: string };

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** One listr2 task's life: attached when listr2 starts it, ended by the executor's event. */
class Slot {
  readonly attached = deferred<TaskHandle>();
  readonly end = deferred<SlotEnd>();
  ended = false;
  private task: TaskHandle | undefined;
  private pending: string | undefined;

  constructor(readonly heading: PhaseHeading | undefined) {}

  /** listr2's task function: shows what came before it started, then waits for the end. */
  async run(task: TaskHandle): Promise<void> {
    this.task = task;
    if (this.pending !== undefined) task.output = this.pending;
    this.attached.resolve(task);
    const end = await this.end.promise;
    if (end.kind === 'skipped') task.skip(end.reason);
    else if (end.kind === 'failed') throw new Error(end.message);
    else if (end.title !== undefined) task.title = end.title;
  }

  output(text: string): void {
    if (this.task) this.task.output = text;
    else this.pending = text;
  }

  finish(end: SlotEnd): void {
    this.ended = true;
    this.end.resolve(end);
  }
}

/** Shows a run through listr2; feed it with `listener`, and await `closed()` before printing more. */
export class RunView {
  private readonly slots = new Map<string, Slot>();
  private rollbackSlot: Slot | undefined;
  private rendering: Promise<void> = Promise.resolve();

  constructor(
    private readonly renderer: ListrRendererValue,
    private readonly signal: AbortSignal,
  ) {}

  readonly listener: RunListener = (event) => this.on(event);

  private on(event: RunEvent): void {
    switch (event.type) {
      case 'phases': {
        for (const p of event.phases) this.slots.set(p.name, new Slot(p));
        const list = new Listr(
          event.phases.map((p) => ({
            title: p.title,
            skip: () => p.skip ?? false,
            task: (_ctx: unknown, task: TaskHandle) => (this.slots.get(p.name) as Slot).run(task),
          })),
          {
            concurrent: false,
            exitOnError: true,
            renderer: this.renderer,
            fallbackRenderer: 'simple',
            registerSignalListeners: false,
            rendererOptions: { collapseSubtasks: false },
          } as never,
        );
        this.show(list);
        return;
      }
      case 'output':
        return this.slots.get(event.phase)?.output(event.text);
      case 'phase-skipped':
        return this.slots.get(event.phase)?.finish({ kind: 'skipped', reason: event.reason });
      case 'phase-done':
        return this.slots.get(event.phase)?.finish({ kind: 'done', title: event.title });
      case 'phase-failed':
        return this.slots.get(event.phase)?.finish({ kind: 'failed', message: event.message });
      case 'rollback': {
        const slot = new Slot(undefined);
        this.rollbackSlot = slot;
        const list = new Listr([{ title: event.title, task: (_ctx: unknown, task: TaskHandle) => slot.run(task) }], {
          renderer: this.renderer,
          fallbackRenderer: 'simple',
          registerSignalListeners: false,
          exitOnError: true,
        } as never);
        this.show(list);
        return;
      }
      case 'rollback-output':
        return this.rollbackSlot?.output(event.text);
      case 'rollback-done':
        return this.rollbackSlot?.finish(event.ok ? { kind: 'done' } : { kind: 'failed', message: event.message ?? 'rollback incomplete' });
    }
  }

  /** Lists render one after the other: the rollback's after the phases'. */
  private show(list: { run(): Promise<unknown> }): void {
    // A failed task is shown by listr2 itself; the executor's result says what it means.
    this.rendering = this.rendering.then(() =>
      list.run().then(
        () => undefined,
        () => undefined,
      ),
    );
  }

  /** The phase running now: the first one listed that has not ended and was not skipped up front. */
  private running(): Slot | undefined {
    return [...this.slots.values()].find((s) => !s.ended && s.heading?.skip === undefined);
  }

  /** Step mode's way to the terminal. */
  io(): StepIO {
    return {
      adapter: async () => {
        const slot = this.running();
        if (!slot) throw new Error('step mode asked with no phase running');
        return (await slot.attached.promise).prompt(ListrInquirerPromptAdapter);
      },
      // listr2 drops lines of only spaces; an empty one stays (a diff's blank context line).
      show: (text) =>
        this.running()?.output(
          text
            .split('\n')
            .map((l) => (l.trim() === '' ? '' : l))
            .join('\n'),
        ),
      signal: this.signal,
    };
  }

  /**
   * Resolves once everything shown has been rendered. Phases still waiting (the executor stopped
   * without ending them: it threw) are ended as failed, so the display never hangs.
   */
  async closed(): Promise<void> {
    for (const slot of [...this.slots.values(), ...(this.rollbackSlot ? [this.rollbackSlot] : [])])
      if (!slot.ended) slot.finish({ kind: 'failed', message: 'stopped' });
    await this.rendering;
  }
}
