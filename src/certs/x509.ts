/**
 * The one place that loads @peculiar/x509: its dependency tsyringe throws on import unless the
 * Reflect metadata polyfill (reflect-metadata) is loaded first, and it needs a WebCrypto provider,
 * which is Node's own. Everything else in rollout imports `x509` from here.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// The library is typed against the DOM's `Crypto`, which this project's lib settings leave out;
// Node's webcrypto is that same API.
x509.cryptoProvider.set(webcrypto);

export { x509 };
/** Node's WebCrypto `subtle`, the provider set above. */
export const subtle = webcrypto.subtle;
