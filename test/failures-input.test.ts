/**
 * The failure suite, part 1: bad input (issue 9). Every case is a real `rollout secure --yes` on
 * the lab, which would change the fleet if it got that far, and must instead exit 2 with one clear
 * line naming the problem (no stack trace, no secret), leaving every file, owner and mode as it
 * was and restarting nothing. A clean run at the end proves the fleet is still fit to secure.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCaFiles } from '../src/certs/generate.js';
import { rollout, type CliResult } from './helpers/cli.js';
import { baseline, expectCleanOutput, expectUntouched } from './helpers/failure-checks.js';
import { useLab } from './helpers/lab-fixture.js';
import type { Lab } from './lab/lab.js';
import { writeBadFixtures, type Fixture, type FixtureName } from './lab/pki.js';
import { scratchDir } from './helpers/scratch.js';

const getLab = useLab({ backends: 2, agents: 3, net: 48, sudoPasswordHosts: ['agent-03'] });
const env = { ROLLOUT_STATE_DIR: scratchDir('rollout-state-48-') };
let fixtures: Record<FixtureName, Fixture>;

beforeAll(async () => {
  const lab = getLab();
  const pki = join(lab.dir, 'pki');
  const ca = await loadCaFiles(join(pki, 'ca.pem'), join(pki, 'ca.key'));
  fixtures = await writeBadFixtures(
    join(pki, 'bad'),
    { name: 'backend-2', address: lab.host('backend-2').address },
    { dir: pki, caFile: join(pki, 'ca.pem'), caKeyFile: join(pki, 'ca.key'), ca },
  );
});

/** The lab inventory with `change` applied, written beside it (so its relative paths still work). */
function inventoryWith(name: string, change: (text: string) => string): string {
  const lab = getLab();
  const original = readFileSync(lab.inventoryPath, 'utf8');
  const text = change(original);
  expect(text, `${name}: the inventory edit must change something`).not.toBe(original);
  const file = join(lab.dir, `bad-${name}.yml`);
  writeFileSync(file, text);
  return file;
}

/** backend-2 given one of the bad certificate fixtures. */
function withFixture(name: FixtureName): (text: string) => string {
  return (text) =>
    text
      .replace('sensu_cert_file: pki/backend-2.pem', `sensu_cert_file: ${fixtures[name].cert}`)
      .replace('sensu_key_file: pki/backend-2.key', `sensu_key_file: ${fixtures[name].key}`);
}

