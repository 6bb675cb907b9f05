/** Unified diff rendering of config changes, with secrets redacted (src/ui/diff.ts). */
import { describe, expect, it } from 'vitest';
import { REDACTED_CHANGED, renderDiff } from '../src/ui/diff.js';

const SECRET = 'hunter2-SECRET';
const PATH = '/etc/sensu/agent.yml';

const agentYml = (scheme: string, extra = ''): string =>
  [
    '---',
    '# Sensu agent configuration — agent-01',
    'name: "agent-01"',
    'namespace: "default"',
    `password: "${SECRET}"`,
    'backend-url:',
    `  - "${scheme}://backend-1:8081"`,
    `  - "${scheme}://backend-2:8081"`,
    extra,
    'api-host: "127.0.0.11"',
    'api-port: 3031',
    'keepalive-interval: 5',
    'retry-min: 1s',
    'retry-max: 120s',
    '',
  ]
    .filter((l, i, a) => l !== '' || i === a.length - 1)
    .join('\n');

const before = agentYml('ws');
const after = agentYml('wss', 'trusted-ca-file: "/etc/sensu/tls/ca.pem"');

describe('renderDiff', () => {
  it('renders headers, one hunk with 3 lines of context, and ends with a newline', () => {
    const out = renderDiff({ before, after, host: 'agent-01', path: PATH });
    expect(out).toBe(
      [
        `--- agent-01:${PATH}`,
        `+++ agent-01:${PATH}`,
        '@@ -4,8 +4,9 @@',
        ' namespace: "default"',
        ' password: [redacted]',
        ' backend-url:',
        '-  - "ws://backend-1:8081"',
        '-  - "ws://backend-2:8081"',
        '+  - "wss://backend-1:8081"',
        '+  - "wss://backend-2:8081"',
        '+trusted-ca-file: "/etc/sensu/tls/ca.pem"',
        ' api-host: "127.0.0.11"',
        ' api-port: 3031',
        ' keepalive-interval: 5',
        '',
      ].join('\n'),
    );
  });

  it('returns an empty string when nothing changes', () => {
    expect(renderDiff({ before, after: before, path: PATH })).toBe('');
  });

  it('honours the context option and splits distant changes into hunks', () => {
    const lines = Array.from({ length: 30 }, (_, i) => `key-${i}: ${i}`);
    const changed = lines.map((l, i) => (i === 5 || i === 25 ? `${l}0` : l));
    const out = renderDiff({ before: lines.join('\n') + '\n', after: changed.join('\n') + '\n', path: 'x.yml', context: 1 });
    expect(out.split('\n').filter((l) => l.startsWith('@@'))).toEqual(['@@ -5,3 +5,3 @@', '@@ -25,3 +25,3 @@']);
    const full = renderDiff({ before: lines.join('\n') + '\n', after: changed.join('\n') + '\n', path: 'x.yml' });
    expect(full.split('\n').filter((l) => l.startsWith(' ')).length).toBe(12);
  });

  it('colours only when asked', () => {
    const plain = renderDiff({ before, after, path: PATH, color: false });
    expect(plain).not.toContain('\x1b');
    const coloured = renderDiff({ before, after, path: PATH, color: true });
    expect(coloured).toContain('\x1b[31m-  - "ws://backend-1:8081"\x1b[39m');
    expect(coloured).toContain('\x1b[32m+trusted-ca-file: "/etc/sensu/tls/ca.pem"\x1b[39m');
    expect(coloured).toContain('\x1b[36m@@ -4,8 +4,9 @@\x1b[39m');
    expect(coloured).toContain(`\x1b[1m--- ${PATH}\x1b[22m`);
    // Stripping the escapes gives the plain rendering back.
    // eslint-disable-next-line no-control-regex
    expect(coloured.replace(/\x1b\[\d+m/g, '')).toBe(plain);
  });

  it('uses /dev/null for a file that does not exist yet', () => {
    const out = renderDiff({ before: undefined, after: 'name: x\n', host: 'h', path: PATH });
    expect(out).toBe(`--- /dev/null\n+++ h:${PATH}\n@@ -0,0 +1,1 @@\n+name: x\n`);
  });

  it('never shows a planted password, whatever the rendering', () => {
    const withPw = (pw: string): string => before.replace(SECRET, pw);
    const cases: [string | undefined, string | undefined][] = [
      [before, after],
      [before, withPw('n3w-hunter2-SECRET')],
      [undefined, before],
      [before, undefined],
      [before, `${before}# old password was ${SECRET}\n`],
      [before, after.replace('name: "agent-01"', `name: "agent-01"\nlabels: {owner: ops, api_token: "${SECRET}"}`)],
      [before, after.replace('backend-1:8081', `agent:${SECRET}@backend-1:8081`)],
    ];
    for (const [b, a] of cases) {
      for (const color of [false, true]) {
        for (const context of [0, 3, Infinity]) {
          const out = renderDiff({ before: b, after: a, path: PATH, color, context, secrets: [SECRET] });
          expect(out).not.toContain(SECRET);
          expect(out).not.toContain('hunter2');
        }
      }
    }
  });

  it('hides secrets even without being told them, and shows that a secret changed', () => {
    const out = renderDiff({ before, after: before.replace(SECRET, 'correct-horse'), path: PATH });
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain('correct-horse');
    expect(out).toContain('-password: [redacted]');
    expect(out).toContain(`+password: ${REDACTED_CHANGED}`);
  });

  it('hides a secret that moved from a secret key to another one', () => {
    const out = renderDiff({ before: 'password: moved-secret-42\n', after: 'note: moved-secret-42\n', path: PATH });
    expect(out).not.toContain('moved-secret-42');
  });

  it('keeps key-file visible: it is a path, not a key', () => {
    const out = renderDiff({ before: 'cert-file: /c.pem\n', after: 'cert-file: /c.pem\nkey-file: /etc/sensu/tls/agent-key.pem\n', path: PATH });
    expect(out).toContain('+key-file: /etc/sensu/tls/agent-key.pem');
  });

  it('hides inline private keys, not certificates', () => {
    const pem = (kind: string, body: string): string[] => [`    -----BEGIN ${kind}-----`, `    ${body}`, `    -----END ${kind}-----`];
    const text = ['tls:', '  cert: |', ...pem('CERTIFICATE', 'MIIBcertificateBODY'), '  key: |', ...pem('PRIVATE KEY', 'MIIEvQprivateKEYbody'), ''].join('\n');
    const out = renderDiff({ before: undefined, after: text, path: '/etc/x.yml' });
    expect(out).toContain('+    -----BEGIN CERTIFICATE-----\n+    MIIBcertificateBODY\n');
    expect(out).not.toContain('BEGIN PRIVATE KEY');
    expect(out).not.toContain('MIIEvQprivateKEYbody');
    expect(out.split('\n')).toHaveLength(text.split('\n').length + 3);
  });

  it('redacts environment files too', () => {
    const out = renderDiff({
      before: 'SENSU_PASSWORD="s3cr3t-pw"\nSENSU_BACKEND_URL="ws://a:8081"\n',
      after: 'SENSU_PASSWORD="s3cr3t-pw"\nSENSU_BACKEND_URL="wss://a:8081"\n',
      path: '/etc/default/sensu-agent',
    });
    expect(out).toContain(' SENSU_PASSWORD=[redacted]');
    expect(out).not.toContain('s3cr3t-pw');
  });

  it('shows control characters instead of sending them to the terminal', () => {
    const out = renderDiff({ before: 'a: 1\n', after: 'a: "\x1b[2J"\n', path: 'x' });
    expect(out).toContain('+a: "^[[2J"');
    expect(out).not.toContain('\x1b');
  });

  it('hides CR of CRLF files, but shows it when the line endings change', () => {
    const crlf = renderDiff({ before: 'a: 1\r\nb: 2\r\n', after: 'a: 1\r\nb: 3\r\n', path: 'x' });
    expect(crlf).not.toContain('\r');
    expect(crlf).toContain('+b: 3\n');
    const converted = renderDiff({ before: 'a: 1\r\n', after: 'a: 1\n', path: 'x' });
    expect(converted).toContain('-a: 1^M');
    expect(converted).toContain('+a: 1\n');
  });

  it('accepts a ready-made label', () => {
    expect(renderDiff({ before: 'a: 1\n', after: 'a: 2\n', label: 'backend-1:/etc/sensu/backend.yml' }).split('\n').slice(0, 2)).toEqual([
      '--- backend-1:/etc/sensu/backend.yml',
      '+++ backend-1:/etc/sensu/backend.yml',
    ]);
  });
});
