/**
 * `npm run demo`: the main job against the lab, as an operator would run it. Brings up 3 backends
 * and 20 agents, shows the dry run, secures the fleet, shows its TLS status, runs again to show
 * that nothing changes, and tears the lab down (also on failure or Ctrl-C).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startLab, type Lab } from './lab/lab.js';

const BIN = join(import.meta.dirname, '..', 'src', 'cli', 'rollout.mjs');
const bold = (s: string): string => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[0m` : s);

function banner(text: string): void {
  process.stdout.write(`\n${bold(`━━ ${text} ${'━'.repeat(Math.max(0, 74 - text.length))}`)}\n\n`);
}

/** Runs rollout with the terminal attached, so the demo shows exactly what an operator sees. */
function rollout(args: string[]): Promise<number> {
  process.stdout.write(`$ rollout ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

function peer(address: string, port: number, ca: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: address, port, ca, timeout: 3000 }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve(
        s.authorized
          ? `TLS ${s.getProtocol() ?? ''}, CN=${String(c.subject.CN)}, expires ${new Date(c.valid_to).toISOString().slice(0, 10)}, verified`
          : `TLS, NOT verified: ${String(s.authorizationError)}`,
      );
    });
    s.on('error', (e: Error) => resolve(`plain or down (${e.message})`));
    s.on('timeout', () => resolve('no answer'));
  });
}

async function status(lab: Lab): Promise<void> {
  const ca = readFileSync(join(lab.dir, 'pki', 'ca.pem'), 'utf8');
  for (const h of lab.state.hosts.filter((x) => x.role === 'backend')) {
    process.stdout.write(
      `${h.name.padEnd(10)} api :8080  ${await peer(h.address, 8080, ca)}\n${''.padEnd(10)} agents :8081  ${await peer(h.address, 8081, ca)}\n`,
    );
  }
  const agents = lab.state.hosts.filter((x) => x.role === 'agent');
  let wss = 0;
  let healthy = 0;
  for (const a of agents) {
    if (/wss:\/\//.test(lab.readFile(a.name, '/etc/sensu/agent.yml'))) wss += 1;
    const res = await fetch(`http://${a.address}:3031/healthz`).catch(() => undefined);
    if (res?.status === 200) healthy += 1;
  }
  process.stdout.write(`agents     ${wss}/${agents.length} dial wss://, ${healthy}/${agents.length} connected (/healthz 200)\n`);
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-demo-'));
  let lab: Lab | undefined;
  const cleanup = async (): Promise<void> => {
    if (lab) {
      banner('Tearing the lab down');
      await lab.stop();
      lab = undefined;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    void cleanup().then(() => process.exit(130));
  });
  try {
    banner('Starting the lab: 3 backends + 20 agents, real sshd and etcd, plain ws://');
    const t0 = Date.now();
    lab = await startLab({ dir, backends: 3, agents: 20, net: 30, onProgress: (l) => process.stdout.write(`  ${l}\n`) });
    process.stdout.write(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s; inventory ${lab.inventoryPath}\n`);
    const common = ['-i', lab.inventoryPath, '--known-hosts', lab.knownHostsPath];

    banner('Dry run: what would change (nothing is touched)');
    const check = await rollout(['secure', ...common, '--check', '--diff']);
    process.stdout.write(`(exit ${check}: 5 means changes are pending)\n`);

    banner('Securing the fleet');
    const secure = await rollout(['secure', ...common, '--yes']);
    if (secure !== 0) return secure;

    banner('TLS status of the fleet');
    await status(lab);

    banner('Running again: nothing changes, nothing restarts');
    const again = await rollout(['secure', ...common, '--yes']);
    return again;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
