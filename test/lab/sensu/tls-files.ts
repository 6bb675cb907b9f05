/**
 * Certificate and key files read with the checks and error texts of Go's `tls.LoadX509KeyPair`
 * and sensu-go's `LoadCACerts`, so a bad file fails the stand-in with Sensu's own message.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { goFsError } from './go-errors.js';
import { pemBlocks } from './pem.js';

/** An error whose message is the Go text. */
export class GoTextError extends Error {}

/** A certificate chain and its key, ready for Node's TLS options. */
export interface KeyPair {
  /** PEM of every CERTIFICATE block, leaf first. */
  cert: string;
  /** PEM of the private key. */
  key: string;
  /** The parsed leaf. */
  leaf: X509Certificate;
}

function readGo(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new GoTextError(goFsError(err, path));
  }
}

function skipped(types: string[]): string {
  return `[${types.join(' ')}]`;
}

/**
 * Loads a key pair like Go's `tls.LoadX509KeyPair` (certificate file first, then key file).
 * @throws GoTextError with Go's text, e.g. `tls: private key does not match public key`,
 *   `open /etc/sensu/tls/x.pem: no such file or directory`.
 */
export function loadX509KeyPair(certFile: string, keyFile: string): KeyPair {
  const certData = readGo(certFile);
  const keyData = readGo(keyFile);

  const certBlocks = pemBlocks(certData);
  const certs = certBlocks.filter((b) => b.type === 'CERTIFICATE');
  if (certs.length === 0) {
    if (certBlocks.length === 0) throw new GoTextError('tls: failed to find any PEM data in certificate input');
    throw new GoTextError(
      `tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: ${skipped(certBlocks.map((b) => b.type))}`,
    );
  }

  const keyBlocks = pemBlocks(keyData);
  const keyBlock = keyBlocks.find((b) => b.type === 'PRIVATE KEY' || b.type.endsWith(' PRIVATE KEY'));
  if (!keyBlock) {
    if (keyBlocks.length === 0) throw new GoTextError('tls: failed to find any PEM data in key input');
    if (keyBlocks.some((b) => b.type === 'CERTIFICATE')) {
      throw new GoTextError('tls: found a certificate rather than a key in the PEM for the private key');
    }
    throw new GoTextError(
      `tls: failed to find "PRIVATE KEY" PEM block in key input after skipping PEM blocks of the following types: ${skipped(keyBlocks.map((b) => b.type))}`,
    );
  }

  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certs[0]?.text ?? '');
  } catch {
    throw new GoTextError('x509: malformed certificate');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyBlock.text);
  } catch {
    throw new GoTextError('tls: failed to parse private key');
  }
  if (key.asymmetricKeyType !== leaf.publicKey.asymmetricKeyType) {
    throw new GoTextError('tls: private key type does not match public key type');
  }
  if (!leaf.checkPrivateKey(key)) throw new GoTextError('tls: private key does not match public key');
  return { cert: certs.map((b) => b.text).join('\n'), key: keyBlock.text, leaf };
}

/**
 * Loads a CA bundle like sensu-go's `LoadCACerts`.
 * @returns the PEM text of every certificate that parsed (for Node's `ca` option).
 * @throws GoTextError `Error reading CA file: …` or `No certificates could be parsed out of <path>`.
 */
export function loadCaCerts(path: string): string[] {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new GoTextError(`Error reading CA file: ${goFsError(err, path)}`);
  }
  const certs: string[] = [];
  for (const block of pemBlocks(data)) {
    // Go's AppendCertsFromPEM skips blocks with headers and anything that does not parse.
    if (block.type !== 'CERTIFICATE' || block.hasHeaders) continue;
    try {
      new X509Certificate(block.text);
      certs.push(block.text);
    } catch {
      continue;
    }
  }
  if (certs.length === 0) throw new GoTextError(`No certificates could be parsed out of ${path}`);
  return certs;
}
