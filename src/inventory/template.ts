/**
 * The small part of Ansible's Jinja2 templating an inventory needs: `{{ name }}` substitution, so
 * a group var such as `sensu_cert_file: pki/{{ inventory_hostname }}.pem` gives each host of a
 * range its own file. Filters, expressions and blocks are refused with a clear message rather than
 * passed through as literal text.
 */

/** Looks a variable up for a host; `found: false` when it has none of that name. */
export type VarLookup = (name: string) => { found: true; value: unknown } | { found: false };

/** A rendered value, or why it could not be rendered. */
export type RenderResult = { ok: true; value: unknown } | { ok: false; message: string };

/** A variable referring to itself through this many others is a loop. */
const MAX_DEPTH = 16;

const WHOLE = /^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$/;
const EXPRESSION = /\{\{(.*?)\}\}/g;
const NAME = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/;

/** True when a string holds template syntax. */
export function isTemplated(value: string): boolean {
  return value.includes('{{') || value.includes('{%') || value.includes('{#');
}

/**
 * Renders `value` (a string, or lists and mappings of them). `quote` controls whether messages may
 * quote the template text: false for secrets.
 */
export function renderTemplate(value: unknown, lookup: VarLookup, quote = true, depth = 0): RenderResult {
  if (depth > MAX_DEPTH) {
    return { ok: false, message: 'template variables nest too deep: does a variable refer to itself?' };
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const r = renderTemplate(item, lookup, quote, depth);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: out };
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = renderTemplate(v, lookup, quote, depth);
      if (!r.ok) return r;
      out[k] = r.value;
    }
    return { ok: true, value: out };
  }
  if (typeof value !== 'string' || !isTemplated(value)) return { ok: true, value };

  // `"{{ var }}"` alone keeps the variable's type (a list stays a list), as Ansible does.
  const whole = WHOLE.exec(value);
  if (whole?.[1] !== undefined) return resolveName(whole[1], lookup, quote, depth);

  let failure: string | undefined;
  const rendered = value.replace(EXPRESSION, (expr: string, inner: string) => {
    if (failure) return expr;
    const name = NAME.exec(inner)?.[1];
    if (name === undefined) {
      failure = unsupported(quote ? expr : undefined);
      return expr;
    }
    const r = resolveName(name, lookup, quote, depth);
    if (!r.ok) {
      failure = r.message;
      return expr;
    }
    const text = toText(r.value);
    if (text === undefined) {
      failure = `variable "${name}" is a list or mapping and cannot be inserted into text`;
      return expr;
    }
    return text;
  });
  if (failure) return { ok: false, message: failure };
  if (isTemplated(rendered)) return { ok: false, message: unsupported(undefined) };
  return { ok: true, value: rendered };
}

function resolveName(name: string, lookup: VarLookup, quote: boolean, depth: number): RenderResult {
  const found = lookup(name);
  if (!found.found) {
    return {
      ok: false,
      message: `undefined variable "${name}" in template (rollout reads only the inventory file: no group_vars/, host_vars/ or vault)`,
    };
  }
  return renderTemplate(found.value, lookup, quote, depth + 1);
}

function unsupported(expr: string | undefined): string {
  const what = expr === undefined ? 'unsupported template syntax' : `unsupported template ${expr}`;
  return `${what}: rollout substitutes only {{ variable }} (no filters, expressions or {% %} blocks)`;
}

/** Jinja's rendering of a scalar inside text, as Ansible finalizes it. */
function toText(value: unknown): string | undefined {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
