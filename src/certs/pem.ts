/**
 * PEM text, read the way Go's crypto/tls reads it: certificates are every `CERTIFICATE` block in
 * order (leaf first); the private key is the first block whose label ends in `PRIVATE KEY`.
 * Nothing here returns or prints key material: a parsed key is a node:crypto `KeyObject`, and
 * error messages come from our own words or OpenSSL's, which never quote the input.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** One `-----BEGIN X-----` … `-----END X-----` block. */
export interface PemBlock {
  /** The label, e.g. `CERTIFICATE`, `EC PRIVATE KEY`. */
  label: string;
  /** RFC 1421 headers (`Proc-Type`, `DEK-Info`), present on legacy encrypted keys. */
  headers: Record<string, string>;
  /** The whole block, BEGIN and END lines included. */
  text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order; anything between blocks is ignored, as Go does. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const headers: Record<string, string> = {};
    for (const line of (m[2] ?? '').split(/\r?\n/)) {
      const h = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (h?.[1] !== undefined) headers[h[1]] = h[2] ?? '';
    }
    blocks.push({ label: m[1] ?? '', headers, text: m[0] });
  }
  return blocks;
}

/** Text of a file's content: PEM is ASCII, so any byte-preserving decoding will do. */
export function asText(content: string | Uint8Array): string {
  return typeof content === 'string' ? content : Buffer.from(content).toString('latin1');
}

/** The certificates of a PEM file, or what stopped them being read. */
export type ParsedCertificates = { ok: true; certificates: X509Certificate[] } | { ok: false; reason: 'none' | 'der' | 'garbled'; message: string };

/**
 * Parses every `CERTIFICATE` block (leaf first). A block that does not parse fails the whole file,
 * as it does in Go; a DER file is recognised so the message can say how to convert it.
 */
export function parseCertificates(content: string | Uint8Array): ParsedCertificates {
  const blocks = pemBlocks(asText(content)).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) {
    if (typeof content !== 'string' && isDerCertificate(content)) {
      return { ok: false, reason: 'der', message: 'is a DER (binary) certificate, and Sensu reads PEM only' };
    }
    return { ok: false, reason: 'none', message: 'contains no certificate (no "BEGIN CERTIFICATE" block)' };
  }
  const certificates: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block.text));
    } catch (e) {
      return { ok: false, reason: 'garbled', message: `has a certificate that cannot be parsed (block ${i + 1} of ${blocks.length}: ${errorText(e)})` };
    }
  }
  return { ok: true, certificates };
}

function isDerCertificate(content: Uint8Array): boolean {
  try {
    new X509Certificate(Buffer.from(content));
    return true;
  } catch {
    return false;
  }
}

/** The encodings a PEM private key can come in. */
export type PrivateKeyFormat = 'pkcs8' | 'pkcs1' | 'sec1';

/** A parsed private key, or why there is none. */
export type ParsedPrivateKey =
  | { ok: true; key: KeyObject; format: PrivateKeyFormat }
  | { ok: false; reason: 'none' | 'encrypted' | 'garbled'; message: string };

const FORMAT_OF_LABEL: Record<string, PrivateKeyFormat> = {
  'PRIVATE KEY': 'pkcs8',
  'RSA PRIVATE KEY': 'pkcs1',
  'EC PRIVATE KEY': 'sec1',
};

/** Reads the private key of a PEM file: the first `… PRIVATE KEY` block, as Go's tls.X509KeyPair does. */
export function parsePrivateKey(content: string | Uint8Array): ParsedPrivateKey {
  const block = pemBlocks(asText(content)).find((b) => b.label === 'PRIVATE KEY' || b.label.endsWith(' PRIVATE KEY'));
  if (!block) return { ok: false, reason: 'none', message: 'contains no private key (no "BEGIN … PRIVATE KEY" block)' };
  if (block.label === 'ENCRYPTED PRIVATE KEY' || (block.headers['Proc-Type'] ?? '').includes('ENCRYPTED')) {
    return { ok: false, reason: 'encrypted', message: 'is encrypted with a passphrase, which Sensu cannot use' };
  }
  const format = FORMAT_OF_LABEL[block.label];
  if (!format) return { ok: false, reason: 'garbled', message: `holds a "${block.label}", which Sensu cannot read (use PKCS#8, PKCS#1 or SEC1)` };
  try {
    // Only the block itself goes to OpenSSL, so a certificate before it cannot confuse the decoder.
    return { ok: true, key: createPrivateKey({ key: block.text, format: 'pem' }), format };
  } catch (e) {
    return { ok: false, reason: 'garbled', message: `has a private key that cannot be parsed (${errorText(e)})` };
  }
}

/** An error's message without its stack; OpenSSL's messages never quote the input. */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}
