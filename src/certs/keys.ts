/**
 * Key pairs for certificates: generation, PEM export in the three formats Sensu (Go) reads, and
 * conversion to the WebCrypto key @peculiar/x509 signs with. Keys travel as node:crypto
 * `KeyObject`s: they export to every format synchronously and never print their contents.
 */
import { generateKeyPair as generateNodeKeyPair, type KeyObject, type webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { subtle } from './x509.js';

const generate = promisify(generateNodeKeyPair);

/** Key algorithms rollout can generate. ECDSA P-256 is the default: a key takes well under a millisecond. */
export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'ed25519';

/**
 * How a private key is written: `pkcs8` (`BEGIN PRIVATE KEY`, any algorithm), `pkcs1`
 * (`BEGIN RSA PRIVATE KEY`, RSA only) or `sec1` (`BEGIN EC PRIVATE KEY`, ECDSA only).
 */
export type KeyFormat = 'pkcs8' | 'pkcs1' | 'sec1';

/** A generated key pair. */
export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/** Generates a key pair (off the main thread, in libuv's pool). */
export async function generateKeyPair(algorithm: KeyAlgorithm = 'ecdsa-p256'): Promise<KeyPair> {
  switch (algorithm) {
    case 'ecdsa-p256':
      return generate('ec', { namedCurve: 'P-256' });
    case 'ecdsa-p384':
      return generate('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
      return generate('rsa', { modulusLength: 2048 });
    case 'ed25519':
      return generate('ed25519', undefined);
  }
}

/**
 * PEM of a private key in the given format. Throws when the format does not fit the key
 * (PKCS#1 is RSA only, SEC1 is EC only).
 */
export function privateKeyPem(key: KeyObject, format: KeyFormat = 'pkcs8'): string {
  const type = key.asymmetricKeyType;
  if (format === 'pkcs1' && type !== 'rsa') throw new Error(`PKCS#1 holds RSA keys only, not ${type ?? 'this key'}`);
  if (format === 'sec1' && type !== 'ec') throw new Error(`SEC1 holds EC keys only, not ${type ?? 'this key'}`);
  return key.export({ type: format, format: 'pem' }) as string;
}

/** DER of the SubjectPublicKeyInfo: what certificates embed and key fingerprints hash. */
export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** The WebCrypto algorithms to import a signing key with and to sign with. */
interface SigningAlgorithms {
  importAs: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;
  signWith: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

const EC_CURVES: Record<string, { webName: string; hash: string }> = {
  prime256v1: { webName: 'P-256', hash: 'SHA-256' },
  secp384r1: { webName: 'P-384', hash: 'SHA-384' },
  secp521r1: { webName: 'P-521', hash: 'SHA-512' },
};

function signingAlgorithms(key: KeyObject): SigningAlgorithms {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAs: rsa, signWith: rsa };
  }
  if (type === 'ed25519') return { importAs: { name: 'Ed25519' }, signWith: { name: 'Ed25519' } };
  if (type === 'ec') {
    const curve = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve) return { importAs: { name: 'ECDSA', namedCurve: curve.webName }, signWith: { name: 'ECDSA', hash: curve.hash } };
    throw new Error(`EC curve ${key.asymmetricKeyDetails?.namedCurve ?? '?'} cannot sign certificates here: use P-256, P-384 or P-521`);
  }
  throw new Error(`${type ?? 'this'} keys cannot sign certificates here: use ECDSA, RSA or Ed25519`);
}

/** A private key ready for @peculiar/x509: the WebCrypto key plus the algorithm to sign with. */
export interface SigningKey {
  key: webcrypto.CryptoKey;
  algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

/** Converts a private `KeyObject` into a WebCrypto signing key (Node 20 has no `toCryptoKey`). */
export async function toSigningKey(privateKey: KeyObject): Promise<SigningKey> {
  const { importAs, signWith } = signingAlgorithms(privateKey);
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const key = await subtle.importKey('pkcs8', der, importAs, false, ['sign']);
  return { key, algorithm: signWith };
}
