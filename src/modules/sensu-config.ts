/**
 * Planning a Sensu config change (`sensu_config`): keys to set and URL schemes to switch, written
 * where Sensu will actually read them. A value that comes from the environment file is changed
 * there (editing only the YAML would change nothing); one that is only a default is added to the
 * YAML with the new scheme. Comments, order and quoting of both files stay as they are.
 */
import { createHash } from 'node:crypto';
import { RolloutError } from '../errors.js';
import type { FileFact } from '../facts/types.js';
import { patchConfig, type ConfigEdit } from '../sensu/config-patch.js';
import { effectiveConfig, patchEnvFile, type EffectiveSetting, type EnvEdit } from '../sensu/effective-config.js';
import { backendUrlProblem } from '../sensu/urls.js';
import { configPathOf, endpointsOf, envFileOf, hostSettings } from '../sensu/host-config.js';
import { isSet } from '../plan/host-vars.js';
import { unsafeFile } from '../plan/unsafe-files.js';
import { z } from 'zod';
import type { TaskContext } from '../plan/plan.js';
import type { PlaybookModule } from './module.js';
import type { EffectiveEndpoints, FileStep } from '../plan/types.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

interface ConfigArgs {
  role: 'backend' | 'agent';
  set: Record<string, string>;
  scheme: Record<string, 'https' | 'wss'>;
  when_set: Record<string, { set: Record<string, string>; otherwise?: string }>;
}

function fileStep(
  ctx: TaskContext,
  id: string,
  path: string,
  fact: FileFact | undefined,
  after: string,
  defaults: { mode: number; owner: string; group: string },
): FileStep {
  const exists = fact?.exists === true;
  const before = {
    exists,
    ...(fact?.sha256 ? { sha256: fact.sha256 } : {}),
    ...(fact?.mode !== undefined ? { mode: fact.mode, owner: fact.owner ?? '', group: fact.group ?? '' } : {}),
    ...(fact?.text !== undefined ? { text: fact.text } : {}),
  };
  return {
    id,
    host: ctx.host.name,
    phase: ctx.phase.name,
    task: ctx.task.name,
    module: 'sensu_config',
    kind: 'file',
    path,
    before,
    // Keep the file's own owner and mode: rollout changes content, not policy.
    after: {
      exists: true,
      text: after,
      sha256: sha256(after),
      mode: fact?.mode ?? defaults.mode,
      owner: fact?.owner ?? defaults.owner,
      group: fact?.group ?? defaults.group,
    },
    secret: false,
    status: before.text === after && exists ? 'noop' : 'change',
  };
}

function fromScheme(to: 'https' | 'wss'): 'http' | 'ws' {
  return to === 'https' ? 'http' : 'ws';
}

function withScheme(value: string, to: 'https' | 'wss'): string {
  return value.replace(new RegExp(`^${fromScheme(to)}://`, 'i'), `${to}://`);
}

export const sensuConfig: PlaybookModule = {
  args: z
    .object({
      role: z.enum(['backend', 'agent']),
      set: z.record(z.string(), z.string()).default({}),
      scheme: z.record(z.string(), z.enum(['https', 'wss'])).default({}),
      /**
       * Keys set only on hosts whose inventory sets the variable named (e.g. dashboard TLS when
       * `sensu_dashboard_cert_file` is given); `otherwise` is what the plan says on the others.
       */
      when_set: z.record(z.string(), z.object({ set: z.record(z.string(), z.string()), otherwise: z.string().optional() }).strict()).default({}),
    })
    .strict(),
  plan: (ctx) => planConfigSteps(ctx),
};

