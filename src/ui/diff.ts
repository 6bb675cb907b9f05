/**
 * Unified diffs of config files for `--check` and the confirm step, with secrets redacted.
 *
 * The diff is computed on the real texts (so hunks and line numbers are the file's), but every
 * line printed, context included, comes from the redacted copies (src/ui/redact.ts keeps line
 * counts, so line N of the copy is line N of the file). A secret therefore never reaches the
 * output, and a change that only touches a secret still shows: its new line reads
 * `[redacted, changed]`. Control characters from a file are shown as `^X`, never sent to the
 * terminal. Colour is plain ANSI, on only when the caller says so (NO_COLOR and TTY are its call).
 */
import { structuredPatch } from 'diff';
import { printable as visible } from '../terminal-text.js';
import { REDACTED, redactText, sweepSecrets } from './redact.js';

/** What renderDiff compares and how it shows it. */
export interface DiffInput {
  /** The file before; undefined when it does not exist (header `/dev/null`). */
  before: string | undefined;
  /** The file after; undefined when it is deleted. */
  after: string | undefined;
  /** Header label as a whole, e.g. `agent-01:/etc/sensu/agent.yml`; else built from host and path. */
  label?: string;
  /** Inventory host name: headers read `host:/etc/sensu/agent.yml`. */
  host?: string;
  /** Path of the file on the host. */
  path?: string;
  /** ANSI colours (red removals, green additions, cyan hunk headers, bold file headers). */
  color?: boolean;
  /** Lines of context around each change; default 3. */
  context?: number;
  /** Values to hide wherever they appear, on top of what redaction finds by itself. */
  secrets?: readonly string[];
}

/** What a changed secret's new line shows instead of `[redacted]`. */
export const REDACTED_CHANGED = '[redacted, changed]';

const ANSI = {
  bold: ['\x1b[1m', '\x1b[22m'],
  red: ['\x1b[31m', '\x1b[39m'],
  green: ['\x1b[32m', '\x1b[39m'],
  cyan: ['\x1b[36m', '\x1b[39m'],
  dim: ['\x1b[2m', '\x1b[22m'],
} as const;

/**
 * A unified diff from `before` to `after`, or '' when they are equal. Ends with a newline when
 * not empty. Headers: `--- host:/path` / `+++ host:/path`, `/dev/null` for a missing side.
 */
export function renderDiff(options: DiffInput): string {
  const { before, after } = options;
  const oldText = before ?? '';
  const newText = after ?? '';
  if (before === after) return '';
  const path = options.path ?? 'file';
  const label = options.label ?? (options.host ? `${options.host}:${path}` : path);
  const secrets = options.secrets ?? [];
  const oldRed = redactText(oldText, { secrets });
  const newRed = redactText(newText, { secrets });
  const oldLines = oldRed.text.split('\n');
  const newLines = newRed.text.split('\n');
  // When both sides use the same line endings, a trailing CR is noise; when they differ, show it.
  const showCr = crlf(oldText) !== crlf(newText);
  const paint = (style: keyof typeof ANSI, s: string): string => (options.color ? `${ANSI[style][0]}${s}${ANSI[style][1]}` : s);
  const show = (s: string): string => visible(showCr ? s : s.replace(/\r$/, ''));

  const patch = structuredPatch(label, label, oldText, newText, undefined, undefined, { context: options.context ?? 3 });
  const out: string[] = [paint('bold', `--- ${before === undefined ? '/dev/null' : label}`), paint('bold', `+++ ${after === undefined ? '/dev/null' : label}`)];
  for (const hunk of patch.hunks) {
    const oldStart = hunk.oldLines === 0 ? hunk.oldStart - 1 : hunk.oldStart;
    const newStart = hunk.newLines === 0 ? hunk.newStart - 1 : hunk.newStart;
    out.push(paint('cyan', `@@ -${oldStart},${hunk.oldLines} +${newStart},${hunk.newLines} @@`));
    let o = hunk.oldStart - 1;
    let n = hunk.newStart - 1;
    let removed: string[] = [];
    let addedAt = 0;
    for (const raw of hunk.lines) {
      const mark = raw[0];
      if (mark !== '+') addedAt = 0;
      if (mark === ' ') {
        removed = [];
        const a = oldLines[o++] ?? '';
        const b = newLines[n++] ?? '';
        // Equal in the file; print the copy that hid more, in case the two contexts disagree.
        out.push(` ${show(a.includes(REDACTED) || !b.includes(REDACTED) ? a : b)}`);
      } else if (mark === '-') {
        const a = oldLines[o++] ?? '';
        removed.push(a);
        out.push(paint('red', `-${show(a)}`));
      } else if (mark === '+') {
        let b = newLines[n++] ?? '';
        // A secret that changed looks the same on both sides once hidden: say it changed.
        if (removed[addedAt] === b && b.includes(REDACTED)) b = replaceLast(b, REDACTED, REDACTED_CHANGED);
        addedAt++;
        out.push(paint('green', `+${show(b)}`));
      } else {
        out.push(paint('dim', raw));
      }
    }
  }
  // A value found secret on one side must not show on the other either (moved to another key).
  const found = [...oldRed.found, ...newRed.found].filter((v) => v.length >= 4);
  return `${sweepSecrets(out.join('\n'), [...secrets, ...found])}\n`;
}

function crlf(text: string): boolean {
  return text.includes('\r\n');
}

function replaceLast(s: string, find: string, replacement: string): string {
  const i = s.lastIndexOf(find);
  return i < 0 ? s : s.slice(0, i) + replacement + s.slice(i + find.length);
}
