/**
 * Secret redaction for anything rollout shows: config diffs, values in plans, logs.
 *
 * Works line by line on YAML and on environment files alike and never changes the number of
 * lines, so a redacted text lines up with the original (the diff renderer relies on that).
 * What is hidden:
 * - values of secret keys (see isSecretKey), in `key: value`, `KEY=value`, `export KEY=value`,
 *   `{key: value}` flow pairs, including a value continued on more-indented lines or written as a
 *   block scalar (`password: |`);
 * - any `-----BEGIN … PRIVATE KEY-----` block, whatever key holds it (also on one line with `\n`
 *   escapes);
 * - the password part of `scheme://user:password@host`;
 * - every occurrence of a secret the caller knows (and of the values of secret keys found by
 *   parsing the YAML, which catches a secret reached through an anchor elsewhere), in its raw,
 *   JSON/YAML-escaped and shell-escaped spellings.
 * Paths are not secrets: `key-file`, `*-file`, `*-path`, `*-dir` stay visible.
 */
import { parseDocument } from 'yaml';
import { ConfigSource } from '../sensu/yaml-source.js';

/** What a hidden value is replaced by. */
export const REDACTED = '[redacted]';

/** Options of redact. */
export interface RedactOptions {
  /** Values to hide wherever they appear (passwords from the inventory, tokens…). */
  secrets?: readonly string[];
}

/** A redacted text and the secret values found in it by key (to sweep from other output too). */
export interface Redaction {
  /** The text with secrets replaced; same number of lines as the input. */
  text: string;
  /** Secret values found by key, raw. Never print these. */
  found: string[];
}

/**
 * Whether a YAML key or environment variable name holds a secret: `password`, `*-password`,
 * `passwd`, `pass`, `passphrase`, `*secret*`, `*token*`, `api-key`/`apikey`, `access-key`,
 * `private-key`, `credentials`. Underscores count as dashes and case is ignored, so
 * `SENSU_PASSWORD` is one too. Names of files, paths, directories and URLs are not.
 */
export function isSecretKey(name: string): boolean {
  const n = name.toLowerCase().replace(/_/g, '-');
  if (/(^|-)(file|path|dir|url|urls)$/.test(n)) return false;
  return /password|passwd|passphrase|secret|token|(^|-)pass$|(^|-)api-?key$|(^|-)access-key$|(^|-)private-key$|(^|-)credentials?$/.test(n);
}

/** Keys whose block value may hold an inline key (`tls-key: |` + PEM); hidden when written as a block. */
function isKeyMaterial(name: string): boolean {
  return /(^|[-_])key$/i.test(name);
}

