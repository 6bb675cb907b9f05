/**
 * Hostile hosts (issue 16): the `sensu` user, which runs every Sensu check command, owns
 * /etc/sensu/tls as Sensu's own guide leaves it, plants links at every temp and backup name
 * rollout used to use, races the uploads, and adds its own CA to ca.pem; then a backend fails on
 * TLS and the run rolls back. Root must follow none of it: nothing outside /etc/sensu changes
 * (hashes of every file under /etc and /root, with owner and mode, before and after), no API
 * credential reaches a backend except over verified TLS, and the fleet ends as it was. Then a
 * clean run takes the directory back for root. Also: hostile input on the hosts (a symlinked
 * config, a sensu-writable /etc/sensu, a Latin-1 config, a 1 GiB file in /etc/sensu/tls) and on
 * the controller (a damaged journal): each one clear error, nothing changed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rollout } from './helpers/cli.js';
import { baseline, expectCleanOutput, expectHealthyOnOldSettings, expectUntouched } from './helpers/failure-checks.js';
import { credentialedRequests, fileSnapshot } from './helpers/fleet.js';
import { useLab } from './helpers/lab-fixture.js';
import { scratchDir } from './helpers/scratch.js';
import type { Lab } from './lab/lab.js';

const getLab = useLab({ backends: 2, agents: 2, net: 54 });
const env = { ROLLOUT_STATE_DIR: scratchDir('rollout-state-54-') };
const args = (): string[] => ['-i', getLab().inventoryPath, '--known-hosts', getLab().knownHostsPath];

/** Runs a shell script on a host as the sensu user (what a check command can do). */
async function asSensu(lab: Lab, host: string, script: string): Promise<void> {
  await lab.exec(host, '/usr/bin/setpriv', ['--reuid=sensu', '--regid=sensu', '--init-groups', '--', '/bin/sh', '-c', script]);
}

/**
 * Every file under /etc outside /etc/sensu, and root's own files in /root and /root/.ssh (a lab
 * host shares the machine's /root, whose caches other programs write meanwhile): path, type,
 * owner, mode and content hash.
 */
async function outsideSensu(lab: Lab): Promise<Record<string, string>> {
  const find = 'find /etc /root \\( -path /etc/sensu -o -path "/root/?*" -a ! -path "/root/.ssh*" -a -type d \\) -prune -o';
  const script = `${find} -printf "%p %y %U %G %m %s %l\\n" | sort | sha256sum; ${find} -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum`;
  const out: Record<string, string> = {};
  for (const h of lab.state.hosts) out[h.name] = (await lab.exec(h.name, '/bin/sh', ['-c', script])).stdout;
  return out;
}

/** Sensu's guide: /etc/sensu/tls owned by sensu, and what a check command then plants in it. */
const PLANT = `set -e
d=/etc/sensu/tls
for f in ca.pem "$(hostname).pem" "$(hostname).key"; do
  ln -sfn /etc/passwd "$d/.$f.rollout-restore"
  ln -sfn /root/.profile "$d/.$f.rollout-aaaaaa"
done
printf -- '-----BEGIN CERTIFICATE-----\\nMIIBattacker\\n-----END CERTIFICATE-----\\n' > "$d/ca.pem"
`;

/** Keeps planting links at the names an upload could use while the run goes on (stops itself). */
const RACE = `end=$(( $(date +%s) + 40 )); d=/etc/sensu/tls
while [ "$(date +%s)" -lt "$end" ]; do
  for f in "$d"/.*.rollout-*; do [ -e "$f" ] || [ -L "$f" ] || continue; rm -f "$f" 2>/dev/null && ln -s /etc/shadow "$f" 2>/dev/null; done
  ln -s /etc/shadow "$d/.ca.pem.rollout-restore" 2>/dev/null || true; sleep 0.02
done`;

