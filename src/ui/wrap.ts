/** Text wrapping for the terminal, shared by the plan view and step mode's messages. */

/** Wraps prose at `width` on spaces (words longer than a line stay whole). */
export function wrap(text: string, width: number): string {
  const w = Math.max(20, width);
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > w) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.join('\n');
}