const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
const PEM_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
// Both allow a leading `#`: a commented-out password is still a password.
const YAML_PAIR = /^(\s*(?:#\s*)?(?:-\s+)?)(["']?)([A-Za-z0-9_.-]+)\2(\s*:)(\s.*|)$/;
const ENV_PAIR = /^(\s*(?:#\s*)?(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)(=)(.*)$/;
const FLOW_PAIR = /([{,]\s*)(["']?)([A-Za-z0-9_.-]+)\2(\s*:\s*)("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^,}\]]*)/g;
const URL_PASSWORD = /([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/g;

/** Hide secrets in a text (see the module comment). */
export function redact(text: string, options: RedactOptions = {}): string {
  return redactText(text, options).text;
}

/** Hide secrets in a text and say which values were found by key. */
export function redactText(text: string, options: RedactOptions = {}): Redaction {
  const found = new Set<string>();
  const lines = text.split('\n');
  // Inside the value of a secret key: lines indented deeper than this column belong to it.
  let blockColumn: number | undefined;
  let inPem = false;
  let envContinues = false;
  const out = lines.map((full) => {
    const cr = full.endsWith('\r') ? '\r' : '';
    let line = cr ? full.slice(0, -1) : full;
    const indent = line.length - line.trimStart().length;
    if (inPem) {
      const end = PEM_END.exec(line);
      if (!end) return hideContent(line) + cr;
      inPem = false;
      return `${line.slice(0, indent)}${REDACTED}${line.slice(end.index + end[0].length)}${cr}`;
    }
    if (blockColumn !== undefined) {
      if (line.trim() === '') return full;
      if (indent > blockColumn) {
        found.add(line.trim());
        return hideContent(line) + cr;
      }
      blockColumn = undefined;
    }
    if (envContinues) {
      envContinues = line.endsWith('\\');
      return hideContent(line) + cr;
    }
    const begin = PEM_BEGIN.exec(line);
    if (begin) {
      const rest = line.slice(begin.index);
      const end = PEM_END.exec(rest);
      if (end) return line.slice(0, begin.index) + REDACTED + rest.slice(end.index + end[0].length) + cr;
      inPem = true;
      return line.slice(0, begin.index) + REDACTED + cr;
    }
    const yamlPair = YAML_PAIR.exec(line);
    if (yamlPair) {
      const [, lead = '', , key = '', colon = '', rest = ''] = yamlPair;
      const column = lead.length;
      const commented = lead.trimStart().startsWith('#');
      const value = rest.trim();
      const isBlock = value === '' || /^[|>][-+0-9]*(\s+#.*)?$/.test(value) || /^[&!]\S*(\s+[|>][-+0-9]*)?(\s+#.*)?$/.test(value);
      if (isSecretKey(key)) {
        if (!commented) blockColumn = column;
        if (isBlock) return full;
        found.add(unquote(value));
        return `${line.slice(0, line.length - rest.length - colon.length)}${colon} ${REDACTED}${cr}`;
      }
      if (isKeyMaterial(key) && isBlock && !commented) blockColumn = column;
    } else {
      const envPair = ENV_PAIR.exec(line);
      if (envPair && isSecretKey(envPair[2] ?? '')) {
        const [, lead = '', name = '', eq = '', value = ''] = envPair;
        if (value.trim() === '') return full;
        found.add(unquote(value.trim()));
        envContinues = value.endsWith('\\');
        return `${lead}${name}${eq}${REDACTED}${cr}`;
      }
    }
    if (line.includes('{')) {
      line = line.replace(FLOW_PAIR, (m: string, pre: string, q: string, key: string, sep: string, value: string) => {
        if (!isSecretKey(key) || value.trim() === '') return m;
        found.add(unquote(value.trim()));
        return `${pre}${q}${key}${q}${sep}${REDACTED}${/\s$/.test(value) ? ' ' : ''}`;
      });
    }
    line = line.replace(URL_PASSWORD, (_m, pre: string) => `${pre}${REDACTED}@`);
    return line + cr;
  });
  for (const v of secretValuesByKey(text)) found.add(v);
  const sweep = [...(options.secrets ?? []), ...[...found].filter((v) => v.length >= 4)];
  return { text: sweepSecrets(out.join('\n'), sweep), found: [...found] };
}

/** Replace every known secret (each line of it, in its escaped spellings too) wherever it appears. */
export function sweepSecrets(text: string, secrets: readonly string[]): string {
  const needles = new Set<string>();
  for (const secret of secrets) {
    for (const part of secret.split(/\r?\n/)) {
      if (part.trim() === '') continue;
      needles.add(part);
      needles.add(JSON.stringify(part).slice(1, -1));
      needles.add(part.replace(/'/g, "''"));
      needles.add(part.replace(/["\\`$]/g, '\\$&'));
    }
  }
  let out = text;
  for (const n of [...needles].sort((a, b) => b.length - a.length)) out = out.split(n).join(REDACTED);
  return out;
}

/** secretValuesByKey's answers by text: a diff of a big fleet shows the same texts again and again. */
const secretValuesCache = new Map<string, readonly string[]>();

/** Values of secret keys at any depth, aliases resolved; [] when the text is not YAML. */
function secretValuesByKey(text: string): readonly string[] {
  const hit = secretValuesCache.get(text);
  if (hit) return hit;
  const found = parseSecretValues(text);
  if (secretValuesCache.size >= 1024) secretValuesCache.clear();
  secretValuesCache.set(text, found);
  return found;
}

function parseSecretValues(text: string): string[] {
  // A config the plan read or wrote was parsed already (merge keys on, and without errors, so
  // without duplicate keys: the same document this parse would make).
  const doc = ConfigSource.documentOf(text) ?? parseDocument(text, { merge: true, uniqueKeys: false });
  if (doc.errors.length > 0) return [];
  const out: string[] = [];
  const walk = (v: unknown, secret: boolean): void => {
    if (typeof v === 'string' || typeof v === 'number') {
      if (secret && String(v).trim() !== '') out.push(String(v));
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x, secret);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, secret || isSecretKey(k));
    }
  };
  try {
    walk(doc.toJS({ maxAliasCount: 100 }), false);
  } catch {
    return [];
  }
  return out;
}

function hideContent(line: string): string {
  const indent = line.length - line.trimStart().length;
  return line.trim() === '' ? line : `${line.slice(0, indent)}${REDACTED}`;
}

function unquote(v: string): string {
  const t = v.replace(/\s+#.*$/, '').trim();
  if (t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))) return t.slice(1, -1);
  return t;
}
