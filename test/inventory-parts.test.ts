/**
 * The inventory's building blocks on their own: host ranges, SSH arguments, templating,
 * suggestions and the Secret wrapper.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { expandHostPattern } from '../src/inventory/ranges.js';
import { isSecretVar } from '../src/inventory/schema.js';
import { parseJumpSpec, parseSshArgs, shellWords } from '../src/inventory/ssh-args.js';
import { editDistance, suggest } from '../src/inventory/suggest.js';
import { renderTemplate } from '../src/inventory/template.js';
import type { VarLookup } from '../src/inventory/template.js';
import { redactSecrets, Secret } from '../src/secret.js';

describe('expandHostPattern', () => {
  const hosts = (key: string): string[] => {
    const r = expandHostPattern(key);
    if (!r.ok) throw new Error(r.message);
    return r.hosts;
  };

  it('expands numeric ranges, keeping zero padding, with strides', () => {
    expect(hosts('agent-[01:03]')).toEqual(['agent-01', 'agent-02', 'agent-03']);
    expect(hosts('agent-[8:11]')).toEqual(['agent-8', 'agent-9', 'agent-10', 'agent-11']);
    expect(hosts('web[1:10:2]')).toEqual(['web1', 'web3', 'web5', 'web7', 'web9']);
    expect(hosts('n[001:100:50]')).toEqual(['n001', 'n051']);
    expect(hosts('x[:2]')).toEqual(['x0', 'x1', 'x2']);
  });

  it('expands letter ranges and several ranges in one key', () => {
    expect(hosts('db-[a:c]')).toEqual(['db-a', 'db-b', 'db-c']);
    expect(hosts('[y:B]')).toEqual(['y', 'z', 'A', 'B']);
    expect(hosts('r[1:2]-[a:b].example.com')).toEqual(['r1-a.example.com', 'r1-b.example.com', 'r2-a.example.com', 'r2-b.example.com']);
  });

  it('splits a port off, also after a range or an IPv6 address', () => {
    expect(expandHostPattern('web[1:2]:2222')).toEqual({ ok: true, hosts: ['web1', 'web2'], port: 2222 });
    expect(expandHostPattern('[::1]:22')).toEqual({ ok: true, hosts: ['::1'], port: 22 });
    expect(expandHostPattern('fe80::1')).toEqual({ ok: true, hosts: ['fe80::1'] });
    expect(expandHostPattern('host:0')).toEqual({ ok: false, message: 'bad port "0" after ":" (expected integer 1–65535)' });
    expect(expandHostPattern('a b')).toEqual({ ok: false, message: 'a host name cannot contain spaces' });
  });
});

describe('parseSshArgs', () => {
  it('reads -J, -Jspec, -o ProxyJump in its spellings, and bundled flags', () => {
    expect(parseSshArgs('-J bastion').proxyJump).toEqual([{ host: 'bastion' }]);
    expect(parseSshArgs('-Jops@bastion:2200').proxyJump).toEqual([{ user: 'ops', host: 'bastion', port: 2200 }]);
    expect(parseSshArgs('-oProxyJump=a,b:23').proxyJump).toEqual([{ host: 'a' }, { host: 'b', port: 23 }]);
    expect(parseSshArgs('-o "proxyjump = a"').proxyJump).toEqual([{ host: 'a' }]);
    const bundled = parseSshArgs('-4vJ jump -p 2200 -o ProxyCommand="ssh -W %h:%p x"');
    expect(bundled.proxyJump).toEqual([{ host: 'jump' }]);
    expect(bundled.ignored).toEqual(['-4', '-v', '-p 2200', '-o ProxyCommand=ssh -W %h:%p x']);
    expect(bundled.notes).toEqual(['ProxyCommand cannot be honoured: use -J / ProxyJump for jump hosts']);
  });

  it('parses jump specs with users containing @ and ssh:// URIs', () => {
    expect(parseJumpSpec('me@corp@gw')).toEqual([{ user: 'me@corp', host: 'gw' }]);
    expect(parseJumpSpec('ssh://gw:2022')).toEqual([{ host: 'gw', port: 2022 }]);
    expect(parseJumpSpec('none')).toEqual([]);
    expect(parseJumpSpec('@gw')).toBe('empty user in jump host "@gw"');
  });

  it('splits words like a shell', () => {
    expect(shellWords(`-o 'A=b c' -o "D=\\"e\\"" f\\ g`)).toEqual(['-o', 'A=b c', '-o', 'D="e"', 'f g']);
    expect(() => shellWords('"open')).toThrow('unbalanced " quote');
  });
});

describe('renderTemplate', () => {
  const vars: Record<string, unknown> = { a: 'A', n: 7, yes: true, list: ['x', '{{ a }}'], loop: '{{ loop }}', none: null };
  const lookup: VarLookup = (name) => (Object.hasOwn(vars, name) ? { found: true, value: vars[name] } : { found: false });
  const render = (value: unknown): unknown => {
    const r = renderTemplate(value, lookup);
    return r.ok ? r.value : `error: ${r.message}`;
  };

  it('substitutes variables, recursively, keeping the type of a lone reference', () => {
    expect(render('pki/{{a}}-{{ n }}.pem')).toBe('pki/A-7.pem');
    expect(render('{{ list }}')).toEqual(['x', 'A']);
    expect(render('{{ n }}')).toBe(7);
    expect(render('flag={{ yes }}, empty={{ none }}')).toBe('flag=True, empty=');
    expect(render(['{{ a }}', 5])).toEqual(['A', 5]);
    expect(render('no templates')).toBe('no templates');
  });

  it('refuses what it cannot do', () => {
    expect(render('{{ list }}-x')).toBe('error: variable "list" is a list or mapping and cannot be inserted into text');
    expect(render('{{ loop }}')).toBe('error: template variables nest too deep: does a variable refer to itself?');
    expect(render('{{ a + 1 }}')).toMatch(/^error: unsupported template \{\{ a \+ 1 \}\}/);
    expect(renderTemplate('{{ a | b }}', lookup, false)).toEqual({
      ok: false,
      message: 'unsupported template syntax: rollout substitutes only {{ variable }} (no filters, expressions or {% %} blocks)',
    });
  });
});

describe('suggest', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('ansible_prot', 'ansible_port')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests close names and prefixes, and nothing for strangers', () => {
    expect(suggest('childs', ['hosts', 'children', 'vars'])).toBe('children');
    expect(suggest('host', ['hosts', 'children', 'vars'])).toBe('hosts');
    expect(suggest('completely_else', ['hosts', 'children', 'vars'])).toBeUndefined();
  });
});

describe('Secret', () => {
  it('prints as [secret] every way and reveals only on request', () => {
    const s = new Secret('p@ssw0rd!');
    expect(String(s)).toBe('[secret]');
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- what a careless template literal prints is the point
    expect(`${s}`).toBe('[secret]');
    expect(JSON.stringify({ s })).toBe('{"s":"[secret]"}');
    expect(inspect({ s })).toBe('{ s: [secret] }');
    expect(Object.keys(s)).toEqual([]);
    expect(s.reveal()).toBe('p@ssw0rd!');
    expect(s.equals(new Secret('p@ssw0rd!'))).toBe(true);
    expect(s.equals(new Secret('other'))).toBe(false);
  });

  it('redacts revealed values from text, longest first', () => {
    expect(redactSecrets('sudo: hunter22 and hunter2 and abc', [new Secret('hunter2'), new Secret('hunter22'), new Secret('abc')])).toBe(
      'sudo: [secret] and [secret] and abc',
    );
  });

  it('knows which variable names hold secrets', () => {
    expect(['ansible_become_pass', 'sensu_api_key', 'db_password', 'vault_token', 'my_secret'].every(isSecretVar)).toBe(true);
    expect(['ansible_ssh_private_key_file', 'vault_password_file', 'passenger', 'sensu_api_user'].some(isSecretVar)).toBe(false);
  });
});
