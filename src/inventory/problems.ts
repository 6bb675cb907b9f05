/**
 * Collects every inventory problem so they can be reported at once, each as
 * `<file>:<line>: <dot.path>: <message>`, then thrown as one `InputError`.
 */
import { InputError } from '../errors.js';
import { redactSecrets } from '../secret.js';
import type { Secret } from '../secret.js';
import { formatPath } from './source.js';
import type { LineIndex, Path } from './source.js';

interface Entry {
  line: number;
  text: string;
}

/** Problems (or warnings) about one file, deduplicated and sorted by line when read. */
export class ProblemList {
  private readonly entries: Entry[] = [];
  private readonly seen = new Set<string>();

  constructor(
    /** The file as it is named in messages. */
    readonly fileName: string,
    private lines: LineIndex | undefined = undefined,
  ) {}

  /** Lets paths be turned into lines once the file is parsed. */
  setLines(lines: LineIndex): void {
    this.lines = lines;
  }

  /**
   * A problem at `path`; its line is looked up unless given. Line 0 means the file as a whole
   * (`prod.yml: message`).
   */
  add(path: Path | undefined, message: string, line?: number): void {
    const at = line ?? (path && this.lines ? this.lines.lineOf(path) : 1);
    const where = path && path.length > 0 ? `${formatPath(path)}: ` : '';
    const text = at === 0 ? `${this.fileName}: ${where}${message}` : `${this.fileName}:${at}: ${where}${message}`;
    // One bad group var reaches every host of the group; say it once.
    if (this.seen.has(text)) return;
    this.seen.add(text);
    this.entries.push({ line: at, text });
  }

  /** Number of distinct problems so far. */
  get size(): number {
    return this.entries.length;
  }

  /** The formatted lines, by line number (stable for equal lines), with secrets redacted. */
  list(secrets: Iterable<Secret> = []): string[] {
    const all = [...secrets];
    return [...this.entries]
      .map((e, i) => ({ ...e, i }))
      .sort((a, b) => a.line - b.line || a.i - b.i)
      .map((e) => redactSecrets(e.text, all));
  }
}

/** Throws one InputError listing every problem, if there is any. */
export function throwIfProblems(problems: ProblemList, secrets: Iterable<Secret> = []): void {
  if (problems.size > 0) failWith(problems, secrets);
}

/** Throws one InputError listing every problem (there must be some). */
export function failWith(problems: ProblemList, secrets: Iterable<Secret> = []): never {
  const issues = problems.list(secrets);
  const noun = issues.length === 1 ? 'problem' : 'problems';
  throw new InputError(`inventory ${problems.fileName} has ${issues.length} ${noun}`, issues, {
    place: { file: problems.fileName },
    hint: 'inventory/README.md lists every supported key; inventory/example.yml shows them in use',
  });
}
