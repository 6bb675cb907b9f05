/**
 * What every fleet command starts with: the inventory loaded and narrowed by --limit, and a way to
 * open each host's one SSH connection with the run's settings (known_hosts, agent, timeouts,
 * become password asked once).
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BatchSize } from '../plan/types.js';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { InputError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { selectHosts } from '../inventory/limit.js';
import { expandLimitFiles } from '../inventory/limit-file.js';
import type { HostSpec, LoadedInventory } from '../inventory/types.js';
import { Secret } from '../secret.js';
import { DEFAULT_FORKS } from '../transport/pool.js';
import { connect, type SshSettings } from '../transport/ssh.js';
import { loadSshConfig, sshTargetOf } from '../transport/targets.js';
import type { Transport } from '../transport/transport.js';
import { traced } from '../transport/traced.js';
import { askSecret, canPrompt } from '../ui/prompts.js';
import { packageVersion } from '../package-info.js';
import { secretsOf } from './commands/secrets.js';
import type { Output } from './output.js';

/** Options every fleet command takes. */
export interface FleetFlags {
  inventory: string;
  limit?: string;
  forks: number;
  knownHosts?: string[];
  trustNewHostKeys?: boolean;
  askBecomePass?: boolean;
  sshConfig?: string;
  connectTimeout: number;
  commandTimeout: number;
  /** `-u/--user`: login user of hosts whose inventory sets no ansible_user. */
  user?: string;
  /** `--private-key`: key of hosts whose inventory sets no ansible_ssh_private_key_file. */
  privateKey?: string;
  /** `--list-hosts`: print the selection and stop. */
  listHosts?: boolean;
  /** `-v` given this many times. */
  verbose: number;
  /** `--log FILE`: every event as JSON lines. */
  log?: string;
}

