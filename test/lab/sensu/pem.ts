/**
 * PEM block scanning with the rules of Go's `encoding/pem`, which decides what
 * `tls.LoadX509KeyPair` and `x509.CertPool.AppendCertsFromPEM` accept.
 */

/** One PEM block: its type (`CERTIFICATE`, `EC PRIVATE KEY`…) and raw text. */
export interface PemBlock {
  type: string;
  /** The whole block, BEGIN to END line, as Node's crypto APIs take it. */
  text: string;
  /** True when the block carries `Key: value` headers (Go skips those for certificates). */
  hasHeaders: boolean;
}

const BLOCK = /-----BEGIN ([^\n-]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Every well-formed PEM block in `data`, in order. */
export function pemBlocks(data: Buffer | string): PemBlock[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const type = m[1] ?? '';
    const body = m[2] ?? '';
    blocks.push({ type, text: m[0], hasHeaders: /^[^\n]*:/.test(body) });
  }
  return blocks;
}