/** Plans the YAML (and, when needed, environment file) steps of one sensu_config task. */
export function planConfigSteps(ctx: TaskContext): FileStep[] {
  const args = ctx.args as unknown as ConfigArgs;
  const role = args.role;
  if (role !== ctx.host.role) {
    ctx.problem(`the task edits a ${role}'s config, and ${ctx.host.name} is a ${ctx.host.role}`, `give the task \`when: ${role}\` in the playbook`);
    return [];
  }
  const yamlPath = configPathOf(ctx.host);
  const envPath = envFileOf(role, (p) => ctx.facts.files[p]?.exists === true);
  const yamlFact = ctx.facts.files[yamlPath];
  const envFact = ctx.facts.files[envPath];
  for (const [path, fact] of [
    [yamlPath, yamlFact],
    [envPath, envFact],
  ] as const) {
    const unsafe = unsafeFile(path, fact, { untrustedDirs: ctx.facts.untrustedDirs ?? [] });
    if (unsafe) {
      ctx.problem(unsafe.message, unsafe.fix);
      return [];
    }
  }
  if (yamlFact?.exists && yamlFact.text === undefined) {
    ctx.problem(`${yamlPath} could not be read as text`, 'check that it is a plain YAML file');
    return [];
  }
  let effective;
  try {
    effective = effectiveConfig({ role, yaml: yamlFact?.text, yamlFile: yamlPath, env: envFact?.text, envFile: envPath, hostname: ctx.facts.hostname });
  } catch (err) {
    ctx.problem(err instanceof RolloutError ? err.message : String(err), `fix the YAML in ${yamlPath} by hand first`);
    return [];
  }
  const settings = effective.settings as Record<string, EffectiveSetting>;
  // A URL sensu-agent refuses would take the agent down at the restart this run makes: stop here.
  const urls = role === 'agent' ? settings['backend-url'] : undefined;
  const refused = (Array.isArray(urls?.value) ? urls.value : []).filter((u) => backendUrlProblem(u) !== undefined);
  if (urls && refused.length > 0) {
    const at = urls.origin ? `${urls.origin.file}:${urls.origin.line}` : yamlPath;
    ctx.problem(
      `${at}: backend-url ${refused.join(', ')}: sensu-agent accepts only ws:// or wss:// and would exit at the restart this run makes`,
      `correct backend-url in ${urls.origin?.file ?? yamlPath} by hand first (ws://host:8081)`,
    );
    return [];
  }
  const yamlEdits: ConfigEdit[] = [];
  const envEdits: EnvEdit[] = [];
  const set = { ...args.set };
  const notes: string[] = [];
  for (const [name, part] of Object.entries(args.when_set)) {
    if (isSet(ctx.host, name)) Object.assign(set, part.set);
    else if (part.otherwise) notes.push(part.otherwise);
  }
  for (const [key, value] of Object.entries(set)) {
    const s = settings[key];
    if (s?.source === 'env') {
      // The environment wins over the file: change it where Sensu reads it.
      envEdits.push({ op: 'set', name: s.envName, value });
    } else yamlEdits.push({ op: 'set', key, value });
  }
  for (const [key, to] of Object.entries(args.scheme)) {
    const s = settings[key];
    if (!s) continue;
    const from = fromScheme(to);
    if (s.source === 'env') envEdits.push({ op: 'scheme', name: s.envName, from, to });
    else if (s.source === 'file') yamlEdits.push({ op: 'scheme', key, from, to });
    else {
      // Only a default: write it into the file with the new scheme, so the change is visible.
      const value = Array.isArray(s.value) ? s.value.map((v) => withScheme(v, to)) : withScheme(String(s.value ?? ''), to);
      yamlEdits.push({ op: 'set', key, value });
    }
  }
  const steps: FileStep[] = [];
  try {
    const yamlResult = patchConfig(yamlFact?.text, yamlEdits, yamlPath);
    const step = fileStep(ctx, ctx.id, yamlPath, yamlFact, yamlResult.changed ? yamlResult.text : (yamlFact?.text ?? ''), {
      mode: 0o640,
      owner: 'root',
      group: 'sensu',
    });
    step.changes = yamlResult.changes;
    step.effective = endpointsOf(settings, role);
    if (step.status === 'noop') step.reason = `${yamlPath} already has these settings`;
    else step.reason = `${yamlResult.changes.map((c) => c.key).join(', ')} in ${yamlPath}`;
    if (notes.length > 0) step.notes = notes;
    steps.push(step);
    if (envEdits.length > 0) {
      const envResult = patchEnvFile(envFact?.text, envEdits, envPath);
      const envStep = fileStep(ctx, `${ctx.id}/env`, envPath, envFact, envResult.changed ? envResult.text : (envFact?.text ?? ''), {
        mode: 0o644,
        owner: 'root',
        group: 'root',
      });
      envStep.effective = step.effective;
      envStep.reason = envStep.status === 'noop' ? `${envPath} already has these settings` : `${envResult.changes.map((c) => c.name).join(', ')} in ${envPath}`;
      steps.push(envStep);
    }
  } catch (err) {
    ctx.problem(err instanceof RolloutError ? err.message : String(err), `fix ${yamlPath} by hand first`);
    return [];
  }
  return steps;
}

/**
 * Where a host's Sensu can be probed, from its config as this run will have left it: for gates in
 * phases that change no config (a restart onto new certificates). Undefined when it cannot be read.
 */
export function endpointsFromFacts(ctx: TaskContext): EffectiveEndpoints | undefined {
  try {
    return endpointsOf(hostSettings(ctx.host, ctx.facts), ctx.host.role);
  } catch {
    return undefined;
  }
}
