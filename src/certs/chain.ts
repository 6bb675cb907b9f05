/**
 * Finds the path from a leaf to a trusted CA the way Go's crypto/x509 does for Sensu: every
 * certificate in the CA file is a trust anchor (intermediates included), the bundle's other
 * certificates are intermediates, and each parent must be a CA whose key verifies the child's
 * signature. Only node:crypto is used: `checkIssued` (names, key identifiers, key usage) and
 * `verify` (the signature).
 */
import type { X509Certificate } from 'node:crypto';

/** A certificate and the file it came from, so messages can name the file. */
export interface Located {
  cert: X509Certificate;
  file: string;
  role: 'leaf' | 'intermediate' | 'ca';
}

/** Why no chain was found. */
export interface ChainFailure {
  /** The last certificate reached: its issuer is nowhere to be found. */
  stuckAt: Located;
  /** A certificate named like that issuer whose key did not sign it (same name, different CA). */
  sameNameOtherKey?: Located;
  /** A certificate that did sign it but may not sign certificates (no CA:TRUE or no keyCertSign). */
  notCa?: Located;
}

/** The chain, leaf first and trust anchor last, or why there is none. */
export type ChainResult = { ok: true; chain: Located[] } | ({ ok: false } & ChainFailure);

const MAX_DEPTH = 8;

const same = (a: X509Certificate, b: X509Certificate): boolean => a.raw.equals(b.raw);

/** How `parent` relates to `child`: it issued it, it signed it but may not, or neither. */
type Relation = 'issued' | 'not-allowed' | 'other-key' | 'unrelated';

function relation(child: X509Certificate, parent: X509Certificate): Relation {
  let verified: boolean;
  try {
    verified = child.verify(parent.publicKey);
  } catch {
    verified = false;
  }
  const named = child.issuer === parent.subject;
  if (!verified) return named ? 'other-key' : 'unrelated';
  if (!named) return 'unrelated';
  // checkIssued adds key identifiers and keyCertSign; Go also wants CA:TRUE on every parent.
  return child.checkIssued(parent) && parent.ca ? 'issued' : 'not-allowed';
}

/** Builds the chain from `leaf` through `intermediates` to one of `anchors`. */
export function buildChain(leaf: Located, intermediates: readonly Located[], anchors: readonly Located[]): ChainResult {
  const chain: Located[] = [leaf];
  let current = leaf;
  let notCa: Located | undefined;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    // A certificate that is itself in the CA file is trusted as it is (Go does the same).
    if (anchors.some((a) => same(a.cert, current.cert))) return { ok: true, chain };
    const parents = [...anchors, ...intermediates.filter((i) => !chain.some((c) => same(c.cert, i.cert)))];
    let signer: Located | undefined;
    for (const p of parents) {
      const r = relation(current.cert, p.cert);
      // Remember a parent that signed but may not, so the message can say why.
      if (r === 'not-allowed') notCa ??= p;
      if (r === 'issued') {
        signer = p;
        break;
      }
    }
    if (!signer) break;
    chain.push(signer);
    if (anchors.includes(signer)) return { ok: true, chain };
    current = signer;
  }
  const sameNameOtherKey = [...anchors, ...intermediates].find((p) => relation(current.cert, p.cert) === 'other-key');
  return { ok: false, stuckAt: current, ...(sameNameOtherKey ? { sameNameOtherKey } : {}), ...(notCa ? { notCa } : {}) };
}
