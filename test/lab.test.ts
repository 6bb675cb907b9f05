/**
 * The lab itself, end to end: real sshd per host, per-host namespaces, the systemctl stand-in,
 * the Sensu stand-in's TLS and agent behaviour, and a teardown that leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useLab } from './helpers/lab-fixture.js';
import { startLab, type Lab } from './lab/lab.js';

const run = promisify(execFile);
const getLab = useLab({ backends: 3, agents: 3, net: 40, sudoPasswordHosts: ['agent-03'] });

/** Runs a command on a lab host through the real OpenSSH client with strict host key checking. */
async function ssh(lab: Lab, host: string, command: string, input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  const h = lab.host(host);
  const args = [
    '-i',
    lab.keyPath,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${lab.knownHostsPath}`,
    '-o',
    'BatchMode=yes',
    '-p',
    String(h.sshPort),
    `${lab.state.loginUser}@${h.address}`,
    command,
  ];
  return new Promise((resolve) => {
    const child = execFile('ssh', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function waitUntil(what: string, ms: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (
      await Promise.resolve()
        .then(probe)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function healthz(lab: Lab, agent: string): Promise<number> {
  const res = await fetch(`http://${lab.host(agent).address}:3031/healthz`, { signal: AbortSignal.timeout(2000) });
  return res.status;
}

function tlsPeer(address: string, port: number, ca: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: address, port, ca, servername: undefined, minVersion: 'TLSv1.2' }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      if (!socket.authorized) reject(new Error(String(socket.authorizationError)));
      else resolve(cert);
    });
    socket.on('error', reject);
  });
}

describe('lab hosts', () => {
  it('accepts the lab key with strict host key checking on every host, each with its own hostname', async () => {
    const lab = getLab();
    for (const h of lab.state.hosts) {
      const r = await ssh(lab, h.name, 'hostname; id -un');
      expect(r.stderr).not.toMatch(/WARNING|Host key verification failed/);
      expect(r.stdout.split('\n').slice(0, 2)).toEqual([h.name, lab.state.loginUser]);
    }
  });

  it('refuses a host key that does not match known_hosts', async () => {
    const lab = getLab();
    const b1 = lab.host('backend-1');
    const b2 = lab.host('backend-2');
    // Present backend-2's address with backend-1's key entry: strict checking must refuse it.
    const forged =
      readFileSync(lab.knownHostsPath, 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${b1.address} `))
        ?.replace(b1.address, b2.address) ?? '';
    const { writeFileSync } = await import('node:fs');
    const file = `${lab.dir}/forged_known_hosts`;
    writeFileSync(file, `${forged}\n`);
    const r = await run('ssh', [
      '-i',
      lab.keyPath,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${file}`,
      '-o',
      'BatchMode=yes',
      `${lab.state.loginUser}@${b2.address}`,
      'true',
    ]).catch((e: { stderr: string }) => e);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('gives passwordless sudo, and asks for the password on the password host', async () => {
    const lab = getLab();
    expect((await ssh(lab, 'backend-1', 'sudo -n id -un')).stdout.trim()).toBe('root');
    const denied = await ssh(lab, 'agent-03', 'sudo -n id -un');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/password is required/);
    const withPassword = await ssh(lab, 'agent-03', "sudo -S -p '' id -un", `${lab.state.becomePassword}\n`);
    expect(withPassword.stdout.trim()).toBe('root');
  });

  it('gives each host its own /etc/sensu, /etc/hosts and Sensu files owned by sensu', async () => {
    const lab = getLab();
    const b1 = await ssh(lab, 'backend-1', 'sudo cat /etc/sensu/backend.yml; ls /etc/sensu; getent hosts localhost backend-1; stat -c %U /var/lib/sensu');
    expect(b1.stdout).toContain('etcd-name: "backend-1"');
    expect(b1.stdout).not.toContain('agent.yml');
    expect(b1.stdout).toMatch(new RegExp(`${lab.host('backend-1').address.replace(/\./g, '\\.')}\\s+localhost`));
    expect(b1.stdout).toContain('sensu');
    const a1 = await ssh(lab, 'agent-01', 'sudo cat /etc/sensu/agent.yml; ls /etc/sensu');
    expect(a1.stdout).toContain('name: "agent-01"');
    expect(a1.stdout).toContain('ws://backend-1:8081');
    expect(a1.stdout).not.toContain('backend.yml');
    // The machine's own /etc is untouched by the lab.
    expect(() => readFileSync('/etc/sensu/backend.yml')).toThrow();
  });
});

