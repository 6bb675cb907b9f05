/**
 * The rollout command line: the only module that prints errors or exits. Commands return an exit
 * code or throw a RolloutError; this entry turns either into the process's exit code, and turns
 * anything unexpected into a stack trace with a request for a bug report.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, InputError, RolloutError } from '../errors.js';
import type { CertsFlags } from './commands/certs.js';
import type { RollbackFlags } from './commands/rollback.js';
import type { SecureFlags } from './commands/secure.js';
import type { StatusFlags } from './commands/status.js';
import { boundArg, fleetOptions, percentArg, positiveInt, serialArg, type FleetFlags } from './context.js';
import { packageVersion } from '../package-info.js';
import type { JsonCommand, JsonDocument } from './json-schemas.js';
import { Output } from './output.js';

const EXIT_CODES = `
Exit codes:
  0    done, or nothing to do
  1    internal error (a bug: please report it with the output)
  2    bad input or failed preflight: nothing on any host changed
  3    a health gate failed, or --step was aborted; the fleet was rolled back and is healthy
  4    rollback failed or is incomplete: the hosts named need attention
  5    --check found pending changes (status: not secured)
  6    status: hosts could not be reached, their state is unknown (named on stderr)
  7    done, with agents left behind (named on stderr; a retry file finishes them)
  130  interrupted (Ctrl-C)`;

/** A fleet command's action: --list-hosts answers instead of the command (and connects to nothing). */
function fleetAction<F extends FleetFlags & { json?: boolean }>(out: Output, run: (flags: F) => Promise<number>): (flags: F) => Promise<void> {
  return async (flags: F) => {
    process.exitCode = flags.listHosts ? await (await import('./commands/list-hosts.js')).listHosts(flags, out) : await run(flags);
  };
}

// Each command's module is imported when it runs, not at start: the CLI's bundle splits them into
// chunks, so `rollout secure --check` never loads the certificate generator (@peculiar/x509) and
// `--help` loads none of them.
function buildProgram(out: Output): Command {
  const program = new Command('rollout')
    .description(
      'Secure a Sensu Go deployment over SSH: certificates, TLS on backends, agents switched from ws:// to wss:// in lockstep, health gates and automatic rollback.',
    )
    .version(packageVersion())
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.write(s),
      writeErr: (s) => out.note(s.trimEnd()),
      // Help is wrapped to the terminal; piped, to $COLUMNS when set (as `ls` does), else 80.
      getOutHelpWidth: () => (process.stdout.isTTY ? process.stdout.columns : Number(process.env.COLUMNS) || 80),
    });

  addCheck(program, out);
  addSecure(program, out);
  addCerts(program, out);
  addStatus(program, out);
  addRollback(program, out);
  addCompletion(program, out);
  return program;
}

/** `rollout check`: reachability, sudo and whether rollout can work on each host. */
function addCheck(program: Command, out: Output): void {
  fleetOptions(
    program
      .command('check')
      .description('connect to every host, prove sudo, and show whether rollout can work there (changes nothing)')
      .option('--json', 'print the result as JSON')
      .addHelpText('after', '\nExample:\n  rollout check -i inventory/prod.yml --limit backends\n'),
  ).action(fleetAction(out, async (flags: FleetFlags & { json?: boolean }) => (await import('./commands/check.js')).runCheck(flags, out)));
}

