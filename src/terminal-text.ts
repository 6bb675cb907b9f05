/**
 * Text from hosts (stderr, log lines, HTTP bodies) and from files shown to a person: control
 * characters become visible (`^[`, `^?`, `\x9b`), so a host cannot move the cursor, recolour or
 * retitle the terminal, or hide what follows. At the root of src/ because every layer makes such
 * messages (transport, facts, execute, ui) and none of them may import another's printing code.
 */

/** Control characters as caret notation (`^[`); tab is kept, newline too when `keepNewlines`. */
export function printable(s: string, keepNewlines = false): string {
  // C0 (minus tab), DEL and the C1 range: C1 holds CSI (\x9b), which terminals obey like ESC [.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f\x80-\x9f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x0a && keepNewlines) return c;
    if (code < 0x20) return `^${String.fromCharCode(code + 64)}`;
    if (code === 0x7f) return '^?';
    return `\\x${code.toString(16)}`;
  });
}
