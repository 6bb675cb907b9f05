/**
 * The controller's state directory holds journals that `rollout rollback` replays as root on every
 * host: a journal another local user could edit would be a way to make root remove or overwrite
 * files across the fleet. So the directory and what rollback reads from it must be this user's
 * own and writable by no one else.
 */
import { lstatSync } from 'node:fs';
import { InputError } from '../errors.js';

/** Throws unless `path` is this user's own, not a link, and not writable by group or others. */
export function assertPrivate(path: string, what: 'directory' | 'file'): void {
  const st = lstatSync(path);
  const uid = process.getuid?.() ?? st.uid;
  const kindOk = what === 'directory' ? st.isDirectory() : st.isFile();
  const problem = !kindOk
    ? `is not a ${what}${st.isSymbolicLink() ? ' (a symbolic link)' : ''}`
    : st.uid !== uid
      ? `belongs to uid ${st.uid}, not to you (uid ${uid})`
      : (st.mode & 0o022) !== 0
        ? `can be written by others (mode 0${(st.mode & 0o777).toString(8)})`
        : undefined;
  if (problem) {
    throw new InputError(`rollout's state ${what} ${path} ${problem}: its journals decide what rollback does as root on every host`, [], {
      hint:
        what === 'directory'
          ? `chown it to yourself and chmod 700 ${path}, or set ROLLOUT_STATE_DIR to a directory of your own`
          : `check who changed ${path}; rollout will not replay it`,
    });
  }
}
