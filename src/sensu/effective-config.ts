/**
 * What a Sensu service will really use: the YAML file, overridden by the environment file its
 * unit loads, falling back to Sensu's defaults (SENSU.md). On many hosts agent.yml leaves
 * `backend-url` commented out and the value comes from `SENSU_BACKEND_URL` or the default, so a
 * rollout must read all three before deciding what a host dials and which file to change.
 *
 * Pure: the caller reads the files (over SSH) and passes their text.
 *
 * Reading rules, as Sensu's viper does them:
 * - a non-empty environment variable beats the file; an empty one (`SENSU_TRUSTED_CA_FILE=`)
 *   counts as unset, so the file or default applies (viper's AllowEmptyEnv is off);
 * - a key written with no value (`backend-url:`) counts as unset;
 * - lists given as one string are split (see SettingSpec.split); ports as text become numbers;
 *   booleans accept 1/0, t/f, true/false and YAML 1.1's yes/no/on/off.
 * The env-file patcher lives in env-file.ts (patchEnvFile); it is re-exported here.
 */
import { AGENT_SETTINGS, BACKEND_SETTINGS, envNameFor } from './config-keys.js';
import type { SensuRole, SettingKey, SettingSpec, SettingValue } from './config-keys.js';
import { readConfig } from './config-patch.js';
import { parseEnvFile } from './env-file.js';
import { backendUrlProblem, splitUrlList } from './urls.js';

export { patchEnvFile, parseEnvFile } from './env-file.js';
export type { EnvEdit, EnvPatchResult } from './env-file.js';

/** Where an effective value comes from. */
export type SettingSource = 'file' | 'env' | 'default';

/** One setting as the service will see it. */
export interface EffectiveSetting {
  /** The YAML key. */
  key: string;
  /** The value; undefined only for a default that depends on the host and was not given (`name`). */
  value: SettingValue | undefined;
  /** Which of the three gave it. */
  source: SettingSource;
  /** The environment variable that would override it. */
  envName: string;
  /** A secret (the agent password): redact before showing. */
  secret: boolean;
  /** File and 1-based line the value was read from (absent for defaults). */
  origin?: { file: string; line: number };
  /**
   * When the environment wins although the YAML file sets the key too: the file's value, which
   * Sensu ignores. Editing only the file would change nothing.
   */
  shadowedFileValue?: SettingValue;
}

/** What effectiveConfig needs: the texts of the two files (undefined when missing). */
export interface EffectiveConfigInput<R extends SensuRole> {
  /** agent or backend. */
  role: R;
  /** The YAML file's text. */
  yaml?: string | undefined;
  /** Its path, for origins and messages. Default `/etc/sensu/<role>.yml`. */
  yamlFile?: string;
  /** The environment file's text. */
  env?: string | undefined;
  /** Its path. Default `/etc/default/sensu-<role>`. */
  envFile?: string;
  /** The host name, the agent's default `name`. */
  hostname?: string;
}

/** Every setting rollout knows for the role, each with its value and source. */
export interface EffectiveConfig<R extends SensuRole> {
  /** agent or backend. */
  role: R;
  /** By key. */
  settings: Record<SettingKey<R>, EffectiveSetting>;
  /** Problems found while reading (ignored env lines, unreadable values, URLs Sensu refuses). */
  warnings: string[];
}

/**
 * Work out the effective value and source of every setting that matters to a TLS rollout.
 * @throws InputError when the YAML file cannot be parsed (duplicate keys, not a mapping…)
 */
export function effectiveConfig<R extends SensuRole>(input: EffectiveConfigInput<R>): EffectiveConfig<R> {
  const { role } = input;
  const yamlFile = input.yamlFile ?? `/etc/sensu/${role}.yml`;
  const envFile = input.envFile ?? `/etc/default/sensu-${role}`;
  const yaml = readConfig(input.yaml, yamlFile);
  const env = parseEnvFile(input.env, envFile);
  const warnings = [...env.warnings];
  const specs: readonly SettingSpec[] = role === 'agent' ? AGENT_SETTINGS : BACKEND_SETTINGS;
  const settings: Record<string, EffectiveSetting> = {};
  for (const spec of specs) {
    const envName = envNameFor(role, spec.key);
    const base = { key: spec.key, envName, secret: spec.secret === true };
    const fileRaw = yaml.values[spec.key];
    const fileLine = yaml.lines[spec.key];
    const fileValue = fileRaw === null || fileRaw === undefined ? undefined : coerce(spec, fileRaw, `${yamlFile}:${fileLine ?? '?'}`, warnings);
    const assignment = env.vars[envName];
    let setting: EffectiveSetting;
    if (assignment && assignment.value !== '') {
      setting = {
        ...base,
        value: coerce(spec, assignment.value, `${envFile}:${assignment.line}`, warnings),
        source: 'env',
        origin: { file: envFile, line: assignment.line },
      };
      if (fileValue !== undefined) setting.shadowedFileValue = fileValue;
    } else if (fileValue !== undefined) {
      setting = { ...base, value: fileValue, source: 'file' };
      if (fileLine !== undefined) setting.origin = { file: yamlFile, line: fileLine };
    } else {
      const def = spec.key === 'name' && role === 'agent' ? input.hostname : spec.default;
      setting = { ...base, value: Array.isArray(def) ? [...def] : def, source: 'default' };
    }
    settings[spec.key] = setting;
  }
  const backendUrl = settings['backend-url'];
  if (role === 'agent' && backendUrl && Array.isArray(backendUrl.value)) {
    for (const url of backendUrl.value) {
      const problem = backendUrlProblem(url);
      if (problem) warnings.push(`${where(backendUrl)}: sensu-agent would exit: ${problem}`);
    }
  }
  // Every key of the role was filled in above.
  return { role, settings, warnings };
}

/** The backend URLs an agent will dial, whatever their source. */
export function effectiveBackendUrls(cfg: EffectiveConfig<'agent'>): string[] {
  const v = cfg.settings['backend-url'].value;
  return Array.isArray(v) ? v : typeof v === 'string' ? splitUrlList(v) : [];
}

function where(s: EffectiveSetting): string {
  return s.origin ? `${s.origin.file}:${s.origin.line}` : `default ${s.key}`;
}

/** Read a file or environment value the way Sensu's viper would for this kind of setting. */
function coerce(spec: SettingSpec, raw: unknown, at: string, warnings: string[]): SettingValue {
  switch (spec.kind) {
    case 'urls': {
      if (Array.isArray(raw)) return raw.map((v) => String(v));
      const text = scalarText(raw);
      return spec.split === 'space' ? text.split(/\s+/).filter((s) => s !== '') : splitUrlList(text);
    }
    case 'int': {
      if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
      const text = scalarText(raw).trim();
      if (/^[+-]?\d+$/.test(text)) return Number(text);
      warnings.push(`${at}: ${spec.key} should be a whole number, got "${text}"`);
      return text;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const text = scalarText(raw).trim();
      if (/^(1|t|true|yes|y|on)$/i.test(text)) return true;
      if (/^(0|f|false|no|n|off)$/i.test(text)) return false;
      warnings.push(`${at}: ${spec.key} should be true or false, got "${text}"`);
      return text;
    }
    case 'string':
      if (Array.isArray(raw) || (typeof raw === 'object' && raw !== null)) {
        warnings.push(`${at}: ${spec.key} should be a single value`);
        return JSON.stringify(raw);
      }
      return scalarText(raw);
  }
}

function scalarText(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  if (Array.isArray(raw)) return raw.map((v) => scalarText(v)).join(' ');
  return '';
}
