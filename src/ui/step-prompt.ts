/**
 * The question step mode asks before each task and host batch (`rollout secure --step`), through
 * listr2's inquirer adapter so the run's display stays whole:
 *
 *   ? Switch the agent to wss:// on 3 agents (batch 1/1)
 *     y) yes, run it
 *     n) no, skip it
 *     d) diff, show the exact change
 *     c) continue without asking
 *     a) abort, roll back this run and stop
 *
 * Enter means yes. "d" shows the change and asks again; "n" where a skip is refused says why and
 * asks again (src/execute/step-policy.ts decides). Ctrl-C at the question is an interrupt: the run
 * is rolled back and rollout exits 130. Keys typed while a task ran are thrown away before the
 * question shows: an Enter pressed during a restart must not approve the next change unseen.
 * Every line of the question fits the terminal's width: the prompt redraws itself in place and
 * cannot erase a line the terminal wrapped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expand } from '@inquirer/prompts';
import type { GateSeen, StepAnswer, StepHooks, StepQuestion } from '../execute/step-mode.js';
import type { StepIO } from './run-view.js';
import { renderSteps } from './plan-view.js';
import { wrap } from './wrap.js';

/** How step mode shows things. */
export interface StepView {
  color: boolean;
  /** Values that must never be shown (become passwords, API keys). */
  secrets: readonly string[];
  /** The terminal's width, read at each question. */
  columns: () => number;
}

type Choice = 'run' | 'skip' | 'diff' | 'continue' | 'abort';

/** "Switch the agent to wss:// on 3 agents (batch 1/1)", or "… on backend-2" for one host. */
export function questionText(q: Pick<StepQuestion, 'task' | 'hosts' | 'batch' | 'batches'>): string {
  const [only] = q.hosts;
  if (q.hosts.length === 1 && only) return `${q.task} on ${only.name}`;
  const roles = new Set(q.hosts.map((h) => h.role));
  const [role] = roles;
  const noun = roles.size === 1 && role ? `${role}s` : 'hosts';
  return `${q.task} on ${q.hosts.length} ${noun} (batch ${q.batch}/${q.batches})`;
}

/** Cuts a line to `width` characters, marking the cut. */
function fit(text: string, width: number): string {
  const w = Math.max(20, width);
  return text.length <= w ? text : `${text.slice(0, w - 1)}…`;
}

function choicesFor(q: StepQuestion, width: number): { key: 'y' | 'n' | 'd' | 'c' | 'a'; name: string; value: Choice }[] {
  const skip = !q.skip.allowed ? 'no, skip it (refused here)' : q.skip.wave ? `no, skip it and with it the whole ${q.skip.wave} wave` : 'no, skip it';
  // "  n) " before each name.
  const name = (text: string): string => fit(text, width - 5);
  return [
    { key: 'y', name: name('yes, run it'), value: 'run' },
    { key: 'n', name: name(skip), value: 'skip' },
    { key: 'd', name: name('diff, show the exact change'), value: 'diff' },
    { key: 'c', name: name('continue without asking'), value: 'continue' },
    { key: 'a', name: name('abort, roll back this run and stop'), value: 'abort' },
  ];
}

function isInterrupt(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError');
}

/**
 * What gates saw, wrapped to the terminal:
 *   ✓ gate: Backend healthy over TLS on backend-1
 *       https://127.0.0.1:8080/health: 3 etcd members healthy (backend-1, …)
 */
export function gateText(seen: readonly GateSeen[], width: number): string {
  return seen
    .map((g) => {
      const d = g.result.detail;
      // The agent gate's detail starts with the path it asked (/healthz 200 ok; keepalive …).
      const detail = d.includes('://') || !g.probe ? d : d.startsWith('/') ? `${new URL(g.probe).origin}${d}` : `${g.probe}: ${d}`;
      const body = wrap(detail, width - 6)
        .split('\n')
        .map((l) => `    ${l}`);
      return [`${g.result.ok ? '✓' : '✗'} gate: ${g.task} on ${g.host}`, ...body].join('\n');
    })
    .join('\n');
}

/** Step mode's question and gate display, bound to how things are shown and the run's display. */
export function stepHooks(view: StepView, io: StepIO): StepHooks {
  return { ask: (q) => ask(view, q, io), gates: (seen) => gateText(seen, view.columns()) };
}

/**
 * Throws away what was typed before the question showed; true when that held a Ctrl-C (typed in
 * raw mode, so it reached no signal handler).
 */
async function discardTypeAhead(input: NodeJS.ReadStream = process.stdin): Promise<boolean> {
  if (!input.isTTY) return false;
  let ctrlC = false;
  const onData = (chunk: Buffer | string): void => {
    if (Buffer.from(chunk).includes(3)) ctrlC = true;
  };
  const wasRaw = input.isRaw;
  // Raw mode makes a half-typed line readable too; in line mode the terminal would keep it.
  input.setRawMode(true);
  input.on('data', onData);
  input.resume();
  await sleep(30);
  input.off('data', onData);
  input.pause();
  input.setRawMode(wasRaw);
  return ctrlC;
}

/** One question, asked again after a diff or a refused skip, until it has an answer. */
async function ask(view: StepView, q: StepQuestion, io: StepIO): Promise<StepAnswer> {
  if (await discardTypeAhead()) return 'interrupt';
  for (;;) {
    const width = view.columns();
    // "? " before the message, " x" typed after it, and a column to spare.
    const message = fit(questionText(q), width - 5);
    let choice: Choice;
    try {
      choice = (await (
        await io.adapter()
      ).run(expand, { message, default: 'y', expanded: true, choices: choicesFor(q, width) }, { signal: io.signal })) as Choice;
    } catch (err) {
      if (isInterrupt(err)) return 'interrupt';
      throw err;
    }
    if (choice === 'diff') {
      io.show(renderSteps(q.steps, { color: view.color, secrets: view.secrets, addresses: new Map(q.hosts.map((h) => [h.name, h.address])) }));
      continue;
    }
    if (choice === 'skip' && !q.skip.allowed) {
      io.show(wrap(`cannot skip this: ${q.skip.why}`, width - 2));
      continue;
    }
    if (choice === 'skip' && q.skip.allowed && q.skip.means) io.show(wrap(`skipped, and with it ${q.skip.means}`, width - 2));
    return choice;
  }
}