/** A known_hosts where agent-01's address has another host's key. */
function changedHostKeys(lab: Lab): string {
  const file = join(lab.dir, 'changed_known_hosts');
  const other = join(lab.dir, 'impostor_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'impostor', '-f', other]);
  const impostor = readFileSync(`${other}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const address = lab.host('agent-01').address;
  const lines = readFileSync(lab.knownHostsPath, 'utf8')
    .split('\n')
    .map((l) => (l.startsWith(`${address} `) ? `${address} ${impostor}` : l));
  writeFileSync(file, lines.join('\n'));
  return file;
}

/** One bad input: how to make it, what the one line says, and how to put the host back. */
interface Case {
  name: string;
  /** Extra CLI arguments and the inventory to use (default: the lab's). */
  args?: (lab: Lab) => { inventory?: string; extra?: string[]; knownHosts?: string };
  /** Breaks a host before the run; `restore` puts it back after the assertions. */
  onHost?: { host: string; break: string; restore: string };
  message: RegExp;
  /** Strings besides the lab's secrets that must not be printed. */
  secrets?: string[];
  /** Hosts the problem is on: one line each (default 1). */
  hosts?: number;
}

const WRONG_SUDO_PASSWORD = 'not-the-password-9f3k';

const cases: Case[] = [
  {
    name: 'inventory with a YAML syntax error',
    args: () => ({ inventory: inventoryWith('syntax', (t) => t.replace('    backends:', '    backends: {')) }),
    message: /bad-syntax\.yml:\d+: YAML syntax/,
  },
  {
    name: 'inventory with schema errors',
    args: () => ({
      inventory: inventoryWith('schema', (t) => t.replace('ansible_port: 22', 'ansible_port: 99999').replace('ansible_user: labops', 'ansible_usr: labops')),
    }),
    message: /all\.vars\.ansible_usr: unknown variable: did you mean ansible_user\?[\s\S]*all\.vars\.ansible_port: expected integer 1–65535/,
  },
  {
    name: 'an unknown host group in the inventory',
    args: () => ({ inventory: inventoryWith('group', (t) => t.replace('    agents:', '    agent:')) }),
    message: /all\.children\.agent: group "agent" is not a role group: did you mean agents\?/,
  },
  { name: 'an unknown host group in --limit', args: () => ({ extra: ['--limit', 'webservers'] }), message: /--limit: "webservers" matches no host/ },
  {
    name: 'a missing certificate file',
    args: () => ({ inventory: inventoryWith('missing-cert', (t) => t.replace('sensu_cert_file: pki/backend-2.pem', 'sensu_cert_file: pki/nowhere.pem')) }),
    message: /backend-2\.sensu_cert_file: file not found: .*nowhere\.pem/,
  },
  {
    name: 'a certificate for the wrong host',
    args: () => ({ inventory: inventoryWith('wrong-host', withFixture('wrongSan')) }),
    message: /✗ backend-2: .*wrongSan\.pem does not cover 127\.48\.0\.2/,
  },
  {
    name: 'an expired certificate',
    args: () => ({ inventory: inventoryWith('expired', withFixture('expired')) }),
    message: /✗ backend-2: .*expired\.pem .*expired/,
  },
  {
    name: 'a key that does not match the certificate',
    args: () => ({ inventory: inventoryWith('key-mismatch', withFixture('keyMismatch')) }),
    message: /✗ backend-2: .*keyMismatch\.key .*(does not match|not the key)/,
  },
  {
    name: 'a CA that did not sign the certificate',
    args: () => ({ inventory: inventoryWith('other-ca', withFixture('otherCa')) }),
    message: /✗ backend-2: .*otherCa\.pem .*(not signed|CA)/,
  },
  {
    name: 'an unknown host key',
    args: (lab) => ({ knownHosts: join(lab.dir, 'empty_known_hosts') }),
    message: /✗ backend-1: .*host key SHA256:\S+ is not in known_hosts/,
    hosts: 5,
  },
  { name: 'a changed host key', args: (lab) => ({ knownHosts: changedHostKeys(lab) }), message: /✗ agent-01: .*HOST KEY CHANGED/ },
  {
    name: 'a wrong sudo password',
    args: (lab) => ({
      inventory: inventoryWith('sudo', (t) =>
        t.replace(`ansible_become_password: ${lab.state.becomePassword}`, `ansible_become_password: ${WRONG_SUDO_PASSWORD}`),
      ),
    }),
    message: /✗ agent-03: sudo rejected the become password/,
    secrets: [WRONG_SUDO_PASSWORD],
  },
  {
    name: 'a host unreachable at preflight',
    args: () => ({ inventory: inventoryWith('unreachable', (t) => t.replace('ansible_host: 127.48.1.2', 'ansible_host: 127.48.9.9')) }),
    message: /✗ agent-02: \(127\.48\.9\.9:22\): connection refused/,
  },
  {
    name: 'a config file that is not valid YAML on one host',
    onHost: {
      host: 'agent-02',
      break: "cp -p /etc/sensu/agent.yml /root/agent.yml.good && printf 'backend-url: [ws://backend-1:8081\\n' >> /etc/sensu/agent.yml",
      restore: 'cat /root/agent.yml.good > /etc/sensu/agent.yml && rm /root/agent.yml.good',
    },
    message: /✗ agent-02: .*\/etc\/sensu\/agent\.yml.*not valid YAML/,
  },
  {
    name: 'a backend-url with an http:// scheme',
    onHost: {
      host: 'agent-01',
      break: "cp -p /etc/sensu/agent.yml /root/agent.yml.good && sed -i 's#ws://backend-2#http://backend-2#' /etc/sensu/agent.yml",
      restore: 'cat /root/agent.yml.good > /etc/sensu/agent.yml && rm /root/agent.yml.good',
    },
    message: /✗ agent-01: .*\/etc\/sensu\/agent\.yml:\d+: backend-url http:\/\/backend-2:8081: sensu-agent accepts only ws:\/\/ or wss:\/\//,
  },
];

describe('bad input: exit 2, one clear line, nothing touched', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const lab = getLab();
      const setup = c.args?.(lab) ?? {};
      if (c.onHost) await lab.exec(c.onHost.host, '/bin/sh', ['-c', c.onHost.break]);
      let r: CliResult;
      try {
        const before = await baseline(lab);
        r = await rollout(
          ['secure', '-i', setup.inventory ?? lab.inventoryPath, '--known-hosts', setup.knownHosts ?? lab.knownHostsPath, '--yes', ...(setup.extra ?? [])],
          { env },
        );
        expect(r.code, r.stdout + r.stderr).toBe(2);
        expect(r.stdout + r.stderr).toMatch(c.message);
        // One line per problem: the bad input is named once, not echoed by every stage it upset.
        expect((r.stdout + r.stderr).match(/^✗ /gm)?.length ?? 0).toBeLessThanOrEqual(c.hosts ?? 1);
        expect(r.stderr).toMatch(/nothing was changed on any host|^error: /m);
        expectCleanOutput(lab, r, c.secrets);
        await expectUntouched(lab, before);
      } finally {
        if (c.onHost) await lab.exec(c.onHost.host, '/bin/sh', ['-c', c.onHost.restore]);
      }
    });
  }

  it('after all of them, a clean run secures the fleet, and a second one changes nothing', async () => {
    const lab = getLab();
    const r = await rollout(['secure', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--yes'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('changed=5');
    expectCleanOutput(lab, r);
    const again = await rollout(['secure', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--yes'], { env });
    expect(again.code).toBe(0);
    expect(again.stdout + again.stderr).toContain('no changes');
  }, 240_000);
});
