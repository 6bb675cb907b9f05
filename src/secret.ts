/**
 * A secret value (a sudo password, an API key) that cannot leak by accident: printing it, putting it
 * in a template string, `JSON.stringify` and `util.inspect` all give `[secret]`. Only `reveal()`
 * returns the value, so every place that really needs it is easy to find with grep.
 */
import { inspect } from 'node:util';

/** What a secret prints as, everywhere. */
export const REDACTED = '[secret]';

/** A string that only `reveal()` gives back; every other way of printing it shows `[secret]`. */
export class Secret {
  // A #private field, not a property: Object.keys, spread, structuredClone, vitest diffs and
  // util.inspect cannot see it.
  readonly #value: string;

  /** Wraps `value`; nothing but `reveal()` returns it from now on. */
  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself. Call it only where the value is sent (stdin of sudo, an HTTP header). */
  reveal(): string {
    return this.#value;
  }

  /** True when both hold the same value; `toEqual` cannot tell secrets apart, this can. */
  equals(other: Secret): boolean {
    return this.#value === other.#value;
  }

  /** Always `[secret]`. */
  toString(): string {
    return REDACTED;
  }

  /** Always `[secret]`, so `JSON.stringify` of anything holding a secret is safe to print. */
  toJSON(): string {
    return REDACTED;
  }

  /** Template literals and `+` concatenation give `[secret]` too. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  /** `console.log` / `util.inspect` print `[secret]`. */
  [inspect.custom](): string {
    return REDACTED;
  }

  /** Type guard, for values of unknown shape such as inventory vars. */
  static isSecret(value: unknown): value is Secret {
    return value instanceof Secret;
  }
}

/**
 * Replaces every occurrence of each secret's value in `text` with `[secret]`: the last line of
 * defence for text that came from elsewhere (a remote command's stderr, a config file diff).
 * Values shorter than 4 characters are skipped: they would mangle ordinary words and are no
 * real secret anyway.
 */
export function redactSecrets(text: string, secrets: Iterable<Secret>): string {
  const values = [...secrets]
    .map((s) => s.reveal())
    .filter((v) => v.length >= 4)
    // Longest first, so a secret that contains another is replaced whole.
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const v of values) out = out.split(v).join(REDACTED);
  return out;
}