/** `rollout secure`: the main job, with its flags and the help that teaches a run. */
function addSecure(program: Command, out: Output): void {
  fleetOptions(
    program
      .command('secure')
      .description('turn on TLS across the fleet: certificates, backends on https/wss, agents on wss://, gated and rolled back on failure')
      .option('-C, --check', 'dry run: gather facts and show what would change; change nothing (exit 5 when changes are pending)')
      .option('-D, --diff', 'show each config change as a unified diff, and each certificate as a summary line')
      .option('-y, --yes', 'do not ask before changing anything (needed without a terminal)')
      .option('--step', 'ask before each task and host batch: y(es), n(o, skip), d(iff), c(ontinue without asking), a(bort and roll back); needs a terminal')
      .option('--json', 'print the plan (and the result) as JSON, nothing else on stdout')
      .option(
        '--agent-mtls',
        "also make agents authenticate with client certificates (sensu_client_cert_file/sensu_client_key_file per agent, CN = entity name): the first backend requires them, agents switch to theirs, then the other backends require them, each gated on every agent's keepalive",
      )
      .option(
        '--drop-old-ca',
        'after a CA rotation, stop trusting the old CA: ca.pem becomes sensu_ca_file alone, backends one at a time (by default the old CA stays in the bundle)',
      )
      .option(
        '--stats',
        "at the end, report where the time went (connect, facts, plan, changes; waiting on restarts and gates vs rollout's own work), SSH connections, commands, bytes, peak memory and CPU",
      )
      .option('--etcd-tls', 'also move etcd client and peer traffic to TLS, one member at a time with quorum checked between')
      .option('--playbook <name|file>', 'playbook to run', 'secure')
      .option(
        '--gate-timeout <seconds>',
        "how long each health gate waits before it fails the wave (default: the playbook's, 90 s for backends, 60 s for agents)",
        positiveInt('--gate-timeout'),
      )
      .option('--min-validity <days>', 'refuse certificates that expire within this many days', positiveInt('--min-validity'), 30)
      .option(
        '--keep-backups <runs>',
        'on-host backups (under /etc/sensu/.rollout-backups/) of how many runs to keep, this one included; older ones, old private keys among them, are removed when a run first backs up a file on the host',
        positiveInt('--keep-backups'),
        5,
      )
      .option(
        '--force-unlock',
        'take the fleet lock even if another rollout seems to hold it (only when you know none is running: a lock from another machine is never taken over otherwise)',
      )
      .option(
        '--max-unreachable <n|p%>',
        'leave out up to this many agents (or this share of them) that are unreachable or whose sensu-agent is not running, instead of refusing the run; named in the plan and the recap, listed in a retry file (exit 7). Backends are never left out',
        boundArg('--max-unreachable'),
      )
      .option(
        '--max-fail-percentage <p>',
        "agents that fail in their wave, up to this share of the run's agents, are put back alone on their old files and the run goes on (exit 7); past it, the whole run rolls back (default 0)",
        percentArg('--max-fail-percentage'),
      )
      .option(
        '--serial <sizes>',
        "agent batch sizes, Ansible's list form: 1,5%,100% (the last repeats); the first batch is a canary: any failure in it rolls back the whole run",
        serialArg('--serial'),
      )
      .addHelpText(
        'after',
        `
How a run goes:
  preflight   every host reachable with sudo, every certificate valid for its host (else exit 2)
  distribute  CA, certificates and keys to /etc/sensu/tls/ (nothing reads them yet)
  backends    one at a time: cert-file/key-file/trusted-ca-file, https api-url, restart, gate on https /health
  agents      in batches of --forks: wss:// backend-url and trusted-ca-file, restart, gate on /healthz + keepalive
  If a gate fails, every file the run changed is restored, services restarted and verified healthy (exit 3).

Fleets where some agents are always down:
  --max-unreachable 2 (or 1%)   leave out agents that are unreachable or not running (backends never)
  --max-fail-percentage 5       an agent failing its gate is put back alone; past 5 % of agents, all roll back
  --serial 1,10%,100%           agent batches; a failure in the first (the canary) rolls back the run
  Agents left behind are named, and written to a retry file (exit 7); once they are back:
  rollout secure -i prod.yml --limit @<retry file>    (agents alone: no backend restart)

Examples:
  rollout secure -i prod.yml --check --diff     review every change, change nothing
  rollout secure -i prod.yml                    show the plan, ask once, apply
  rollout secure -i prod.yml --yes --forks 50   apply without asking (CI)
  rollout secure -i prod.yml --step             walk through it task by task
  rollout secure -i prod.yml --yes --max-unreachable 2% --max-fail-percentage 1 --serial 1,10%,100%
`,
      ),
  ).action(fleetAction(out, async (flags: SecureFlags) => (await import('./commands/secure.js')).runSecure(flags, out)));
}

