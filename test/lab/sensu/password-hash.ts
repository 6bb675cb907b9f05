/**
 * Salted scrypt password hashes, so no password is ever stored in etcd (Sensu stores bcrypt
 * hashes; scrypt is what Node has built in).
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Verified (password, hash) pairs. Every agent reconnect authenticates; a fleet restarting at
 * once must not queue seconds of scrypt work on the backend.
 */
const verified = new Set<string>();

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, { N: 4096, r: 8, p: 1 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$<salt>$<hash>` (base64) for a password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `password` matches a hash from `hashPassword`. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const memo = createHash('sha256').update(stored).update('\0').update(password).digest('hex');
  if (verified.has(memo)) return true;
  const [scheme, saltText, hashText] = stored.split('$');
  if (scheme !== 'scrypt' || !saltText || !hashText) return false;
  const expected = Buffer.from(hashText, 'base64');
  const key = await derive(password, Buffer.from(saltText, 'base64'));
  const ok = key.length === expected.length && timingSafeEqual(key, expected);
  if (ok) verified.add(memo);
  return ok;
}