/** A commander parser for whole numbers above 0, naming the option in its error. */
export function positiveInt(what: string): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a whole number above 0`);
    return n;
  };
}

/** One batch size or bound: `N` hosts, or `P%` of them (0–100). */
function batchSizeOf(what: string, text: string, min: number): BatchSize {
  const m = /^(\d+)(%?)$/.exec(text.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isInteger(n) || n < min || (m[2] === '%' && n > 100)) {
    throw new InvalidArgumentError(`${what} takes a whole number${min > 0 ? ' above 0' : ''} or a percentage like 10% (got ${JSON.stringify(text)})`);
  }
  return m[2] === '%' ? { percent: n } : { count: n };
}

/** `--max-unreachable N|P%`. */
export function boundArg(what: string): (value: string) => BatchSize {
  return (value) => batchSizeOf(what, value, 0);
}

/** `--max-fail-percentage P`: 0–100, with or without the `%`. */
export function percentArg(what: string): (value: string) => number {
  return (value) => {
    const n = Number(value.trim().replace(/%$/, ''));
    if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError(`${what} takes a percentage from 0 to 100 (got ${JSON.stringify(value)})`);
    return n;
  };
}

/** `--serial 1,5%,100%` (Ansible's list form): batch sizes, the last one repeating. */
export function serialArg(what: string): (value: string) => BatchSize[] {
  return (value) => value.split(',').map((part) => batchSizeOf(what, part, 1));
}

/** Why there is no -e/--extra-vars (shown in --help, and when one is given). */
const EXTRA_VARS_WHY =
  'rollout runs one fixed playbook whose every input is an inventory variable, so what a run does is what the inventory under review says; a value passed on the command line would outrank the inventory (as extra vars do in Ansible) and leave no trace of it. Put the value in the inventory or a vars file next to it.';

/** Adds the inventory and connection options to a command. */
export function fleetOptions(cmd: Command): Command {
  return (
    cmd
      .requiredOption('-i, --inventory <file>', 'Ansible YAML inventory (groups "backends" and "agents")')
      .option(
        '-l, --limit <pattern>',
        'only these hosts: names, groups, globs (agent-0*), !exclude, &intersect, comma-separated; @FILE reads one pattern per line (an Ansible .retry file)',
      )
      .option('--list-hosts', 'print the hosts the inventory and --limit select, and connect to none')
      .option('-f, --forks <n>', 'hosts worked on at once', positiveInt('--forks'), DEFAULT_FORKS)
      .option(
        '--known-hosts <file...>',
        "known_hosts files to trust (default: the inventory's -o UserKnownHostsFile in ansible_ssh_common_args, else ~/.ssh/known_hosts)",
      )
      .option('--trust-new-host-keys', 'add keys of hosts not yet in known_hosts instead of refusing them (a changed key is still refused)')
      .option('-u, --user <name>', 'SSH login user for hosts whose inventory sets no ansible_user (as in Ansible, the inventory wins)')
      .option('--private-key <file>', 'SSH private key for hosts whose inventory sets no ansible_ssh_private_key_file (the inventory wins)')
      .option('-K, --ask-become-pass', 'ask once for the sudo password of hosts that need one')
      .option(
        '-v, --verbose',
        'say more on stderr, as in Ansible: -v connections, -vv every command per host with its exit code and time, -vvv also its remote stderr (secrets always redacted)',
        (_: string, n: number) => n + 1,
        0,
      )
      .option(
        '--log <file>',
        'append every event (connection, command, write, gate, result, each line shown) to FILE as JSON lines with timestamps, secrets redacted, whatever -v says',
      )
      .option('--ssh-config <file>', 'OpenSSH client config to read (default ~/.ssh/config)')
      // Ansible users type -e by habit: say why it is not here instead of "unknown option".
      .addOption(
        new Option('-e, --extra-vars <vars>').hideHelp().argParser((): never => {
          throw new InvalidArgumentError(EXTRA_VARS_WHY);
        }),
      )
      .addHelpText('after', `-e/--extra-vars is not offered: ${EXTRA_VARS_WHY}\n`)
      .addOption(
        new Option('--connect-timeout <seconds>', 'give up connecting to a host after this long').argParser(positiveInt('--connect-timeout')).default(10),
      )
      .addOption(
        new Option('--command-timeout <seconds>', 'give up on one command on a host after this long').argParser(positiveInt('--command-timeout')).default(120),
      )
  );
}

/** `~/key` as a shell would have expanded it (an option's value given as `--private-key=~/key` is not). */
function expandTilde(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** A loaded fleet, ready to connect. */
export interface Fleet {
  inventory: LoadedInventory;
  hosts: HostSpec[];
  settings: SshSettings;
  open: (host: HostSpec) => Promise<Transport>;
}

/** Loads the inventory, applies --limit and prepares connections (asking for secrets once); starts -v and --log. */
export async function loadFleet(flags: FleetFlags, out: Output): Promise<Fleet> {
  out.trace.start({ verbosity: flags.verbose, argv: process.argv.slice(2), version: packageVersion(), ...(flags.log ? { logFile: resolve(flags.log) } : {}) });
  const inventory = await loadInventory(resolve(flags.inventory), { displayName: flags.inventory });
  const hosts = selectHosts(inventory, flags.limit === undefined ? undefined : expandLimitFiles(flags.limit));
  if (hosts.length === 0) throw new InputError(`no hosts selected from ${flags.inventory}${flags.limit ? ` with --limit ${flags.limit}` : ''}`);
  out.trace.redactSecrets(secretsOf(inventory.hosts));
  out.trace.record({ type: 'inventory', file: inventory.file, hosts: hosts.map((h) => h.name) });
  const sshConfig = loadSshConfig(flags.sshConfig ?? join(homedir(), '.ssh', 'config'));
  let askedBecome: Secret | undefined;
  if (flags.askBecomePass) {
    if (!canPrompt())
      throw new InputError('--ask-become-pass needs a terminal to ask on', [], {
        hint: 'set ansible_become_password in the inventory (or a vars file) instead',
      });
    askedBecome = new Secret(await askSecret('BECOME password:'));
    out.trace.redactSecrets([...secretsOf(inventory.hosts), askedBecome.reveal()]);
  }
  const settings: SshSettings = {
    knownHostsFiles: (flags.knownHosts ?? [join(homedir(), '.ssh', 'known_hosts')]).map((f) => resolve(f)),
    knownHostsExplicit: flags.knownHosts !== undefined,
    trustNewHostKeys: flags.trustNewHostKeys ?? false,
    connectTimeoutMs: flags.connectTimeout * 1000,
    commandTimeoutMs: flags.commandTimeout * 1000,
    ...(process.env.SSH_AUTH_SOCK ? { agentSocket: process.env.SSH_AUTH_SOCK } : {}),
    ...(canPrompt() ? { askPassphrase: (file: string) => askSecret(`Passphrase for ${file}:`) } : {}),
  };
  const open = async (host: HostSpec): Promise<Transport> => {
    const target = sshTargetOf(host, sshConfig, {
      ...(flags.user ? { user: flags.user } : {}),
      ...(flags.privateKey ? { privateKeyFile: resolve(expandTilde(flags.privateKey)) } : {}),
    });
    if (!target.becomePassword && askedBecome) target.becomePassword = askedBecome;
    const t0 = performance.now();
    const where = { address: target.address, port: target.port, user: target.user };
    try {
      // --known-hosts replaces the files the inventory or ssh config name (settings.knownHostsExplicit).
      const t = await connect(target, settings);
      out.trace.connect(host.name, { ...where, ms: Math.round(performance.now() - t0) });
      return traced(t, (e) => out.trace.transport(e));
    } catch (err) {
      out.trace.connect(host.name, { ...where, ms: Math.round(performance.now() - t0), error: (err as Error).message });
      throw err;
    }
  };
  return { inventory, hosts, settings, open };
}
