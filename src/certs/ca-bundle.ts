/**
 * CA bundles for a rotation: the new CA first, then the certificates of an old CA file that the
 * new one lacks, so whoever reads the bundle trusts both while certificates change over.
 */
import { pemBlocks } from './pem.js';

const body = (pem: string): string => pem.replace(/-----[A-Z ]+-----|\s/g, '');

/**
 * `first` followed by every certificate of `others` it does not already hold; `first` alone,
 * byte for byte, when there is nothing to add.
 */
export function caBundle(first: string, ...others: (string | undefined)[]): string {
  const have = new Set(
    pemBlocks(first)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => body(b.text)),
  );
  const kept: string[] = [];
  for (const other of others) {
    for (const b of pemBlocks(other ?? '')) {
      if (b.label !== 'CERTIFICATE' || have.has(body(b.text))) continue;
      have.add(body(b.text));
      kept.push(`${b.text}\n`);
    }
  }
  if (kept.length === 0) return first;
  return `${first.endsWith('\n') ? first : `${first}\n`}${kept.join('')}`;
}

/** Number of certificates in a PEM text. */
export function certCount(text: string): number {
  return pemBlocks(text).filter((b) => b.label === 'CERTIFICATE').length;
}
