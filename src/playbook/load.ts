/**
 * Loads and validates a playbook; every problem is reported at once with its dot-path, and each
 * task's args are checked against its module's schema.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-info.js';
import { modules } from '../modules/index.js';
import { playbookSchema, type Playbook } from './schema.js';

/** Where the bundled playbooks live: `playbooks/` beside package.json. */
export const PLAYBOOK_DIR = join(PACKAGE_ROOT, 'playbooks');

function format(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function issuesOf(error: z.ZodError, prefix: readonly PropertyKey[]): string[] {
  return error.issues.map((i) => `${format([...prefix, ...i.path])}: ${i.message}`);
}

/** Validates a parsed playbook document. */
export function validatePlaybook(doc: unknown, file: string): Playbook {
  const parsed = playbookSchema.safeParse(doc);
  if (!parsed.success) throw new InputError(`playbook ${file} is not valid`, issuesOf(parsed.error, []));
  const problems: string[] = [];
  parsed.data.phases.forEach((phase, p) =>
    phase.tasks.forEach((task, t) => {
      const args = modules[task.module].args.safeParse(task.args);
      if (!args.success) problems.push(...issuesOf(args.error, ['phases', p, 'tasks', t, 'args']));
      else task.args = args.data;
    }),
  );
  if (problems.length > 0) throw new InputError(`playbook ${file} is not valid`, problems);
  return parsed.data;
}

/** Loads a playbook by name (from playbooks/) or path. */
export async function loadPlaybook(nameOrPath = 'secure'): Promise<Playbook> {
  const file = nameOrPath.includes('/') || nameOrPath.endsWith('.yml') ? nameOrPath : join(PLAYBOOK_DIR, `${nameOrPath}.yml`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new InputError(`cannot read playbook ${file}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new InputError(`playbook ${file} is not valid YAML: ${(err as Error).message}`);
  }
  return validatePlaybook(doc, file);
}
