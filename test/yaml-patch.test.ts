/**
 * Comment-preserving patching of Sensu YAML configs, driven by test/fixtures/yaml/<case>/:
 * input.yml (absent = missing file), edits.json ({ description, file, edits, viaAlias?, error? })
 * and expected.yml (exact bytes).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffLines } from 'diff';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { CREATED_HEADER, patchConfig, readConfig, readConfigValues } from '../src/sensu/config-patch.js';
import type { ConfigEdit } from '../src/sensu/config-patch.js';
import { hasScheme } from '../src/sensu/urls.js';

interface Fixture {
  name: string;
  description: string;
  file: string;
  edits: ConfigEdit[];
  viaAlias?: string[];
  error?: string;
  input: string | undefined;
  expected: string | undefined;
}

const ROOT = join(import.meta.dirname, 'fixtures', 'yaml');

function loadFixtures(): Fixture[] {
  return readdirSync(ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const dir = join(ROOT, d.name);
      const read = (f: string): string | undefined => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
      const spec = JSON.parse(read('edits.json') ?? '{}') as Omit<Fixture, 'name' | 'input' | 'expected'>;
      return { ...spec, name: d.name, input: read('input.yml'), expected: read('expected.yml') };
    });
}

const fixtures = loadFixtures();
const ok = fixtures.filter((f) => f.error === undefined);
const bad = fixtures.filter((f) => f.error !== undefined);

function stringsIn(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(stringsIn);
  return [];
}

describe('patchConfig fixtures', () => {
  it('has the cases the design asks for', () => {
    expect(fixtures.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'packaged-agent',
        'block-list-quoted',
        'flow-sequence',
        'scalar-url',
        'single-quoted',
        'crlf',
        'anchors',
        'custom-api-url',
        'backend-commented',
        'already-secured',
        'missing-file',
        'trailing-comment-no-eol',
      ]),
    );
  });

  describe.each(ok.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    it(`gives the expected bytes (${f.description})`, () => {
      const r = patchConfig(f.input, f.edits, f.file);
      expect(r.text).toBe(f.expected);
      expect(r.changed).toBe(f.input !== f.expected);
    });

    it('is idempotent: patching its own output changes nothing', () => {
      const once = patchConfig(f.input, f.edits, f.file);
      const twice = patchConfig(once.text, f.edits, f.file);
      expect(twice.changed).toBe(false);
      expect(twice.text).toBe(once.text);
      expect(twice.changes).toEqual([]);
    });

    it('re-parses to the intended values, every other key untouched', () => {
      const before = readConfigValues(f.input, f.file);
      const after = readConfigValues(f.expected, f.file);
      const edited = new Set(f.edits.map((e) => e.key));
      const alias = new Set(f.viaAlias ?? []);
      for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
        if (!edited.has(key) && !alias.has(key)) expect(after[key], key).toEqual(before[key]);
      }
      for (const e of f.edits) {
        if (e.op === 'scheme')
          expect(
            stringsIn(after[e.key]).some((s) => hasScheme(s, e.from)),
            e.key,
          ).toBe(false);
      }
      const lastSet = new Map(f.edits.filter((e) => e.op === 'set').map((e) => [e.key, e.value] as const));
      for (const [key, value] of lastSet) expect(after[key], key).toEqual(value);
    });

    it('only rewrites lines that hold a URL or an edited key', () => {
      if (f.input === undefined) return;
      const removed = diffLines(f.input, f.expected ?? '')
        .filter((c) => c.removed)
        .flatMap((c) => c.value.split(/\r?\n/).filter((l) => l !== ''));
      const keys = f.edits.map((e) => e.key);
      for (const line of removed) expect(line.includes('://') || keys.some((k) => line.includes(k)), line).toBe(true);
    });

    it('reports changes and aliased keys', () => {
      const r = patchConfig(f.input, f.edits, f.file);
      const via = r.changes.filter((c) => c.via === 'alias').map((c) => c.key);
      expect(via.sort()).toEqual([...(f.viaAlias ?? [])].sort());
      if (r.changed) expect(r.changes.length).toBeGreaterThan(0);
    });
  });

  describe.each(bad.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    it(`throws an InputError naming file and line (${f.description})`, () => {
      let err: unknown;
      try {
        patchConfig(f.input, f.edits, f.file);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).issues).toContain(f.error);
      expect((err as InputError).place.file).toBe(f.file);
    });
  });
});

describe('patchConfig specifics', () => {
  const F = '/etc/sensu/agent.yml';

  it('keeps CRLF line endings everywhere, added lines included', () => {
    const crlf = fixtures.find((f) => f.name === 'crlf');
    // Guard against the fixture having been normalised to LF by an editor or git.
    expect(crlf?.input).toContain('\r\n');
    expect(crlf?.expected?.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('keeps a file without a final newline without one', () => {
    const f = fixtures.find((x) => x.name === 'trailing-comment-no-eol');
    expect(f?.input?.endsWith('\n')).toBe(false);
    expect(f?.expected?.endsWith('# managed by hand, do not template')).toBe(true);
  });

  it('writes a header comment when it creates a file, and nothing when there is nothing to write', () => {
    expect(patchConfig(undefined, [{ op: 'set', key: 'name', value: 'x' }], F).text).toBe(`${CREATED_HEADER}\nname: "x"\n`);
    expect(patchConfig('\n\n', [{ op: 'set', key: 'name', value: 'x' }], F).text).toBe(`${CREATED_HEADER}\nname: "x"\n`);
    const none = patchConfig(undefined, [{ op: 'scheme', key: 'backend-url', from: 'ws', to: 'wss' }], F);
    expect(none).toMatchObject({ text: '', changed: false });
    expect(none.notes.join('\n')).toMatch(/backend-url is not set in the file/);
  });

  it('replaces a scalar in its own quoting and compares numbers loosely', () => {
    const text = 'api-port: "3031"\nname: \'a\'\n';
    expect(patchConfig(text, [{ op: 'set', key: 'api-port', value: 3031 }], F).changed).toBe(false);
    expect(patchConfig(text, [{ op: 'set', key: 'name', value: "b's" }], F).text).toBe("api-port: \"3031\"\nname: 'b''s'\n");
    expect(patchConfig(text, [{ op: 'set', key: 'api-port', value: 3032 }], F).text).toBe("api-port: 3032\nname: 'a'\n");
  });

  it('quotes a plain value that would change type', () => {
    const r = patchConfig('a: x\nb: y\nc: z\n', [{ op: 'set', key: 'name', value: 'true' }], F);
    expect(r.text).toBe('a: x\nb: y\nc: z\nname: "true"\n');
    expect(readConfigValues(r.text, F).name).toBe('true');
  });

  it('grows and shrinks block lists by whole lines, keeping item comments', () => {
    const text = 'backend-url:\n  - "ws://a:8081" # A\n  - "ws://b:8081"\nname: x\n';
    const grown = patchConfig(text, [{ op: 'set', key: 'backend-url', value: ['wss://a:8081', 'wss://b:8081', 'wss://c:8081'] }], F);
    expect(grown.text).toBe('backend-url:\n  - "wss://a:8081" # A\n  - "wss://b:8081"\n  - "wss://c:8081"\nname: x\n');
    const shrunk = patchConfig(text, [{ op: 'set', key: 'backend-url', value: ['wss://a:8081'] }], F);
    expect(shrunk.text).toBe('backend-url:\n  - "wss://a:8081" # A\nname: x\n');
  });

  it('shrinks a list at the end of a file without a final newline, and grows it back the same way', () => {
    const edits: ConfigEdit[] = [
      { op: 'set', key: 'backend-url', value: ['wss://x:8081'] },
      { op: 'set', key: 'backend-url', value: ['wss://x:8081', 'wss://y:8081'] },
    ];
    const once = patchConfig('a: 1\nbackend-url:\n  - ws://x:8081', edits, F);
    expect(once.text).toBe('a: 1\nbackend-url:\n  - wss://x:8081\n  - wss://y:8081');
    expect(patchConfig(once.text, edits, F).changed).toBe(false);
  });

  it('rewrites a flow list of another length as a whole', () => {
    const r = patchConfig('backend-url: [ws://a:8081] # one\n', [{ op: 'set', key: 'backend-url', value: ['wss://a:8081', 'wss://b:8081'] }], F);
    expect(r.text).toBe('backend-url: [wss://a:8081, wss://b:8081] # one\n');
  });

  it('turns a single value into a flow list on the same line', () => {
    const r = patchConfig('backend-url: "ws://a:8081"  # main\n', [{ op: 'set', key: 'backend-url', value: ['wss://a:8081', 'wss://b:8081'] }], F);
    expect(r.text).toBe('backend-url: ["wss://a:8081", "wss://b:8081"]  # main\n');
  });

  it('replaces a block list by a scalar, keeping its anchor and key-line comment', () => {
    const r = patchConfig('a: &x # note\n  - 1\n  - 2\nb: 3\n', [{ op: 'set', key: 'a', value: 'one' }], F);
    expect(r.text).toBe('a: &x "one" # note\nb: 3\n');
  });

  it('replaces a block scalar without swallowing the next line', () => {
    const r = patchConfig('motd: |\n  hello\n  world\nname: x\n', [{ op: 'set', key: 'motd', value: 'hi' }], F);
    expect(r.text).toBe('motd: hi\nname: x\n');
  });

  it('removes a key and its value lines, leaving comments above', () => {
    const text = '# the list\nbackend-url:\n  - ws://a\n  - ws://b\n# name\nname: x';
    expect(patchConfig(text, [{ op: 'remove', key: 'backend-url' }], F).text).toBe('# the list\n# name\nname: x');
    expect(patchConfig(text, [{ op: 'remove', key: 'name' }], F).text).toBe('# the list\nbackend-url:\n  - ws://a\n  - ws://b\n# name');
    expect(patchConfig(text, [{ op: 'remove', key: 'nope' }], F).changed).toBe(false);
  });

  it('places key-file right after cert-file, and an unknown pair after its cert', () => {
    const r = patchConfig('cert-file: /c.pem\nname: x\n', [{ op: 'set', key: 'key-file', value: '/k.pem' }], F);
    expect(r.text).toBe('cert-file: /c.pem\nkey-file: /k.pem\nname: x\n');
    const d = patchConfig('dashboard-cert-file: /d.pem\nz: 1\n', [{ op: 'set', key: 'dashboard-key-file', value: '/dk.pem' }], F);
    expect(d.text).toBe('dashboard-cert-file: /d.pem\ndashboard-key-file: /dk.pem\nz: 1\n');
  });

  it('does not take a "#key:" line inside a block scalar for a commented-out example', () => {
    const text = 'script: |\n  #trusted-ca-file: here\n  echo\nname: x\n';
    const r = patchConfig(text, [{ op: 'set', key: 'trusted-ca-file', value: '/ca.pem' }], F);
    expect(r.text).toBe(`${text}trusted-ca-file: /ca.pem\n`);
  });

  it('inserts before a document end marker', () => {
    const r = patchConfig('# only comments\n...\n', [{ op: 'set', key: 'name', value: 'x' }], F);
    expect(r.text).toBe('# only comments\nname: "x"\n...\n');
  });

  it('keeps a byte-order mark and does not indent new keys because of it', () => {
    const r = patchConfig('\uFEFFname: x\n', [{ op: 'set', key: 'namespace', value: 'ops' }], F);
    expect(r.text).toBe('\uFEFFname: x\nnamespace: ops\n');
  });

  it('replaces an alias by its new literal on set, leaving the anchor alone', () => {
    const r = patchConfig('base: &c /old.pem\ncert-file: *c\n', [{ op: 'set', key: 'cert-file', value: '/new.pem' }], F);
    expect(r.text).toBe('base: &c /old.pem\ncert-file: /new.pem\n');
    expect(r.notes.join()).toMatch(/was an alias/);
  });

  it('follows a shared anchor on set and reports it, or refuses when asked', () => {
    const text = 'cert-file: &c /old.pem\ndashboard-cert-file: *c\n';
    const r = patchConfig(text, [{ op: 'set', key: 'cert-file', value: '/new.pem' }], F);
    expect(r.text).toBe('cert-file: &c /new.pem\ndashboard-cert-file: *c\n');
    expect(r.changes).toContainEqual({ key: 'dashboard-cert-file', before: '/old.pem', after: '/new.pem', via: 'alias' });
    expect(() => patchConfig(text, [{ op: 'set', key: 'cert-file', value: '/new.pem' }], F, { sharedAnchors: 'refuse' })).toThrow(InputError);
  });

  it('refuses to delete an anchor that other keys still use', () => {
    const text = 'backend-url:\n  - &a ws://a:8081\n  - ws://b:8081\nlabels: {primary: *a}\n';
    expect(() => patchConfig(text, [{ op: 'remove', key: 'backend-url' }], F)).toThrow(/would delete an anchor/);
    expect(() =>
      patchConfig(
        text,
        [
          { op: 'remove', key: 'backend-url' },
          { op: 'set', key: 'backend-url', value: 'x' },
        ],
        F,
      ),
    ).toThrow(InputError);
  });

  it('keeps an anchor on a list item edited in place, so its aliases follow (reported)', () => {
    const text = 'backend-url:\n  - &a ws://a:8081\n  - ws://b:8081\nlabels: {primary: *a}\n';
    const r = patchConfig(text, [{ op: 'set', key: 'backend-url', value: ['wss://b:8081'] }], F);
    expect(r.text).toBe('backend-url:\n  - &a wss://b:8081\nlabels: {primary: *a}\n');
    expect(r.changes).toContainEqual({ key: 'labels', before: { primary: 'ws://a:8081' }, after: { primary: 'wss://b:8081' }, via: 'alias' });
  });

  it('rewrites a list reached through an alias where the list is written', () => {
    const text = 'x-backends: &b\n  - ws://a:8081\nbackend-url: *b\n';
    const r = patchConfig(text, [{ op: 'scheme', key: 'backend-url', from: 'ws', to: 'wss' }], F);
    expect(r.text).toBe('x-backends: &b\n  - wss://a:8081\nbackend-url: *b\n');
    expect(r.changes.find((c) => c.key === 'x-backends')?.via).toBe('alias');
  });

  it('adds an explicit key for a URL that only comes from a merge key', () => {
    const text = 'defaults: &d\n  backend-url: ws://a:8081\n<<: *d\nname: x\n';
    const r = patchConfig(text, [{ op: 'scheme', key: 'backend-url', from: 'ws', to: 'wss' }], F);
    expect(readConfigValues(r.text, F)['backend-url']).toBe('wss://a:8081');
    expect(readConfigValues(r.text, F).defaults).toEqual({ 'backend-url': 'ws://a:8081' });
    expect(patchConfig(r.text, [{ op: 'scheme', key: 'backend-url', from: 'ws', to: 'wss' }], F).changed).toBe(false);
  });

  it('leaves URLs of other schemes alone and never matches ws:// inside wss://', () => {
    const text = 'backend-url: [wss://a:8081, ws://b:8081, http://c:8081]\n';
    const r = patchConfig(text, [{ op: 'scheme', key: 'backend-url', from: 'ws', to: 'wss' }], F);
    expect(r.text).toBe('backend-url: [wss://a:8081, wss://b:8081, http://c:8081]\n');
  });

  it('refuses a scheme change on a value that is not URLs', () => {
    expect(() => patchConfig('backend-url: {a: 1}\n', [{ op: 'scheme', key: 'backend-url', from: 'ws', to: 'wss' }], F)).toThrow(
      /must be a URL or a list of URLs/,
    );
  });

  it('refuses several documents and broken YAML with file and line', () => {
    expect(() => readConfigValues('a: 1\n---\nb: 2\n', F)).toThrow(InputError);
    try {
      readConfigValues('a: 1\nb: [1, 2\n', F);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).issues[0]).toMatch(/^\/etc\/sensu\/agent\.yml:\d+:\d+: /);
    }
  });

  it('refuses a flow mapping at the top level', () => {
    expect(() => patchConfig('{name: x}\n', [{ op: 'set', key: 'a', value: 1 }], F)).toThrow(/flow mapping/);
  });

  it('reads values with merge keys resolved, and key lines', () => {
    expect(readConfigValues(undefined, F)).toEqual({});
    expect(readConfig('# c\nname: x\nbackend-url:\n  - ws://a\n', F)).toEqual({
      values: { name: 'x', 'backend-url': ['ws://a'] },
      lines: { name: 2, 'backend-url': 3 },
    });
  });
});
