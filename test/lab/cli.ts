/**
 * `npm run lab -- up|down|status`: the test lab from the command line (tests use lab.ts directly).
 */
import { Command, InvalidArgumentError } from 'commander';
import { attach, startLab, stopLab } from './lab.js';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

const program = new Command('lab').description('A fleet of real SSH hosts running a Sensu Go stand-in, on this machine (root).').showHelpAfterError();

program
  .command('up')
  .description('start a lab and write inventory.yml, known_hosts, ssh/ and pki/ into DIR')
  .requiredOption('--dir <dir>', 'directory for the lab (created)')
  .option('--backends <n>', 'backends (one etcd cluster)', int, 3)
  .option('--agents <n>', 'agents', int, 20)
  .option('--net <n>', 'second octet of the 127.N.0.0/16 range the hosts use', int, 30)
  .option('--ssh-port <port>', "port of every host's sshd", int, 22)
  .option('--sudo-password-host <name...>', 'hosts where sudo asks for a password')
  .option('--rtt <ms>', 'round trip time to every sshd: SSH goes through a relay holding each chunk MS/2 each way (0: none)', int, 0)
  .action(async (opts: { dir: string; backends: number; agents: number; net: number; sshPort: number; sudoPasswordHost?: string[]; rtt: number }) => {
    const t0 = Date.now();
    const lab = await startLab({
      dir: opts.dir,
      backends: opts.backends,
      agents: opts.agents,
      net: opts.net,
      sshPort: opts.sshPort,
      sudoPasswordHosts: opts.sudoPasswordHost ?? [],
      rttMs: opts.rtt,
      onProgress: (line) => process.stderr.write(`lab: ${line}\n`),
    });
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    process.stdout.write(
      `lab up: ${opts.backends} backends + ${opts.agents} agents on 127.${opts.net}.0.0/16 in ${seconds} s\n` +
        (lab.state.relay
          ? `  latency     ${lab.state.relay.rttMs} ms round trip to every sshd through the relay (pid ${lab.state.relay.pid}, port ${lab.state.relay.port})\n`
          : '') +
        `  inventory   ${lab.inventoryPath}\n  known_hosts ${lab.knownHostsPath}\n  ssh key     ${lab.keyPath}\n` +
        `  stop with   npm run lab -- down --dir ${lab.dir}\n`,
    );
  });

program
  .command('down')
  .description('stop a lab: no process, mount or namespace is left behind')
  .requiredOption('--dir <dir>', 'the lab directory')
  .action(async (opts: { dir: string }) => {
    await stopLab(opts.dir);
    process.stdout.write(`lab down: ${opts.dir}\n`);
  });

program
  .command('status')
  .description('show the hosts of a running lab and their unit states')
  .requiredOption('--dir <dir>', 'the lab directory')
  .action((opts: { dir: string }) => {
    const lab = attach(opts.dir);
    for (const h of lab.state.hosts) {
      const u = lab.unitStatus(h.name);
      process.stdout.write(
        `${h.name.padEnd(12)} ${h.role.padEnd(8)} ${h.address.padEnd(15)} ${u.unit} ${u.activeState} (starts ${u.starts}, restarts ${u.nRestarts})\n`,
      );
    }
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
