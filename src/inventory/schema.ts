/**
 * zod schemas for the inventory: the shape of a group (`hosts`, `children`, `vars`) and the
 * types of the variables rollout reads. Messages never quote the value: it may be a password.
 */
import { z } from 'zod';
import { suggest } from './suggest.js';

/** The keys a group may have, as in Ansible's YAML inventory plugin. */
export const GROUP_KEYS = ['hosts', 'children', 'vars'] as const;

// Ansible accepts `hosts: web1` and `children: web` for a single entry.
const singleToMap = (v: unknown): unknown => (typeof v === 'string' ? { [v]: null } : v);

/** The three sections of a group, each on its own so a bad one does not hide the others. */
export const groupSections = {
  hosts: z
    .preprocess(
      singleToMap,
      z
        .record(z.string(), z.record(z.string(), z.unknown(), { error: "expected the host's variables as a mapping (or nothing)" }).nullable(), {
          error: 'expected a mapping of host names (`name:` or `name: {vars}`), not a list',
        })
        .nullable(),
    )
    .optional(),
  children: z
    .preprocess(
      singleToMap,
      z.record(z.string(), z.unknown(), { error: 'expected a mapping of group names (`name:` or `name: {group}`), not a list' }).nullable(),
    )
    .optional(),
  vars: z.record(z.string(), z.unknown(), { error: 'expected a mapping of variable names to values' }).nullable().optional(),
};

/** One group level. Children are checked level by level by the loader, so they stay unknown here. */
export const groupSchema = z
  .strictObject(groupSections, {
    error: (iss) => (iss.code === 'invalid_type' ? 'expected a group: a mapping with hosts, children and/or vars (or nothing)' : undefined),
  })
  .nullable();

/** A group level as it comes out of `groupSchema`. */
export type GroupData = z.output<typeof groupSchema>;

/** The top of the file: groups by name. */
export const topSchema = z.record(z.string(), z.unknown(), {
  error: 'an inventory is a mapping of groups, usually starting with `all:`',
});

const PORT = 'expected integer 1–65535';
const digitsToNumber = (v: unknown): unknown => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v);

const text = (what = 'a string') =>
  z
    .string({ error: `expected ${what}` })
    .trim()
    .min(1, { error: 'must not be empty' });
// \S* rather than \S+: an empty value already has its own message.
const hostName = text('a host name or address').regex(/^\S*$/, { error: 'must not contain spaces' });
const userName = text('a user name').regex(/^\S*$/, { error: 'must not contain spaces' });
const port = z.preprocess(digitsToNumber, z.int({ error: PORT }).min(1, { error: PORT }).max(65535, { error: PORT }));
const integer = z.preprocess(digitsToNumber, z.int({ error: 'expected an integer' }));
const localPath = text('a file path');
const remotePath = text('an absolute path on the host')
  .refine((v) => v.startsWith('/'), { error: 'must be an absolute path on the host (starting with /)' })
  .refine((v) => !v.split('/').includes('..') && !v.includes('\0'), { error: 'must not contain .. (root edits this file: name it plainly)' });

// No trim and no echo: a secret is taken exactly as written.
const secret = z.string({ error: 'expected a string (quote it in YAML)' }).min(1, { error: 'must not be empty' });
const boolish = z.preprocess(
  (v) => {
    // Ansible's boolean(): these strings count too (PyYAML already turns bare yes/no into booleans).
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    if (['yes', 'on', '1', 'true', 'y', 't'].includes(s)) return true;
    if (['no', 'off', '0', 'false', 'n', 'f'].includes(s)) return false;
    return v;
  },
  z.boolean({ error: 'expected true or false' }),
);
const rejected = (message: string) => z.never({ error: message });

const PASSWORD_AUTH = 'SSH password authentication is not supported: use a key (ansible_ssh_private_key_file) or an ssh-agent';
const KEY_CONTENT = 'private key contents in the inventory are not supported: use ansible_ssh_private_key_file';
const PASSPHRASE = 'key passphrases are not supported: load an encrypted key into ssh-agent instead';

/**
 * The variables rollout reads, with their types. Any other `ansible_*` or `sensu_*` name is an
 * error unless it is in `IGNORED_VARS`; every other name is the user's own and passes untouched.
 */
