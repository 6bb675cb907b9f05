/**
 * SSH's failures as one line naming the host and what to do: ssh2's connection errors (host key
 * verdicts first: a changed or unknown key is never a network problem), a command past its output
 * limit or deadline, a connection that refuses new channels. No ssh2 here: src/transport/ssh.ts
 * hands over what ssh2 said.
 */
import { ConnectError, ConnectTimeoutError, RemoteCommandError, UnreachableError } from '../errors.js';
import { printable } from '../terminal-text.js';
import { hostKeyName, type HostKeyVerdict } from './known-hosts.js';
import type { SshTarget } from './ssh.js';

/** Turns ssh2's connection errors into one line naming the host and what to do. */
export function connectErrorOf(
  err: Error & { level?: string; code?: string },
  target: SshTarget,
  where: string,
  timeoutMs: number,
  verdict: HostKeyVerdict | undefined,
  fp: string | undefined,
): ConnectError {
  const place = { host: target.name };
  if (verdict && verdict.status !== 'match') {
    if (verdict.status === 'unknown' && verdict.certAuthority) {
      return new ConnectError(
        `${target.name} (${where}): host key ${fp ?? ''} is not in known_hosts, and host certificates (@cert-authority, ${verdict.certAuthority}) are not supported`,
        {
          place,
          hint: `rollout's SSH library cannot verify host certificates: add the host's own key to known_hosts (ssh-keyscan -p ${target.port} ${target.address}, after checking its fingerprint)`,
        },
      );
    }
    if (verdict.status === 'unknown') {
      return new ConnectError(`${target.name} (${where}): host key ${fp ?? ''} is not in known_hosts`, {
        place,
        hint: `check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it: ssh-keyscan -p ${target.port} ${target.address} >> ~/.ssh/known_hosts — or pass --trust-new-host-keys`,
      });
    }
    if (verdict.status === 'revoked') {
      return new ConnectError(`${target.name} (${where}): host key ${fp ?? ''} is REVOKED (${verdict.where}); refusing to connect`, {
        place,
        hint: 'the host presents a key marked @revoked: investigate before going further',
      });
    }
    return new ConnectError(
      `${target.name} (${where}): HOST KEY CHANGED — the host presented ${fp ?? 'a key'} but ${verdict.where} holds another key for it. This can be a man-in-the-middle attack; refusing to connect`,
      {
        place,
        hint: `if the host was really reinstalled, remove the old entry (ssh-keygen -R ${hostKeyName(target.address, target.port)}) and add the new key`,
      },
    );
  }
  const code = err.code ?? '';
  if (err.level === 'client-timeout' || code === 'ETIMEDOUT' || /timed out/i.test(err.message)) {
    return new ConnectTimeoutError(`${target.name} (${where}): timed out after ${timeoutMs / 1000} s connecting`, {
      place,
      hint: 'is the host up, and is ansible_host/ansible_port right? A busy host or a slow link: raise --connect-timeout',
    });
  }
  if (code === 'ECONNREFUSED')
    return new UnreachableError(`${target.name} (${where}): connection refused`, { place, hint: 'is sshd running there, and is ansible_port right?' });
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return new UnreachableError(`${target.name} (${where}): host unreachable`, { place, hint: 'check ansible_host and the network path' });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new UnreachableError(`${target.name}: cannot resolve ${target.address}`, {
      place,
      hint: 'set ansible_host to an address or a name this machine resolves',
    });
  if (err.level === 'client-authentication') {
    return new ConnectError(`${target.name} (${where}): authentication failed for user ${target.user}`, {
      place,
      hint: 'check ansible_user and ansible_ssh_private_key_file, or the keys loaded in ssh-agent',
    });
  }
  if (code === 'ECONNRESET' || /closed|reset/i.test(err.message)) {
    return new ConnectError(`${target.name} (${where}): the connection was closed by the host`, {
      place,
      hint: 'check sshd logs on the host (MaxStartups, AllowUsers, banned address)',
    });
  }
  // ssh2's own messages can quote what the server sent (its version line, a disconnect reason).
  return new ConnectError(`${target.name} (${where}): ${printable(err.message)}`, { place });
}

/** The error of a command stopped for passing the output limit. */
export function overflowError(target: SshTarget, maxBytes: number): RemoteCommandError {
  return new RemoteCommandError(`${target.name}: a command sent more than ${formatBytes(maxBytes)} of output; it was stopped`, {
    place: { host: target.name },
    hint: 'rollout reads configs, certificates and short outputs: a file or a log this large on the host is not expected there',
  });
}

/** The error of a command that passed its deadline. */
export function timeoutError(target: SshTarget, timeoutMs: number): RemoteCommandError {
  return new RemoteCommandError(`${target.name}: command did not finish within ${timeoutMs / 1000} s`, {
    place: { host: target.name },
    hint: 'the host may be overloaded; raise --command-timeout',
  });
}

/** The error of an exec request the connection refused. */
export function unusableError(target: SshTarget, err: Error): ConnectError {
  return new ConnectError(`${target.name}: the connection is no longer usable (${printable(err.message)})`, {
    place: { host: target.name },
    hint: 'the host may have rebooted or dropped the connection: run again',
  });
}

/** `64 MiB`, `512 KiB`, `100 bytes`: limits as people write them. */
function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