describe('systemctl stand-in', () => {
  it('runs the unit as sensu, restarts it on request and counts starts', async () => {
    const lab = getLab();
    const before = lab.unitStatus('agent-01');
    expect(before.activeState).toBe('active');
    const show = await ssh(lab, 'agent-01', 'systemctl show sensu-agent -p User,Restart,ActiveState,MainPID');
    expect(show.stdout).toContain('User=sensu');
    expect(show.stdout).toContain('Restart=always');
    expect(show.stdout).toContain('ActiveState=active');
    const pid = /MainPID=(\d+)/.exec(show.stdout)?.[1];
    expect((await run('ps', ['-o', 'user=', '-p', String(pid)])).stdout.trim()).toBe('sensu');
    const r = await ssh(lab, 'agent-01', 'sudo systemctl restart sensu-agent && systemctl is-active sensu-agent');
    expect(r.stdout.trim()).toBe('active');
    const after = lab.unitStatus('agent-01');
    expect(after.starts).toBe(before.starts + 1);
    expect(after.mainPid).not.toBe(before.mainPid);
    // Unprivileged users may look, not touch; unknown units are reported as such.
    expect((await ssh(lab, 'agent-01', 'systemctl restart sensu-agent')).stderr).toMatch(/Interactive authentication required/);
    const unknown = await ssh(lab, 'agent-01', 'systemctl status sensu-backend');
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/could not be found/);
    await waitUntil('agent-01 healthy again', 30_000, async () => (await healthz(lab, 'agent-01')) === 200);
  });

  it('restarts a crashed unit by itself (Restart=always) and counts it in NRestarts', async () => {
    const lab = getLab();
    const before = lab.unitStatus('agent-02');
    await ssh(lab, 'agent-02', 'sudo systemctl kill -s KILL sensu-agent');
    await waitUntil(
      'automatic restart',
      10_000,
      () => lab.unitStatus('agent-02').nRestarts === before.nRestarts + 1 && lab.unitStatus('agent-02').activeState === 'active',
    );
    expect((await ssh(lab, 'agent-02', 'systemctl show -p NRestarts --value sensu-agent')).stdout.trim()).toBe(String(before.nRestarts + 1));
    await waitUntil('agent-02 healthy again', 30_000, async () => (await healthz(lab, 'agent-02')) === 200);
  });
});

