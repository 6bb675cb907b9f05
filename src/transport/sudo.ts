/**
 * The become protocol, as Ansible does it without a pty: sudo prints a unique prompt on stderr
 * when it wants the password (sent over stdin, so it never shows in a process list), and the
 * wrapped shell prints a unique marker on stdout once it runs as root; only then does the
 * command's own stdin follow. A second prompt means the password was wrong.
 */
import { randomBytes } from 'node:crypto';
import { quote } from './shell.js';

/** How a sudo attempt ended before the command ran, when it did not run. */
export type BecomeFailure = 'needs-password' | 'wrong-password' | 'not-allowed';

/** A sudo-wrapped command line and the strings that drive it. */
export interface BecomeCommand {
  line: string;
  prompt: string;
  marker: string;
}

/** Wraps a shell command line so it runs as root via `sudo -S`. */
export function becomeCommand(commandLine: string): BecomeCommand {
  const nonce = randomBytes(8).toString('hex');
  const prompt = `[rollout-sudo-${nonce}] password:`;
  const marker = `ROLLOUT-BECOME-${nonce}`;
  const inner = `echo ${marker}; ${commandLine}`;
  return { line: `sudo -H -S -p ${quote(prompt)} -- /bin/sh -c ${quote(inner)}`, prompt, marker };
}

/** Reads sudo's own refusal from its stderr, when the marker never came. */
export function becomeFailureOf(stderr: string, prompts: number, hadPassword: boolean): BecomeFailure | undefined {
  if (prompts > 1 || /incorrect password|Sorry, try again/.test(stderr)) return hadPassword ? 'wrong-password' : 'needs-password';
  if (prompts === 1 && !hadPassword) return 'needs-password';
  if (/a password is required|no tty present|a terminal is required/.test(stderr)) return 'needs-password';
  if (/is not in the sudoers file|is not allowed to execute|may not run sudo/.test(stderr)) return 'not-allowed';
  return undefined;
}
