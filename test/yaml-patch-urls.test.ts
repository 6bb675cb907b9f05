/** Sensu URL parsing and scheme rewriting (src/sensu/urls.ts). */
import { describe, expect, it } from 'vitest';
import {
  backendUrlProblem,
  backendUrlTarget,
  dialedHosts,
  effectivePort,
  hasScheme,
  isWildcardHost,
  parseInitialCluster,
  parseListenAddress,
  parseSensuUrl,
  rewriteSchemes,
  splitUrlList,
} from '../src/sensu/urls.js';

describe('parseSensuUrl', () => {
  it.each([
    ['ws://backend-1:8081', { scheme: 'ws', host: 'backend-1', port: 8081, rest: '' }],
    ['wss://sensu.example.com', { scheme: 'wss', host: 'sensu.example.com', port: undefined, rest: '' }],
    ['ws://[2001:db8::1]:8081/', { scheme: 'ws', host: '2001:db8::1', port: 8081, rest: '/' }],
    ['HTTP://10.0.0.5:8080/api?x=1', { scheme: 'http', host: '10.0.0.5', port: 8080, rest: '/api?x=1' }],
    ['https://user:pw@host:443', { scheme: 'https', host: 'host', port: 443, rest: '' }],
  ])('%s', (text, want) => {
    expect(parseSensuUrl(text)).toEqual({ text, ...want });
  });

  it('rejects what is not scheme://host', () => {
    expect(parseSensuUrl('backend-1:8081')).toBeUndefined();
    expect(parseSensuUrl('ws://:8081')).toBeUndefined();
  });
});

describe('backend-url targets', () => {
  it('adds 8081 when the port is missing, keeps an explicit 80', () => {
    expect(backendUrlTarget('ws://a')).toEqual({ scheme: 'ws', host: 'a', port: 8081 });
    expect(backendUrlTarget('wss://a:80')).toEqual({ scheme: 'wss', host: 'a', port: 80 });
    expect(backendUrlTarget('http://a:8081')).toBeUndefined();
  });

  it('says what sensu-agent says about a bad scheme', () => {
    expect(backendUrlProblem('http://a:8081')).toBe('backend URL (http://a:8081) must have ws:// or wss:// scheme');
    expect(backendUrlProblem('wss://a')).toBeUndefined();
  });

  it('knows default ports per scheme', () => {
    const port = (u: string): number | undefined => {
      const p = parseSensuUrl(u);
      return p ? effectivePort(p) : undefined;
    };
    expect([port('ws://a'), port('https://a'), port('http://a'), port('http://a:8080')]).toEqual([8081, 443, 80, 8080]);
  });
});

describe('rewriteSchemes', () => {
  it.each([
    ['ws://a:8081', 'wss://a:8081'],
    ['"ws://a:8081"', '"wss://a:8081"'],
    ["'ws://a:8081'", "'wss://a:8081'"],
    ['[ws://a:8081, "ws://b:8081"]', '[wss://a:8081, "wss://b:8081"]'],
    ['ws://a:8081 ws://b:8081', 'wss://a:8081 wss://b:8081'],
    ['wss://a:8081', 'wss://a:8081'],
    ['ws://a/ws://b', 'wss://a/ws://b'],
    ['WS://A:8081', 'wss://A:8081'],
    ['news://x', 'news://x'],
  ])('ws → wss in %s', (text, want) => {
    expect(rewriteSchemes(text, 'ws', 'wss')).toBe(want);
  });

  it('handles etcd lists: comma-separated and name=url', () => {
    expect(rewriteSchemes('http://a:2379,http://b:2379', 'http', 'https')).toBe('https://a:2379,https://b:2379');
    expect(rewriteSchemes('b1=http://a:2380,b2=http://b:2380', 'http', 'https')).toBe('b1=https://a:2380,b2=https://b:2380');
  });

  it('is idempotent and detects remaining schemes', () => {
    const once = rewriteSchemes('ws://a ws://b', 'ws', 'wss');
    expect(rewriteSchemes(once, 'ws', 'wss')).toBe(once);
    expect(hasScheme(once, 'ws')).toBe(false);
    expect(hasScheme('x=ws://a', 'ws')).toBe(true);
  });
});

describe('lists, listen addresses, dialed hosts', () => {
  it('splits URL lists on commas and spaces', () => {
    expect(splitUrlList(' https://a:2379, https://b:2379  https://c ')).toEqual(['https://a:2379', 'https://b:2379', 'https://c']);
  });

  it('parses etcd-initial-cluster', () => {
    expect(parseInitialCluster('b1=http://10.0.0.5:2380,b2=http://10.0.0.6:2380')).toEqual([
      { name: 'b1', url: 'http://10.0.0.5:2380' },
      { name: 'b2', url: 'http://10.0.0.6:2380' },
    ]);
  });

  it('parses listen addresses and spots wildcards', () => {
    expect(parseListenAddress('[::]:8080')).toEqual({ host: '::', port: 8080 });
    expect(parseListenAddress('10.0.0.5:8080')).toEqual({ host: '10.0.0.5', port: 8080 });
    expect(parseListenAddress('localhost')).toEqual({ host: 'localhost', port: undefined });
    expect(['[::]', '::', '0.0.0.0', ''].every(isWildcardHost)).toBe(true);
    expect(isWildcardHost('127.0.0.1')).toBe(false);
  });

  it('lists the hosts agents dial, IPs apart from names, deduplicated', () => {
    expect(dialedHosts(['wss://Backend-1:8081', 'wss://backend-1:8082', 'wss://10.0.0.5', 'ws://[::1]:8081', 'wss://[::]:8081', 'junk'])).toEqual([
      { host: 'Backend-1', kind: 'dns' },
      { host: '10.0.0.5', kind: 'ip' },
      { host: '::1', kind: 'ip' },
    ]);
  });
});
