/**
 * Configuration the way the Sensu binaries read it (cobra + viper): command-line flags over
 * environment variables over the YAML file over defaults. Conversions follow viper/cast, quirks
 * included (a YAML number for a duration is nanoseconds; an empty environment variable is unset).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { goFsError } from './go-errors.js';
import { parseGoDuration } from './go-time.js';

/** What the command line asked for. */
export interface CommandLine {
  /** `start`, `version`, … (empty when none was given). */
  command: string;
  /** Flags given as `--key value`, `--key=value` or `-c value`, by long name. */
  flags: Map<string, string>;
}

/** Splits argv (after the script) into a subcommand and its flags. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const flags = new Map<string, string>();
  let command = '';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg.startsWith('-')) {
      let name = arg.replace(/^--?/, '');
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      if (name === 'c') name = 'config-file';
      if (value === undefined) {
        const next = argv[i + 1];
        // A flag followed by another flag (or nothing) is a boolean switch.
        if (next === undefined || next.startsWith('-')) value = 'true';
        else {
          value = next;
          i++;
        }
      }
      flags.set(name, value);
    } else if (command === '') {
      command = arg;
    }
  }
  return { command, flags };
}

/** How to find and layer one program's settings. */
export interface SettingsSource {
  /** Flags from the command line. */
  flags: Map<string, string>;
  /** Environment prefix without the underscore: `SENSU_BACKEND` or `SENSU`. */
  envPrefix: string;
  /** Where the packages put the config file (used, silently optional, when no path was given). */
  defaultConfigFile: string;
  /** Defaults by key. */
  defaults: Record<string, unknown>;
  /** Deprecated key names that still work, old name → new name. */
  aliases?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

/** An error with the text the Go binary would report (viper/afero/yaml). */
export class ConfigError extends Error {}

/** Layered settings with viper's conversions. */
export class Settings {
  private constructor(
    private readonly flags: Map<string, string>,
    private readonly env: NodeJS.ProcessEnv,
    private readonly envPrefix: string,
    private readonly file: Record<string, unknown>,
    private readonly defaults: Record<string, unknown>,
    /** The config file that was read, if any. */
    readonly configFile: string | undefined,
  ) {}

  /**
   * Loads settings: the config file named by `--config-file`/`-c`, else `<PREFIX>_CONFIG_FILE`,
   * else the default path. Only an explicitly named file must exist (viper's behaviour).
   * @throws ConfigError with Go's message when a named file cannot be read or parsed.
   */
  static load(source: SettingsSource): Settings {
    const env = source.env ?? process.env;
    let path = source.flags.get('config-file') ?? '';
    if (path === '') path = env[`${source.envPrefix}_CONFIG_FILE`] ?? '';
    const explicit = path !== '';
    if (!explicit) path = source.defaultConfigFile;
    let file: Record<string, unknown> = {};
    let used: string | undefined;
    try {
      file = parseConfigFile(path);
      used = path;
    } catch (err) {
      if (explicit) throw err;
    }
    for (const [old, current] of Object.entries(source.aliases ?? {})) {
      if (old in file && !(current in file)) file[current] = file[old];
    }
    return new Settings(source.flags, env, source.envPrefix, file, source.defaults, used);
  }

  private envName(key: string): string {
    return `${this.envPrefix}_${key.toUpperCase().replace(/-/g, '_')}`;
  }

  /** The raw value and where it came from, by viper's precedence. */
  raw(key: string): { value: unknown; from: 'flag' | 'env' | 'file' | 'default' | 'none' } {
    if (this.flags.has(key)) return { value: this.flags.get(key), from: 'flag' };
    const envValue = this.env[this.envName(key)];
    if (envValue !== undefined && envValue !== '') return { value: envValue, from: 'env' };
    if (key in this.file && this.file[key] !== null) return { value: this.file[key], from: 'file' };
    if (key in this.defaults) return { value: this.defaults[key], from: 'default' };
    return { value: undefined, from: 'none' };
  }

  /** True when the key was given anywhere but the defaults. */
  isSet(key: string): boolean {
    const from = this.raw(key).from;
    return from !== 'default' && from !== 'none';
  }

  /** `viper.GetString`: scalars as text, anything else empty. */
  string(key: string): string {
    const v = this.raw(key).value;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return '';
  }

  /** `viper.GetInt`: numbers truncated, numeric strings parsed, anything else 0. */
  int(key: string): number {
    const v = this.raw(key).value;
    if (typeof v === 'number') return Math.trunc(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'string') {
      const n = Number(v.trim());
      return Number.isInteger(n) ? n : 0;
    }
    return 0;
  }

  /** `viper.GetFloat64`. */
  float(key: string): number {
    const v = this.raw(key).value;
    if (typeof v === 'number') return v;
    if (typeof v === 'string') {
      const n = Number(v.trim());
      return Number.isFinite(n) ? n : 0;
    }
    return 0;
  }

  /** `viper.GetBool`: Go's `strconv.ParseBool` spellings for strings. */
  bool(key: string): boolean {
    const v = this.raw(key).value;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return v !== 0;
    if (typeof v === 'string') return ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v.trim());
    return false;
  }

  /** `viper.GetStringSlice`: lists as they are, a string split on white space. */
  stringSlice(key: string): string[] {
    const v = this.raw(key).value;
    if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
    if (typeof v === 'string') return v.split(/\s+/).filter((s) => s !== '');
    if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
    return [];
  }

  /** `viper.GetStringMapString` for YAML maps (environment values are not maps). */
  stringMap(key: string): Record<string, string> {
    const v = this.raw(key).value;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, typeof x === 'string' ? x : String(x)]));
  }

  /**
   * `viper.GetDuration` in milliseconds: Go duration strings; bare numbers are nanoseconds,
   * as cast converts them. Unparsable values are 0, as with viper.
   */
  durationMs(key: string): number {
    const v = this.raw(key).value;
    if (typeof v === 'number') return v / 1e6;
    if (typeof v === 'string') {
      const s = v.trim();
      try {
        return /[nsuµμmh]/.test(s) ? parseGoDuration(s) : parseGoDuration(`${s}ns`);
      } catch {
        return 0;
      }
    }
    return 0;
  }
}

/**
 * Reads a YAML config file into a flat map with lower-case keys (viper is case-insensitive).
 * @throws ConfigError with Go's texts: `open <path>: no such file or directory`,
 *   `While parsing config: …`.
 */
export function parseConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(goFsError(err, path));
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    throw new ConfigError(`While parsing config: yaml: ${first}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError('While parsing config: yaml: unmarshal errors: cannot unmarshal into map[string]interface {}');
  }
  return Object.fromEntries(Object.entries(doc as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
}
