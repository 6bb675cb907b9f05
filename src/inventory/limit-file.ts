/**
 * `--limit @file`, as in Ansible: each `@`-prefixed part of the pattern list is replaced by the
 * file's lines, one pattern per line (Ansible's .retry files are such lists of host names).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../errors.js';

/** The pattern with every `@file` part replaced by that file's patterns, comma-joined. */
export function expandLimitFiles(pattern: string, cwd = process.cwd()): string {
  return pattern
    .split(',')
    .flatMap((part) => {
      const trimmed = part.trim();
      if (!trimmed.startsWith('@')) return [part];
      const file = resolve(cwd, trimmed.slice(1));
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new InputError(`--limit ${trimmed}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
      const lines = text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
      if (lines.length === 0) throw new InputError(`--limit ${trimmed}: ${file} lists no host pattern`, [], { hint: 'one host name or pattern per line' });
      return lines;
    })
    .join(',');
}