describe('Sensu stand-in', () => {
  it('reports three healthy etcd members on /health', async () => {
    const lab = getLab();
    const res = await fetch(`http://${lab.host('backend-2').address}:8080/health`);
    const health = (await res.json()) as { ClusterHealth: { Name: string; Healthy: boolean }[] };
    expect(health.ClusterHealth.map((m) => [m.Name, m.Healthy])).toEqual([
      ['backend-1', true],
      ['backend-2', true],
      ['backend-3', true],
    ]);
  });

  it('crash-loops into failed on a startup error, with the real message, until reset-failed', async () => {
    const lab = getLab();
    const host = 'backend-3';
    const cfg = '/etc/sensu/backend.yml';
    const original = lab.readFile(host, cfg);
    // Only cert-file, no key-file: Sensu refuses to start.
    await ssh(lab, host, `echo 'cert-file: "/etc/sensu/tls/backend-3.pem"' | sudo tee -a ${cfg} >/dev/null && sudo systemctl restart sensu-backend`);
    await waitUntil('start limit hit', 20_000, () => lab.unitStatus(host).activeState === 'failed');
    const log = lab.readFile(host, '/var/log/sensu/sensu-backend.log');
    expect(log).toContain('tls configuration error, both flags --cert-file & --key-file are required');
    expect(lab.unitStatus(host).lastExitStatus).toBe(1);
    const refused = await ssh(lab, host, 'sudo systemctl restart sensu-backend');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/attempted too often/);
    // Put the file back, reset, start: healthy again.
    await ssh(lab, host, `sudo tee ${cfg} >/dev/null && sudo systemctl reset-failed sensu-backend && sudo systemctl start sensu-backend`, original);
    await waitUntil('backend-3 healthy', 60_000, async () => {
      const h = (await (await fetch(`http://${lab.host(host).address}:8080/health`)).json()) as { ClusterHealth: { Healthy: boolean }[] };
      return h.ClusterHealth.length === 3 && h.ClusterHealth.every((m) => m.Healthy);
    });
  });

  it('serves TLS on 8080 and 8081 once switched by hand; a ws:// agent is cut off and recovers on wss://', async () => {
    const lab = getLab();
    const b = lab.host('backend-1');
    const ca = readFileSync(`${lab.dir}/pki/ca.pem`, 'utf8');
    // Point agent-01 at backend-1 only, so its fate depends on that backend.
    await ssh(lab, 'agent-01', `sudo sed -i -e '/ws:\\/\\/backend-[23]/d' /etc/sensu/agent.yml && sudo systemctl restart sensu-agent`);
    await waitUntil('agent-01 connected to backend-1', 30_000, async () => (await healthz(lab, 'agent-01')) === 200);
    // Certificates onto the backend, then TLS on (what rollout automates).
    for (const ext of ['pem', 'key']) {
      await ssh(
        lab,
        'backend-1',
        `sudo install -d -o sensu -g sensu -m 0750 /etc/sensu/tls && sudo tee /etc/sensu/tls/backend-1.${ext} >/dev/null && sudo chown sensu: /etc/sensu/tls/backend-1.${ext}`,
        readFileSync(`${lab.dir}/pki/backend-1.${ext}`, 'utf8'),
      );
    }
    await ssh(
      lab,
      'backend-1',
      `sudo tee -a /etc/sensu/backend.yml >/dev/null && sudo systemctl restart sensu-backend`,
      'cert-file: "/etc/sensu/tls/backend-1.pem"\nkey-file: "/etc/sensu/tls/backend-1.key"\n',
    );
    await waitUntil('backend-1 TLS', 60_000, async () => Boolean(await tlsPeer(b.address, 8080, ca)));
    for (const port of [8080, 8081]) {
      const cert = await tlsPeer(b.address, port, ca);
      expect(cert.subject.CN).toBe('backend-1');
      expect(cert.subjectaltname).toContain(`IP Address:${b.address}`);
    }
    const plain = await fetch(`http://${b.address}:8080/health`);
    expect(plain.status).toBe(400);
    expect(await plain.text()).toContain('Client sent an HTTP request to an HTTPS server.');
    // The ws:// agent is cut off, with Sensu's own words.
    await waitUntil('agent-01 cut off', 30_000, async () => (await healthz(lab, 'agent-01')) === 503);
    await waitUntil('reconnection error logged', 30_000, () =>
      lab.readFile('agent-01', '/var/log/sensu/sensu-agent.log').includes('handshake failed with status 400: Client sent an HTTP request to an HTTPS server.'),
    );
    // wss:// with the CA brings it back.
    await ssh(lab, 'agent-01', 'sudo install -d -m 0755 /etc/sensu/tls && sudo tee /etc/sensu/tls/ca.pem >/dev/null', ca);
    await ssh(
      lab,
      'agent-01',
      `sudo sed -i -e 's#ws://backend-1#wss://backend-1#' /etc/sensu/agent.yml && echo 'trusted-ca-file: "/etc/sensu/tls/ca.pem"' | sudo tee -a /etc/sensu/agent.yml >/dev/null && sudo systemctl restart sensu-agent`,
    );
    await waitUntil('agent-01 healthy on wss', 30_000, async () => (await healthz(lab, 'agent-01')) === 200);
  });
});

describe('teardown', () => {
  it('leaves no process, mount or namespace behind', async () => {
    const lab = getLab();
    const namespaces = new Set(lab.state.hosts.map((h) => readlinkSync(`/proc/${h.holderPid}/ns/mnt`)));
    const pidsBefore = lab.state.hosts.map((h) => h.holderPid);
    await lab.stop();
    const left = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return namespaces.has(readlinkSync(`/proc/${p}/ns/mnt`));
        } catch {
          return false;
        }
      });
    expect(left).toEqual([]);
    for (const pid of pidsBefore) expect(() => process.kill(pid, 0)).toThrow();
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(lab.dir);
    const listening = (await run('ss', ['-Hltn'])).stdout;
    expect(listening).not.toContain('127.40.');
  });

  it('a lab whose processes are all gone (its runner was killed) does not block the next one on its range', async () => {
    const lab = getLab();
    // What a killed test run leaves: the lab's state and the range marker, nothing running.
    writeFileSync(join(lab.dir, 'lab.json'), JSON.stringify(lab.state));
    writeFileSync('/run/rollout-lab/net-40', lab.dir);
    const dir = mkdtempSync(join(tmpdir(), 'rollout-lab-40-next-'));
    const third = mkdtempSync(join(tmpdir(), 'rollout-lab-40-third-'));
    const lines: string[] = [];
    const next = await startLab({ dir, net: 40, backends: 1, agents: 1, onProgress: (l) => lines.push(l) });
    try {
      expect(lines.join('\n')).toContain(`clearing the leftovers of ${lab.dir}`);
      expect(existsSync(join(lab.dir, 'lab.json'))).toBe(false);
      expect(readFileSync('/run/rollout-lab/net-40', 'utf8')).toBe(dir);
      // A live lab still holds its range.
      await expect(startLab({ dir: third, net: 40, backends: 1, agents: 1 })).rejects.toThrow(`127.40.0.0/16 is used by the lab in ${dir}`);
    } finally {
      await next.stop();
      for (const d of [dir, third]) rmSync(d, { recursive: true, force: true });
    }
  });
});