describe('a host whose sensu user attacks the run', () => {
  it('a rollback after a backend fails on TLS follows no planted link; nothing outside /etc/sensu changes; credentials only over TLS', async () => {
    const lab = getLab();
    for (const h of lab.state.hosts) {
      await lab.exec(h.name, '/bin/sh', ['-c', 'mkdir -p /etc/sensu/tls && chown sensu:sensu /etc/sensu/tls && chmod 0750 /etc/sensu/tls']);
      await asSensu(lab, h.name, PLANT);
    }
    const before = await baseline(lab);
    const outside = await outsideSensu(lab);
    lab.setFault('backend-2', 'crash-on-tls', true);
    const racers = lab.state.hosts.map((h) => asSensu(lab, h.name, RACE).catch(() => undefined));
    const r = await rollout(['secure', ...args(), '--yes'], { env });
    lab.setFault('backend-2', 'crash-on-tls', false);
    expectCleanOutput(lab, r);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('rolled back');
    await Promise.all(racers);
    expect(await outsideSensu(lab)).toEqual(outside);
    for (const h of lab.state.hosts) {
      expect(
        (await lab.exec(h.name, 'stat', ['-c', '%F', '/etc/sensu/backend.yml', '/etc/sensu/agent.yml']).catch((e: { stdout: string }) => e)).stdout,
      ).not.toContain('symbolic link');
    }
    // The fleet as it was, the sensu user's directory included (the run took it, the rollback gave it back).
    await expectHealthyOnOldSettings(lab);
    const after = await fileSnapshot(lab);
    for (const h of lab.state.hosts) {
      // The racers' own links come and go; everything else is byte-identical, owners and modes too.
      const stable = (s: string | undefined): string =>
        (s ?? '')
          .split('\n')
          .filter((l) => !/\/\.[^/ ]*\.rollout-[^/ ]* link /.test(l))
          .join('\n');
      expect(stable(after[h.name])).toEqual(stable(before.files[h.name]));
    }
    expect(credentialedRequests(lab).filter((c) => !c.tls)).toEqual([]);
  }, 300_000);

  it('a clean run takes /etc/sensu/tls back for root (root:sensu 0750, files 0640/0440 root:sensu) and secures the fleet', async () => {
    const lab = getLab();
    const outside = await outsideSensu(lab);
    const r = await rollout(['secure', ...args(), '--yes'], { env });
    expectCleanOutput(lab, r);
    expect(r.code, r.stderr).toBe(0);
    expect(await outsideSensu(lab)).toEqual(outside);
    for (const h of lab.state.hosts) {
      const st = (
        await lab.exec(h.name, '/bin/sh', ['-c', 'stat -c "%n %a %U:%G" /etc/sensu/tls /etc/sensu/tls/ca.pem /etc/sensu/tls/*.key 2>/dev/null; true'])
      ).stdout;
      expect(st).toContain('/etc/sensu/tls 750 root:sensu');
      expect(st).toContain('/etc/sensu/tls/ca.pem 640 root:sensu');
      if (h.role === 'backend') expect(st).toContain(`/etc/sensu/tls/${h.name}.key 440 root:sensu`);
      // The attacker's CA is gone: ca.pem was replaced unread, not merged.
      expect(lab.readFile(h.name, '/etc/sensu/tls/ca.pem')).not.toContain('MIIBattacker');
    }
    // The sensu user can no longer change what root wrote.
    await expect(asSensu(lab, 'agent-01', 'ln -s /etc/passwd /etc/sensu/tls/.x')).rejects.toThrow();
    expect(credentialedRequests(lab).filter((c) => !c.tls)).toEqual([]);
    expect(credentialedRequests(lab).length).toBeGreaterThan(0);
  }, 300_000);
});

