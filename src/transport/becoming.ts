/**
 * The controller's side of the become protocol (src/transport/sudo.ts builds the command): answer
 * sudo's prompt once with the password, take a second prompt as a refusal, and find the marker that
 * says the command now runs as root. Shared by one-off commands and the root session.
 */
import { RemoteCommandError } from '../errors.js';
import { printable } from '../terminal-text.js';
import type { SshTarget } from './ssh.js';
import { becomeFailureOf, type BecomeFailure } from './sudo.js';

/** sudo refused (no password, a wrong one, no rights): trying again would only repeat it. */
export class BecomeRefusedError extends RemoteCommandError {}

/**
 * The controller's side of the become protocol on one exec channel (sudo.ts): sudo's first prompt
 * is answered with the password (once), a second one means it was wrong; the marker on stdout
 * says the command runs as root. Shared by one-off commands and the root session.
 */
export class Becoming {
  private pending = Buffer.alloc(0);
  private errText = '';
  private prompts = 0;
  private failure: BecomeFailure | undefined;
  constructor(
    private readonly become: { prompt: string; marker: string },
    private readonly target: SshTarget,
  ) {}

  /** Stdout before the marker; what followed the marker once it came, else undefined. */
  stdout(chunk: Buffer): Buffer | undefined {
    this.pending = Buffer.concat([this.pending, chunk]);
    const markerLine = `${this.become.marker}\n`;
    const at = this.pending.indexOf(markerLine);
    if (at < 0) return undefined;
    const rest = this.pending.subarray(at + markerLine.length);
    this.pending = Buffer.alloc(0);
    return rest;
  }

  /** Stderr before the marker (sudo's, kept out of the command's); false: give sudo up (close the channel). */
  stderr(chunk: Buffer, stream: { write(data: string): unknown }): boolean {
    const password = this.target.becomePassword;
    this.errText += chunk.toString('utf8');
    let idx = this.errText.indexOf(this.become.prompt);
    while (idx >= 0) {
      this.prompts += 1;
      this.errText = this.errText.slice(0, idx) + this.errText.slice(idx + this.become.prompt.length);
      if (this.prompts === 1 && password) {
        stream.write(`${password.reveal()}\n`);
      } else {
        this.failure = becomeFailureOf(this.errText, this.prompts, password !== undefined);
        return false;
      }
      idx = this.errText.indexOf(this.become.prompt);
    }
    return true;
  }

  /** Why the channel ended before the marker, in one line with what to do. */
  error(): RemoteCommandError {
    const target = this.target;
    const failure = this.failure ?? becomeFailureOf(this.errText, this.prompts, target.becomePassword !== undefined);
    const msg =
      failure === 'needs-password'
        ? `${target.name}: sudo asks for a password`
        : failure === 'wrong-password'
          ? `${target.name}: sudo rejected the become password`
          : failure === 'not-allowed'
            ? `${target.name}: user ${target.user} may not run commands as root with sudo`
            : `${target.name}: sudo failed: ${printable(this.errText.trim().split('\n')[0] ?? 'no output')}`;
    const hint =
      failure === 'needs-password'
        ? 'pass --ask-become-pass, or set ansible_become_password for this host'
        : failure === 'wrong-password'
          ? 'check ansible_become_password (or the password typed for --ask-become-pass)'
          : 'give the user sudo rights on the host (sudoers), or connect as a user who has them';
    // Only sudo's own refusals are final: anything else may pass (a PAM hiccup), so it is tried again.
    return failure ? new BecomeRefusedError(msg, { place: { host: target.name }, hint }) : new RemoteCommandError(msg, { place: { host: target.name }, hint });
  }
}
