/**
 * Shell quoting for commands sent to hosts. Every path or value that reaches a remote shell goes
 * through `quote`, so a file name with spaces or quotes cannot turn into a second command.
 */

/** Quotes one word for POSIX sh. */
export function quote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Joins words into one quoted command line. */
export function command(...words: string[]): string {
  return words.map(quote).join(' ');
}
