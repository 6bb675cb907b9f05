/** Effective Sensu settings from YAML + environment file + defaults, and the env-file patcher. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { effectiveBackendUrls, effectiveConfig, parseEnvFile, patchEnvFile } from '../src/sensu/effective-config.js';
import { ENV_CREATED_HEADER } from '../src/sensu/env-file.js';

const packagedAgent = readFileSync(join(import.meta.dirname, 'fixtures', 'yaml', 'packaged-agent', 'input.yml'), 'utf8');
const ENV = '/etc/default/sensu-agent';

describe('effectiveConfig (agent)', () => {
  it('packaged agent.yml and no env file: everything is a default', () => {
    const cfg = effectiveConfig({ role: 'agent', yaml: packagedAgent, hostname: 'agent-01' });
    expect(cfg.settings['backend-url']).toEqual({
      key: 'backend-url',
      value: ['ws://127.0.0.1:8081'],
      source: 'default',
      envName: 'SENSU_BACKEND_URL',
      secret: false,
    });
    expect(cfg.settings.name).toMatchObject({ value: 'agent-01', source: 'default' });
    expect(cfg.settings['api-port']).toMatchObject({ value: 3031, source: 'default' });
    expect(cfg.settings.password).toMatchObject({ source: 'default', secret: true });
    expect(cfg.settings.user).toMatchObject({ value: 'agent', secret: true });
    expect(cfg.settings['trusted-ca-file'].secret).toBe(false);
    expect(cfg.warnings).toEqual([]);
  });

  it('Debian env file with a space-separated SENSU_BACKEND_URL wins over the commented-out YAML', () => {
    const env = '# sensu-agent environment\nSENSU_BACKEND_URL="ws://backend-1:8081 ws://backend-2:8081"\nSENSU_NAMESPACE=ops\n';
    const cfg = effectiveConfig({ role: 'agent', yaml: packagedAgent, env, envFile: ENV });
    expect(cfg.settings['backend-url']).toMatchObject({ value: ['ws://backend-1:8081', 'ws://backend-2:8081'], source: 'env', origin: { file: ENV, line: 2 } });
    expect(effectiveBackendUrls(cfg)).toEqual(['ws://backend-1:8081', 'ws://backend-2:8081']);
    expect(cfg.settings.namespace).toMatchObject({ value: 'ops', source: 'env' });
  });

  it('says when the environment shadows what the file sets', () => {
    const yaml = 'backend-url:\n  - "wss://backend-1:8081"\ntrusted-ca-file: /etc/sensu/tls/ca.pem\n';
    const env = 'SENSU_BACKEND_URL=ws://old:8081\n';
    const cfg = effectiveConfig({ role: 'agent', yaml, yamlFile: '/etc/sensu/agent.yml', env, envFile: ENV });
    expect(cfg.settings['backend-url']).toMatchObject({ source: 'env', value: ['ws://old:8081'], shadowedFileValue: ['wss://backend-1:8081'] });
    expect(cfg.settings['trusted-ca-file']).toMatchObject({
      source: 'file',
      value: '/etc/sensu/tls/ca.pem',
      origin: { file: '/etc/sensu/agent.yml', line: 3 },
    });
  });

  it('treats an empty variable and a key without value as unset, as viper does', () => {
    const cfg = effectiveConfig({ role: 'agent', yaml: 'trusted-ca-file: /ca.pem\nbackend-url:\n', env: 'SENSU_TRUSTED_CA_FILE=\n' });
    expect(cfg.settings['trusted-ca-file']).toMatchObject({ source: 'file', value: '/ca.pem' });
    expect(cfg.settings['backend-url']).toMatchObject({ source: 'default' });
  });

  it('ignores `export` lines as systemd does, and warns', () => {
    const cfg = effectiveConfig({ role: 'agent', env: 'export SENSU_BACKEND_URL=ws://a:8081\n', envFile: ENV });
    expect(cfg.settings['backend-url'].source).toBe('default');
    expect(cfg.warnings).toEqual([`${ENV}:1: systemd ignores "export SENSU_BACKEND_URL=…" in an EnvironmentFile (write SENSU_BACKEND_URL=… without export)`]);
  });

  it('coerces ports, booleans and a scalar backend-url; warns on what Sensu would refuse', () => {
    const yaml = 'backend-url: "ws://a:8081 http://b:8081"\ninsecure-skip-tls-verify: "yes"\n';
    const env = 'SENSU_API_PORT="3032"\nSENSU_KEEPALIVE_INTERVAL=soon\n';
    const cfg = effectiveConfig({ role: 'agent', yaml, env, envFile: ENV });
    expect(cfg.settings['api-port'].value).toBe(3032);
    expect(cfg.settings['insecure-skip-tls-verify'].value).toBe(true);
    expect(cfg.settings['backend-url'].value).toEqual(['ws://a:8081', 'http://b:8081']);
    expect(cfg.warnings).toContain(`${ENV}:2: keepalive-interval should be a whole number, got "soon"`);
    expect(cfg.warnings.some((w) => w.includes('backend URL (http://b:8081) must have ws:// or wss:// scheme'))).toBe(true);
  });

  it('reads a CRLF env file', () => {
    const cfg = effectiveConfig({ role: 'agent', env: 'SENSU_BACKEND_URL=wss://a:8081\r\nSENSU_NAME=x\r\n' });
    expect(cfg.settings['backend-url'].value).toEqual(['wss://a:8081']);
    expect(cfg.settings.name.value).toBe('x');
  });
});

describe('effectiveConfig (backend)', () => {
  it('uses SENSU_BACKEND_<KEY> and SENSU.md defaults', () => {
    const yaml = 'api-url: "http://10.0.0.5:8080"\netcd-listen-client-urls: "http://10.0.0.5:2379,http://127.0.0.1:2379"\n';
    const env = "SENSU_BACKEND_CERT_FILE='/etc/sensu/tls/b.pem'\nSENSU_BACKEND_API_URL=https://sensu.example.com:8080\n";
    const cfg = effectiveConfig({ role: 'backend', yaml, env, envFile: '/etc/sysconfig/sensu-backend' });
    expect(cfg.settings['api-url']).toMatchObject({
      value: 'https://sensu.example.com:8080',
      source: 'env',
      envName: 'SENSU_BACKEND_API_URL',
      shadowedFileValue: 'http://10.0.0.5:8080',
    });
    expect(cfg.settings['cert-file']).toMatchObject({ value: '/etc/sensu/tls/b.pem', source: 'env' });
    expect(cfg.settings['key-file']).toMatchObject({ value: '', source: 'default' });
    expect(cfg.settings['etcd-listen-client-urls']).toMatchObject({ value: ['http://10.0.0.5:2379', 'http://127.0.0.1:2379'], source: 'file' });
    expect(cfg.settings['etcd-advertise-client-urls']).toMatchObject({ value: ['http://localhost:2379'], source: 'default' });
    expect(cfg.settings['etcd-initial-cluster'].value).toBe('default=http://127.0.0.1:2380');
    expect(cfg.settings['api-listen-address'].value).toBe('[::]:8080');
    expect(cfg.settings['agent-port'].value).toBe(8081);
    expect(cfg.settings['etcd-client-cert-auth'].value).toBe(false);
  });
});

describe('parseEnvFile follows systemd', () => {
  it('quotes, escapes, glued segments, continuation lines, comments', () => {
    const text = [
      '# comment',
      '; also a comment',
      'A="x \\"y\\" \\$HOME \\n"',
      "B='lit $x \\n'",
      'C=one two   ',
      'D="b c"d',
      'I=a"b c"d',
      'E=first \\',
      'second',
      'F=x # not a comment for systemd',
      '  G = spaced  ',
      'no equals sign here',
      'H="unterminated',
    ].join('\n');
    const env = parseEnvFile(text, ENV);
    const v = (n: string): string | undefined => env.vars[n]?.value;
    expect(v('A')).toBe('x "y" $HOME \\n');
    expect(v('B')).toBe('lit $x \\n');
    expect(v('C')).toBe('one two');
    expect(v('D')).toBe('b cd');
    expect(v('I')).toBe('a"b c"d');
    expect(v('E')).toBe('first second');
    expect(v('F')).toBe('x # not a comment for systemd');
    expect(v('G')).toBe('spaced');
    expect(v('H')).toBe('unterminated');
    expect(env.vars.E?.line).toBe(8);
    expect(env.warnings).toEqual([
      `${ENV}:12: "no equals sign here" has no "="; systemd ignores the line`,
      `${ENV}:13: unterminated quote; systemd takes the rest of the file as the value`,
    ]);
  });

  it('the last assignment wins', () => {
    expect(parseEnvFile('A=1\nA=2\n', ENV).vars.A?.value).toBe('2');
  });
});

describe('patchEnvFile', () => {
  const debian = [
    '# Managed by ops. Environment for sensu-agent (see EnvironmentFile= in the unit).',
    '',
    '# both backends, space separated',
    'SENSU_BACKEND_URL="ws://backend-1:8081 ws://10.0.0.6:8081"   ',
    'SENSU_NAMESPACE=ops',
    '',
  ].join('\n');

  it('rewrites only the schemes of SENSU_BACKEND_URL, keeping quotes, spacing and comments', () => {
    const r = patchEnvFile(debian, [{ op: 'scheme', name: 'SENSU_BACKEND_URL', from: 'ws', to: 'wss' }], ENV);
    expect(r.text).toBe(debian.replace('"ws://backend-1:8081 ws://10.0.0.6:8081"', '"wss://backend-1:8081 wss://10.0.0.6:8081"'));
    expect(r.changes).toEqual([
      { name: 'SENSU_BACKEND_URL', before: 'ws://backend-1:8081 ws://10.0.0.6:8081', after: 'wss://backend-1:8081 wss://10.0.0.6:8081' },
    ]);
    expect(patchEnvFile(r.text, [{ op: 'scheme', name: 'SENSU_BACKEND_URL', from: 'ws', to: 'wss' }], ENV)).toMatchObject({ changed: false, text: r.text });
  });

  it('rewrites an unquoted list and a CRLF file in place', () => {
    expect(
      patchEnvFile('SENSU_BACKEND_URL=ws://a:8081 ws://b:8081\r\nX=1\r\n', [{ op: 'scheme', name: 'SENSU_BACKEND_URL', from: 'ws', to: 'wss' }], ENV).text,
    ).toBe('SENSU_BACKEND_URL=wss://a:8081 wss://b:8081\r\nX=1\r\n');
  });

  it('sets an existing variable in its own quoting, or appends one in the file style', () => {
    const r = patchEnvFile(
      debian,
      [
        { op: 'set', name: 'SENSU_NAMESPACE', value: 'prod' },
        { op: 'set', name: 'SENSU_TRUSTED_CA_FILE', value: '/etc/sensu/tls/ca $1.pem' },
      ],
      ENV,
    );
    expect(r.text).toBe(debian.replace('SENSU_NAMESPACE=ops', 'SENSU_NAMESPACE=prod') + 'SENSU_TRUSTED_CA_FILE="/etc/sensu/tls/ca \\$1.pem"\n');
    expect(parseEnvFile(r.text, ENV).vars.SENSU_TRUSTED_CA_FILE?.value).toBe('/etc/sensu/tls/ca $1.pem');
  });

  it('adds a real assignment next to an ignored export line', () => {
    const r = patchEnvFile('export SENSU_TRUSTED_CA_FILE=/old.pem', [{ op: 'set', name: 'SENSU_TRUSTED_CA_FILE', value: '/ca.pem' }], ENV);
    expect(r.text).toBe('export SENSU_TRUSTED_CA_FILE=/old.pem\nSENSU_TRUSTED_CA_FILE=/ca.pem');
    expect(r.notes[0]).toMatch(/left the ignored/);
  });

  it('unsets by removing the lines, and creates a missing file with a header', () => {
    expect(patchEnvFile('A=1\nB=2\nA=3', [{ op: 'unset', name: 'A' }], ENV).text).toBe('B=2');
    expect(patchEnvFile(undefined, [{ op: 'set', name: 'SENSU_BACKEND_URL', value: 'wss://a:8081' }], ENV).text).toBe(
      `${ENV_CREATED_HEADER}\nSENSU_BACKEND_URL="wss://a:8081"\n`,
    );
    expect(patchEnvFile(undefined, [{ op: 'scheme', name: 'SENSU_BACKEND_URL', from: 'ws', to: 'wss' }], ENV)).toMatchObject({ changed: false, text: '' });
  });
});
