/**
 * The rollout command line: the only module that prints errors or exits. Commands return an exit
 * code or throw a RolloutError; this entry turns either into the process's exit code, and turns
 * anything unexpected into a stack trace with a request for a bug report.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, InputError, RolloutError } from '../errors.js';
import { runCheck } from './commands/check.js';
import { fleetOptions, type FleetFlags } from './context.js';
import { Output } from './output.js';

const out = new Output();

const EXIT_CODES = `
Exit codes:
  0    done, or nothing to do
  1    internal error (a bug: please report it with the output)
  2    bad input or failed preflight: nothing on any host changed
  3    a health gate failed; the fleet was rolled back and is healthy
  4    rollback failed or is incomplete: the hosts named need attention
  5    --check found pending changes
  130  interrupted (Ctrl-C)`;

function buildProgram(): Command {
  const program = new Command('rollout')
    .description('Secure a Sensu Go deployment over SSH: certificates, TLS on backends, agents switched\nfrom ws:// to wss:// in lockstep, health gates and automatic rollback.')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES)
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => out.note(s.trimEnd()) });

  fleetOptions(
    program
      .command('check')
      .description('connect to every host, prove sudo, and show whether rollout can work there (changes nothing)')
      .option('--json', 'print the result as JSON')
      .addHelpText('after', '\nExample:\n  rollout check -i inventory/prod.yml --limit backends\n'),
  ).action(async (flags: FleetFlags & { json?: boolean }) => {
    process.exitCode = await runCheck(flags, out);
  });
  return program;
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander already printed its message; help and version are not errors.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? ExitCode.Ok : ExitCode.BadInput;
  }
  if (err instanceof RolloutError) {
    out.note(out.style('red', `error: ${err.message}`));
    if (err instanceof InputError) for (const issue of err.issues) out.note(`  ${issue}`);
    if (err.hint) out.note(out.style('dim', `  → ${err.hint}`));
    return err.exitCode;
  }
  out.note(out.style('red', 'rollout hit an internal error. This is a bug in rollout, not in your fleet or inventory.'));
  out.note(err instanceof Error ? (err.stack ?? err.message) : String(err));
  out.note('Please report it with the output above at the project\'s issue tracker.');
  return ExitCode.Internal;
}

/** Runs the CLI with these arguments and resolves to the exit code (tests call this). */
export async function main(argv: string[]): Promise<number> {
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (err) {
    return report(err);
  }
}
