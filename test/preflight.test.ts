/**
 * Preflight through the real CLI on the lab: bad certificates, a sick fleet and secrets planted in
 * configs. Each bad input exits 2 with a message naming the host and the file, and nothing changes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCaFiles } from '../src/certs/generate.js';
import { rollout } from './helpers/cli.js';
import { eventually, fileSnapshot } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { writeBadFixtures, type Fixture, type FixtureName } from './lab/pki.js';

const getLab = useLab({ backends: 3, agents: 2, net: 46 });
let fixtures: Record<FixtureName, Fixture>;

beforeAll(async () => {
  const lab = getLab();
  const b2 = lab.host('backend-2');
  const ca = await loadCaFiles(join(lab.dir, 'pki', 'ca.pem'), join(lab.dir, 'pki', 'ca.key'));
  fixtures = await writeBadFixtures(
    join(lab.dir, 'pki', 'bad'),
    { name: 'backend-2', address: b2.address },
    { dir: join(lab.dir, 'pki'), caFile: join(lab.dir, 'pki', 'ca.pem'), caKeyFile: join(lab.dir, 'pki', 'ca.key'), ca },
  );
});

/** An inventory where backend-2 serves the given fixture. */
function inventoryWith(name: FixtureName): string {
  const lab = getLab();
  const f = fixtures[name];
  const text = readFileSync(lab.inventoryPath, 'utf8')
    .replace('sensu_cert_file: pki/backend-2.pem', `sensu_cert_file: ${f.cert}`)
    .replace('sensu_key_file: pki/backend-2.key', `sensu_key_file: ${f.key}`);
  const file = join(lab.dir, `inv-${name}.yml`);
  writeFileSync(file, text);
  return file;
}

const check = (inventory: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  rollout(['secure', '-i', inventory, '--known-hosts', getLab().knownHostsPath, '--check', '--diff']);

describe('certificate preflight', () => {
  const cases: [FixtureName, RegExp][] = [
    ['wrongSan', /backend-2: .*wrongSan\.pem does not cover 127\.46\.0\.2/],
    ['keyMismatch', /backend-2: .*keyMismatch\.key .*(does not match|not the key)/],
    ['expired', /backend-2: .*expired\.pem .*expired/],
    ['otherCa', /backend-2: .*otherCa\.pem .*(not signed|CA)/],
    ['expiringSoon', /backend-2: .*expiringSoon\.pem .*expires/],
  ];
  for (const [name, message] of cases) {
    it(`${name}: exit 2 naming the host, the file and the fix; nothing changed`, async () => {
      const lab = getLab();
      const before = await fileSnapshot(lab);
      const r = await check(inventoryWith(name));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/→ /);
      expect(r.stderr).toContain('nothing was changed on any host');
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout + r.stderr).not.toContain('PRIVATE KEY');
      expect(await fileSnapshot(lab)).toEqual(before);
    });
  }

  it('a valid certificate of another key type (RSA PKCS#1) passes', async () => {
    const r = await check(inventoryWith('rsaPkcs1'));
    expect(r.stderr).not.toContain('✗');
    expect(r.code).toBe(5);
  });
});

describe('a sick fleet', () => {
  it('refuses to start when a backend is down before the run', async () => {
    const lab = getLab();
    await lab.exec('backend-3', 'systemctl', ['stop', 'sensu-backend']);
    try {
      const r = await check(lab.inventoryPath);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/backend-3: is not healthy before the run \(http:\/\/127\.46\.0\.3:8080\/health: connection refused\)/);
    } finally {
      await lab.exec('backend-3', 'systemctl', ['start', 'sensu-backend']);
    }
    await eventually('backend-3 back', 60_000, async () => {
      const h = (await (await fetch('http://127.46.0.3:8080/health')).json()) as { ClusterHealth: { Healthy: boolean }[] };
      return h.ClusterHealth.every((m) => m.Healthy);
    });
  });
});

describe('secrets', () => {
  it('a password planted in agent.yml and the env file never appears in the diff or the JSON plan', async () => {
    const lab = getLab();
    const cfg = lab.readFile('agent-01', '/etc/sensu/agent.yml');
    // Right after backend-url, so it sits in the diff's context lines; the real default value, so
    // the agent stays connected.
    const planted = cfg.replace('subscriptions: [linux, lab]', 'password: "P@ssw0rd!"\nsubscriptions: [linux, lab]');
    await lab.exec('agent-01', '/bin/sh', [
      '-c',
      `cat > /etc/sensu/agent.yml <<'EOF'\n${planted}EOF\nprintf 'SENSU_PASSWORD="P@ssw0rd!"\\n' > /etc/default/sensu-agent`,
    ]);
    const diff = await check(lab.inventoryPath);
    expect(diff.code).toBe(5);
    expect(diff.stdout).toContain('agent-01:/etc/sensu/agent.yml');
    expect(diff.stdout).toContain('[redacted]');
    expect(diff.stdout + diff.stderr).not.toContain('P@ssw0rd!');
    const json = await rollout(['secure', '-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath, '--check', '--json']);
    expect(json.code).toBe(5);
    expect(json.stdout + json.stderr).not.toContain('P@ssw0rd!');
    expect(json.stdout + json.stderr).not.toContain(lab.state.admin?.password ?? '-');
  });
});