/** `rollout certs`: a CA and certificates named so the inventory can point at them. */
function addCerts(program: Command, out: Output): void {
  program
    .command('certs')
    .description('make a CA and a certificate per backend (agents with --agents), named so the inventory can point at them; a rerun keeps what still qualifies')
    .requiredOption('-i, --inventory <file>', 'Ansible YAML inventory (groups "backends" and "agents"); its certificate files need not exist yet')
    .requiredOption('-o, --out <dir>', 'directory to write ca.pem, ca.key, <host>.pem and <host>.key into (created when missing)')
    .option('-l, --limit <pattern>', 'only these hosts: names, groups, globs, !exclude, &intersect, comma-separated')
    .option('--ca-cert <file>', 'sign with this CA certificate (with --ca-key) instead of <out>/ca.pem; copied to <out>/ca.pem')
    .option('--ca-key <file>', "that CA's private key (stays where it is)")
    .option('--days <n>', 'validity of new certificates in days', positiveInt('--days'), 365)
    .option('--min-validity <days>', 'renew certificates that expire within this many days', positiveInt('--min-validity'), 30)
    .option('--agents', 'also issue a client certificate per agent for mutual TLS (CN = sensu_entity_name, else the inventory name; clientAuth only; no SANs)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Each certificate: ECDSA P-256, serverAuth + clientAuth, SANs = inventory name, ansible_host, localhost, 127.0.0.1 and sensu_extra_sans. Keys are written 0600, certificates 0644. The CA is, in order: --ca-cert with --ca-key, else <out>/ca.pem with <out>/ca.key, else a new one written there.
On a rerun every certificate is kept (byte for byte) unless its SANs, CA, key or expiry no longer qualify; then it is renewed and the line says why. Nothing else in <out> is written over.

Examples:
  rollout certs -i prod.yml --out pki                     CA + one certificate per backend in pki/
  rollout certs -i prod.yml --out pki --ca-cert corp-ca.pem --ca-key corp-ca.key
  rollout certs -i prod.yml --out pki --min-validity 60   renew what expires within 60 days
Then point the inventory at them (the command prints these lines):
  sensu_ca_file: pki/ca.pem
  sensu_cert_file: pki/{{ inventory_hostname }}.pem
  sensu_key_file: pki/{{ inventory_hostname }}.key
`,
    )
    .action(async (flags: CertsFlags) => {
      process.exitCode = await (await import('./commands/certs.js')).runCerts(flags, out);
    });
}

/** `rollout status`: the fleet's TLS state, read-only. */
function addStatus(program: Command, out: Output): void {
  fleetOptions(
    program
      .command('status')
      .description(
        "show the fleet's TLS state: what each backend serves on 8080/8081/3000, what each agent dials and whether it is connected (changes nothing)",
      )
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        `
Backends: API (api-listen-address, 8080), agent port (8081) and dashboard (3000), each plain or TLS with the certificate's CN, expiry and whether it verifies against the inventory's sensu_ca_file.
Agents: the schemes in backend-url, /healthz (through SSH), and the last keepalive's age when the inventory has sensu_api_user/sensu_api_password or sensu_api_key. Over 30 agents, counts are shown and only the agents not secured are listed.
Exit 0 when every backend serves verified TLS on 8080 and 8081 and every agent is healthy on wss:// only; 5 when not; 6 when a host could not be reached (its state is unknown; the hosts are named on stderr).

Examples:
  rollout status -i prod.yml
  rollout status -i prod.yml --limit backends
  rollout status -i prod.yml --json | jq '.agents[] | select(.secured | not) | .host'
`,
      ),
  ).action(fleetAction(out, async (flags: StatusFlags) => (await import('./commands/status.js')).runStatus(flags, out)));
}

/** `rollout rollback`: the last run undone from its journal. */
function addRollback(program: Command, out: Output): void {
  fleetOptions(
    program
      .command('rollback')
      .description('undo the last run on this fleet from its journal (also after the controller was killed mid-run)')
      .option('-y, --yes', 'do not ask before rolling back (needed without a terminal)')
      .option('--json', 'print the result as JSON')
      .option('--force-unlock', 'take the fleet lock even if another rollout seems to hold it (only when you know none is running)')
      .addHelpText(
        'after',
        '\nShows what it will undo (hosts, files, restarts) and asks first; --yes does not ask, and is needed without a terminal. Every file the last run changed goes back byte-identical (owner and mode kept), files it created are removed, services are restarted and the fleet is verified healthy. Exit 0 when verified, 4 when not.\n',
      ),
  ).action(fleetAction(out, async (flags: RollbackFlags) => (await import('./commands/rollback.js')).runRollback(flags, out)));
}

/** `rollout completion bash|zsh`: a completion script for the commands above. */
function addCompletion(program: Command, out: Output): void {
  program
    .command('completion')
    .description('print a shell completion script: eval "$(rollout completion bash)" in ~/.bashrc, or zsh in ~/.zshrc')
    .argument('<shell>', 'bash or zsh')
    .action(async (shell: string) => {
      const { bashCompletion, zshCompletion } = await import('./completion.js');
      if (shell === 'bash') out.write(bashCompletion(program));
      else if (shell === 'zsh') out.write(zshCompletion(program));
      else throw new InputError(`no completion for "${shell}": bash or zsh`);
    });
}

/** What went wrong, for the --json document (the same words as on stderr). */
type ErrorJson = NonNullable<JsonDocument<JsonCommand>['error']>;

function report(err: unknown, out: Output): { code: number; json?: ErrorJson } {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version are not errors.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return { code: ExitCode.Ok };
    return { code: ExitCode.BadInput, json: { message: err.message.replace(/^error: /, ''), exitCode: ExitCode.BadInput } };
  }
  if (err instanceof RolloutError) {
    out.note(out.style('red', `error: ${err.message}`));
    const issues = err instanceof InputError ? err.issues : [];
    for (const issue of issues) out.note(`  ${issue}`);
    if (err.hint) out.note(out.style('dim', `  → ${err.hint}`));
    return {
      code: err.exitCode,
      json: { message: err.message, exitCode: err.exitCode, ...(issues.length > 0 ? { issues: [...issues] } : {}), ...(err.hint ? { hint: err.hint } : {}) },
    };
  }
  out.note(out.style('red', 'rollout hit an internal error. This is a bug in rollout, not in your fleet or inventory.'));
  out.note(err instanceof Error ? (err.stack ?? err.message) : String(err));
  out.note("Please report it with the output above at the project's issue tracker.");
  return { code: ExitCode.Internal, json: { message: `internal error: ${err instanceof Error ? err.message : String(err)}`, exitCode: ExitCode.Internal } };
}

/** `--json` among the options (not after `--`): a guess made before parsing, for parse errors only. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  return options.includes('--json') && !['--help', '-h', '--version', '-V'].some((o) => options.includes(o));
}

/** Runs the CLI with these arguments and resolves to the exit code (tests call this). */
export async function main(argv: string[]): Promise<number> {
  process.exitCode = undefined;
  const out = new Output();
  const program = buildProgram(out);
  // The parsed options decide (`--limit --json` is a limit, not JSON); the action has not run yet.
  program.hook('preAction', (_program, action) => {
    if (action.opts<{ json?: boolean }>().json) out.startJson();
  });
  let code: number;
  try {
    await program.parseAsync(argv, { from: 'user' });
    code = typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (err) {
    const r = report(err, out);
    code = r.code;
    // Exactly one document per invocation, also when it failed: what was gathered, plus why it
    // stopped. A parse error comes before any action: the command line is all there is to go by.
    if (err instanceof CommanderError && r.json && wantsJson(argv)) out.startJson();
    if (r.json) out.jsonError(r.json);
  }
  out.flushJson();
  out.trace.record({ type: 'exit', code });
  out.trace.close();
  return code;
}