export const hostVarsSchema = z
  .object({
    ansible_host: hostName,
    ansible_ssh_host: hostName,
    ansible_port: port,
    ansible_ssh_port: port,
    ansible_user: userName,
    ansible_ssh_user: userName,
    ansible_ssh_private_key_file: localPath,
    ansible_private_key_file: localPath,
    ansible_become_password: secret,
    ansible_become_pass: secret,
    ansible_sudo_pass: secret,
    ansible_become: boolish,
    ansible_become_user: userName,
    ansible_become_method: z.literal('sudo', { error: 'rollout escalates with sudo only: ansible_become_method must be sudo' }),
    ansible_connection: z.enum(['ssh', 'smart', 'paramiko', 'paramiko_ssh'], {
      error: 'rollout connects over SSH only: ansible_connection must be ssh (or smart, paramiko)',
    }),
    ansible_ssh_common_args: z.string({ error: 'expected the SSH arguments as one string' }),
    ansible_ssh_extra_args: z.string({ error: 'expected the SSH arguments as one string' }),
    ansible_group_priority: integer,
    ansible_password: rejected(PASSWORD_AUTH),
    ansible_ssh_pass: rejected(PASSWORD_AUTH),
    ansible_ssh_password: rejected(PASSWORD_AUTH),
    ansible_private_key: rejected(KEY_CONTENT),
    ansible_ssh_private_key: rejected(KEY_CONTENT),
    ansible_private_key_passphrase: rejected(PASSPHRASE),
    ansible_ssh_private_key_passphrase: rejected(PASSPHRASE),

    sensu_ca_file: localPath,
    sensu_cert_file: localPath,
    sensu_key_file: localPath,
    sensu_dashboard_cert_file: localPath,
    sensu_dashboard_key_file: localPath,
    sensu_client_cert_file: localPath,
    sensu_client_key_file: localPath,
    sensu_backend_config: remotePath,
    sensu_agent_config: remotePath,
    rollout_config_outside_etc: boolish,
    sensu_api_key: secret,
    sensu_api_user: userName,
    sensu_api_password: secret,
    sensu_extra_sans: z.array(hostName, { error: 'expected a list of host names or addresses' }),
    // Sensu's own rule for resource names.
    sensu_entity_name: text('an entity name').regex(/^[\w.-]+$/, {
      error: 'may contain only letters, digits, _, . and -',
    }),
  })
  .partial()
  .catchall(z.unknown());

/** Host vars after validation: the known ones typed. */
export type HostVars = z.output<typeof hostVarsSchema>;

/**
 * `ansible_*` names Ansible users set routinely that change nothing for rollout (interpreter,
 * pipelining, timeouts…): accepted so an existing inventory loads, and ignored.
 */
export const IGNORED_VARS: ReadonlySet<string> = new Set([
  'ansible_python_interpreter',
  'ansible_shell_type',
  'ansible_shell_executable',
  'ansible_pipelining',
  'ansible_ssh_pipelining',
  'ansible_ssh_executable',
  'ansible_ssh_args',
  'ansible_ssh_retries',
  'ansible_timeout',
  'ansible_ssh_timeout',
  'ansible_sftp_extra_args',
  'ansible_scp_extra_args',
  'ansible_scp_if_ssh',
  'ansible_ssh_transfer_method',
  'ansible_control_path',
  'ansible_control_path_dir',
  'ansible_ssh_use_tty',
  'ansible_become_exe',
  'ansible_become_flags',
  'ansible_host_key_checking',
  'ansible_ssh_host_key_checking',
]);

/** Every variable name rollout recognises. */
export const KNOWN_VARS: ReadonlySet<string> = new Set([...Object.keys(hostVarsSchema.shape), ...IGNORED_VARS]);

/** Variables that are secret by definition. */
export const SECRET_VARS: ReadonlySet<string> = new Set([
  'ansible_become_password',
  'ansible_become_pass',
  'ansible_sudo_pass',
  'ansible_password',
  'ansible_ssh_pass',
  'ansible_ssh_password',
  'ansible_private_key',
  'ansible_ssh_private_key',
  'ansible_private_key_passphrase',
  'ansible_ssh_private_key_passphrase',
  'sensu_api_key',
  'sensu_api_password',
]);

/**
 * True for a variable whose value must be redacted: the known secrets, and the user's own vars
 * whose names say secret (`db_password`, `vault_token`), unless they name a file or path.
 */
export function isSecretVar(name: string): boolean {
  if (SECRET_VARS.has(name)) return true;
  if (/_(file|path|dir)$/i.test(name)) return false;
  return /(^|_)(pass|passwd|password|passphrase|secret|token|api_?key|private_key)($|_)/i.test(name);
}

/**
 * Why `name` is not accepted as a variable, or undefined when it is. Unknown `ansible_*` and
 * `sensu_*` names are refused (a typo would otherwise be silently ignored); other names are the
 * user's own, unless they are one typo away from a known name (`ansbile_port`).
 */
export function unknownVarMessage(name: string): string | undefined {
  if (KNOWN_VARS.has(name)) return undefined;
  const guess = suggest(name, KNOWN_VARS);
  if (/^(ansible|sensu)_/.test(name)) {
    return guess
      ? `unknown variable: did you mean ${guess}?`
      : 'unknown variable: rollout reads the ansible_* and sensu_* variables listed in inventory/README.md';
  }
  if (guess && name.length >= 6) return `unknown variable: did you mean ${guess}?`;
  return undefined;
}

/** Why `key` cannot appear in a group mapping: always something, with a suggestion if one fits. */
export function unknownGroupKeyMessage(key: string): string {
  if (KNOWN_VARS.has(key) || /^(ansible|sensu)_/.test(key)) {
    return 'a variable cannot sit directly in a group: put it under `vars:` (or under a host)';
  }
  const guess = suggest(key, GROUP_KEYS, 3);
  return guess ? `unknown group key: did you mean ${guess}?` : 'unknown group key: a group has only hosts, children and vars';
}