describe('hostile input: one clear error, nothing changed', () => {
  const refused = async (lab: Lab, message: RegExp): Promise<void> => {
    const before = await baseline(lab);
    const r = await rollout(['secure', ...args(), '--yes'], { env });
    expectCleanOutput(lab, r);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout + r.stderr).toMatch(message);
    await expectUntouched(lab, before);
  };

  it('a config that is a symbolic link is refused, never followed', async () => {
    const lab = getLab();
    await lab.exec('agent-02', '/bin/sh', ['-c', 'mv /etc/sensu/agent.yml /etc/sensu/agent.real.yml && ln -s agent.real.yml /etc/sensu/agent.yml']);
    try {
      await refused(lab, /\/etc\/sensu\/agent\.yml is a symbolic link: rollout does not follow links/);
    } finally {
      await lab.exec('agent-02', '/bin/sh', ['-c', 'rm /etc/sensu/agent.yml && mv /etc/sensu/agent.real.yml /etc/sensu/agent.yml']);
    }
  });

  it('a config in an /etc/sensu the sensu user can write is refused, naming the directory', async () => {
    const lab = getLab();
    await lab.exec('agent-01', 'chown', ['sensu', '/etc/sensu']);
    try {
      await refused(lab, /\/etc\/sensu\/agent\.yml lies in \/etc\/sensu that a user other than root owns or can write/);
    } finally {
      await lab.exec('agent-01', 'chown', ['root', '/etc/sensu']);
    }
  });

  it('a Latin-1 config is refused with its byte offset, not rewritten with replacement characters', async () => {
    const lab = getLab();
    const original = lab.readFile('agent-01', '/etc/sensu/agent.yml');
    await lab.exec('agent-01', '/bin/sh', ['-c', "printf '# caf\\351 au lait\\n' >> /etc/sensu/agent.yml"]);
    try {
      await refused(lab, new RegExp(`/etc/sensu/agent\\.yml is not UTF-8 \\(byte ${Buffer.byteLength(original) + 5} is not\\)`));
    } finally {
      writeFileSync(join(`/proc/${lab.host('agent-01').holderPid}/root`, '/etc/sensu/agent.yml'), original);
    }
  });

  it('a 1 GiB file where a certificate goes is refused, not read', async () => {
    const lab = getLab();
    await lab.exec('backend-1', '/bin/sh', ['-c', 'cp -a /etc/sensu/tls/backend-1.pem /root/keep.pem && truncate -s 1G /etc/sensu/tls/backend-1.pem']);
    try {
      await refused(lab, /\/etc\/sensu\/tls\/backend-1\.pem is 1\.0 GiB, larger than any Sensu config or certificate can be/);
    } finally {
      await lab.exec('backend-1', '/bin/sh', ['-c', 'mv /root/keep.pem /etc/sensu/tls/backend-1.pem']);
    }
  }, 120_000);

  it('a damaged journal is refused by rollback, naming the line; nothing is undone', async () => {
    const lab = getLab();
    const { readdirSync, readFileSync, writeFileSync: write } = await import('node:fs');
    const stateDirs = readdirSync(env.ROLLOUT_STATE_DIR).map((d) => join(env.ROLLOUT_STATE_DIR, d));
    const journal =
      stateDirs
        .flatMap((d) =>
          readdirSync(d)
            .filter((f) => f.startsWith('run-'))
            .map((f) => join(d, f)),
        )
        .sort()
        .at(-1) ?? '';
    const lines = readFileSync(journal, 'utf8').split('\n');
    expect(lines.length).toBeGreaterThan(10);
    // The run finished; drop its end marker so rollback would otherwise replay it, and damage line 5.
    const damaged = lines.filter((l) => !l.includes('"finished"'));
    damaged[4] = `${damaged[4]?.slice(0, 20) ?? ''}`;
    write(journal, damaged.join('\n'));
    const before = await baseline(lab);
    const r = await rollout(['rollback', ...args()], { env });
    expectCleanOutput(lab, r);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is damaged at line 5: not JSON/);
    await expectUntouched(lab, before);
  });
});
