/** Secret redaction (src/ui/redact.ts). */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isSecretKey, redact, redactText, REDACTED, sweepSecrets } from '../src/ui/redact.js';

describe('isSecretKey', () => {
  it.each([
    ['password', true],
    ['etcd-password', true],
    ['SENSU_PASSWORD', true],
    ['passwd', true],
    ['db_pass', true],
    ['client-secret', true],
    ['secret_key', true],
    ['api-token', true],
    ['etcd-initial-cluster-token', true],
    ['api-key', true],
    ['apikey', true],
    ['access_key', true],
    ['private-key', true],
    ['credentials', true],
    ['key-file', false],
    ['etcd-peer-key-file', false],
    ['password-file', false],
    ['token-path', false],
    ['cert-file', false],
    ['keepalive-interval', false],
    ['passive', false],
    ['user', false],
    ['backend-url', false],
    ['redact', false],
  ])('%s → %s', (name, want) => {
    expect(isSecretKey(name)).toBe(want);
  });
});

describe('redact', () => {
  it('keeps the number of lines and everything that is not secret', () => {
    const text = 'name: x\npassword: "p@ss word"  # old\nkey-file: /k.pem\n';
    expect(redact(text)).toBe(`name: x\npassword: ${REDACTED}\nkey-file: /k.pem\n`);
  });

  it('hides commented-out passwords and env assignments, export or not', () => {
    expect(redact('#password: "P@ssw0rd!"\n')).toBe(`#password: ${REDACTED}\n`);
    expect(redact('export SENSU_PASSWORD=abc\n# SENSU_PASSWORD=old-one\n')).toBe(`export SENSU_PASSWORD=${REDACTED}\n# SENSU_PASSWORD=${REDACTED}\n`);
  });

  it('hides block and multi-line values of secret keys, and stops at the next key', () => {
    const text = 'auth:\n  password: |\n    line-one\n    line-two\n  user: agent\ntoken: "first\n  second"\nname: x';
    expect(redact(text)).toBe(`auth:\n  password: |\n    ${REDACTED}\n    ${REDACTED}\n  user: agent\ntoken: ${REDACTED}\n  ${REDACTED}\nname: x`);
  });

  it('hides secrets in flow mappings and URL passwords', () => {
    expect(redact('labels: {team: ops, api_token: "abc,def", x: 1}\n')).toBe(`labels: {team: ops, api_token: ${REDACTED}, x: 1}\n`);
    expect(redact('api-url: https://admin:pa55@sensu:8080\n')).toBe(`api-url: https://admin:${REDACTED}@sensu:8080\n`);
  });

  it('hides private keys wherever they are, on one line or several', () => {
    // Keys made here, never committed: an EC key in one escaped line, an RSA key as a block.
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    const one = `key: "${ec.trimEnd().replace(/\n/g, '\\n')}\\n"\n`;
    expect(redact(one)).toBe(`key: "${REDACTED}\\n"\n`);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const lines = rsa.trimEnd().split('\n');
    const block = `tls-key: |\n${lines.map((l) => `  ${l}\n`).join('')}name: x\n`;
    expect(redact(block)).toBe(`tls-key: |\n${lines.map(() => `  ${REDACTED}\n`).join('')}name: x\n`);
  });

  it('finds a secret reached through an anchor and hides it elsewhere too', () => {
    const text = 'defaults: &pw "anchored-secret"\npassword: *pw\nnote: anchored-secret\n';
    const r = redactText(text);
    expect(r.text).not.toContain('anchored-secret');
    expect(r.found).toContain('anchored-secret');
  });

  it('sweeps known secrets in their raw and escaped spellings, line by line', () => {
    const secret = 'a"b\'c$d';
    const text = `x: "a\\"b'c$d"\ny: 'a"b''c$d'\nZ="a\\"b'c\\$d"\nw: a"b'c$d\n`;
    expect(sweepSecrets(text, [secret])).toBe(`x: "${REDACTED}"\ny: '${REDACTED}'\nZ="${REDACTED}"\nw: ${REDACTED}\n`);
    expect(redact('pem: |\n  L1-secret-part\n  L2-secret-part\n', { secrets: ['L1-secret-part\nL2-secret-part'] })).toBe(
      `pem: |\n  ${REDACTED}\n  ${REDACTED}\n`,
    );
  });

  it('keeps CRLF line endings', () => {
    expect(redact('password: x\r\nname: y\r\n')).toBe(`password: ${REDACTED}\r\nname: y\r\n`);
  });
});
