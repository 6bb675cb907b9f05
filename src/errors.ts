/**
 * One error base for everything a user can cause. Only the CLI entry prints or exits: every other
 * module throws one of these, and the exit code travels with the error.
 */

/** Exit codes, the same for every command (README lists them). */
export const ExitCode = {
  /** Done, or nothing to do. */
  Ok: 0,
  /** A bug in rollout: the stack is shown and a report asked for. */
  Internal: 1,
  /** Bad input or a failed preflight: nothing on any host changed. */
  BadInput: 2,
  /** A health gate failed, or the operator aborted a --step run; the fleet was rolled back and verified healthy. */
  RolledBack: 3,
  /** A rollback failed or is incomplete: the hosts named need attention. */
  RollbackFailed: 4,
  /** `--check` found pending changes. */
  PendingChanges: 5,
  /** `status`: hosts that could not be reached, so the fleet's state is not known (named on stderr). */
  Unreachable: 6,
  /**
   * `secure`: the run completed, but agents were left behind (`--max-unreachable`,
   * `--max-fail-percentage`): each named with why, and listed in the run's retry file.
   */
  LeftBehind: 7,
  /** Interrupted (Ctrl-C). */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where an error happened, so the one line a user sees can name it. */
export interface ErrorPlace {
  /** Inventory host name. */
  host?: string;
  /** Playbook task or step. */
  task?: string;
  /** A file on the controller or on a host. */
  file?: string;
}

/** Base of every expected error: carries its exit code and where it happened. */
export class RolloutError extends Error {
  /** Exit code the CLI ends with when this error reaches it. */
  readonly exitCode: ExitCode = ExitCode.BadInput;
  /** Where it happened. */
  readonly place: ErrorPlace;
  /** What the user can do about it, one line. */
  readonly hint: string | undefined;

  constructor(message: string, options: { place?: ErrorPlace; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.place = options.place ?? {};
    this.hint = options.hint;
  }
}

/** A problem in the inventory, playbook or command line: several issues reported at once. */
export class InputError extends RolloutError {
  /** Every problem found, each already naming its file, line and dot-path. */
  readonly issues: readonly string[];
  constructor(message: string, issues: readonly string[] = [], options: { place?: ErrorPlace; hint?: string; cause?: unknown } = {}) {
    super(message, options);
    this.issues = issues;
  }
}

/** A host could not be reached, authenticated, or became unusable. */
export class ConnectError extends RolloutError {}

/**
 * Nothing answered as a host should: connection refused, no route, no such name, or a handshake
 * that timed out. Unlike a refused login or a changed host key (which stop every run), this is
 * what a host that is down looks like: `--max-unreachable` may leave such agents out.
 */
export class UnreachableError extends ConnectError {}

/** The SSH handshake did not finish in time: a slow moment (ours or the host's) looks the same as a dead host. */
export class ConnectTimeoutError extends UnreachableError {}

/** A command on a host failed or timed out. */
export class RemoteCommandError extends RolloutError {}

/** A file on a host is no longer what the plan saw (changed by hand since): the write was refused. */
export class HostChangedError extends RemoteCommandError {}

/** Preflight found a problem (certificates, sudo, reachability): nothing was changed. */
export class PreflightError extends InputError {}

/** A health gate failed (or a --step run was aborted) and the rollback verified the fleet healthy again. */
export class RolledBackError extends RolloutError {
  override readonly exitCode: ExitCode = ExitCode.RolledBack;
}

/** A rollback failed or could not be verified: hosts need attention. */
export class RollbackFailedError extends RolloutError {
  override readonly exitCode: ExitCode = ExitCode.RollbackFailed;
}

/** The user interrupted the run (Ctrl-C); what was in flight was finished or undone. */
export class InterruptedError extends RolloutError {
  override readonly exitCode: ExitCode = ExitCode.Interrupted;
}
