/**
 * The listr2 renderer of step mode: listr2's simple renderer (one line per event, scrolling), so
 * every question, answer, diff and gate result stays on the screen as a transcript at any width,
 * and a long diff never has to be redrawn in place. listr2's default renderer redraws its whole
 * block on every keypress and cannot erase what scrolled off a short terminal.
 *
 * One fix on top: while a prompt is open the simple renderer holds back everything else written
 * to stdout and stderr, and lets it go when the prompt completes, but not when the prompt fails
 * (Ctrl-C at a question). Without the release, the rollback's progress and the recap after a
 * Ctrl-C would never be printed.
 */
import {
  LISTR_LOGGER_STDERR_LEVELS,
  ListrLogger,
  ListrTaskEventType,
  ListrTaskState,
  SimpleRenderer,
  type ListrRenderer,
  type ListrSimpleRendererOptions,
  type ListrSimpleRendererTask,
  type ListrSimpleRendererTaskOptions,
} from 'listr2';

/** listr2's simple renderer, releasing the terminal when a prompt fails too. */
export class StepRenderer implements ListrRenderer {
  /** Options as the simple renderer's. */
  static rendererOptions: ListrSimpleRendererOptions = SimpleRenderer.rendererOptions;
  /** Per-task options as the simple renderer's. */
  static rendererTaskOptions: ListrSimpleRendererTaskOptions = SimpleRenderer.rendererTaskOptions;
  /** Lines, not redraws: fine without a terminal too. */
  static nonTTY = true;

  private readonly logger = new ListrLogger({ useIcons: true, toStderr: LISTR_LOGGER_STDERR_LEVELS });
  private readonly inner: SimpleRenderer;

  constructor(
    private readonly tasks: ListrSimpleRendererTask[],
    options: ListrSimpleRendererOptions,
  ) {
    this.inner = new SimpleRenderer(tasks, { ...options, logger: this.logger });
  }

  render(): void {
    this.inner.render();
    this.watch(this.tasks);
  }

  end(): void {
    this.inner.end();
  }

  private watch(tasks: readonly ListrSimpleRendererTask[]): void {
    for (const task of tasks) {
      task.on(ListrTaskEventType.STATE, (state) => {
        if (state !== ListrTaskState.PROMPT_FAILED) return;
        task.off(ListrTaskEventType.PROMPT);
        this.logger.process.release();
      });
      task.on(ListrTaskEventType.SUBTASK, (subtasks) => this.watch(subtasks));
    }
  }
}
