/**
 * `systemctl` inside a lab host: a thin client of the lab supervisor. Bound over the real
 * /usr/bin/systemctl in each host, so rollout runs exactly the commands it would on a real host.
 * Usage (from the per-host wrapper): node systemctl.mjs SOCKET [systemctl args…]
 */
import net from 'node:net';

const [sock, ...argv] = process.argv.slice(2);
if (!sock) {
  process.stderr.write('systemctl: lab socket missing\n');
  process.exit(1);
}
const conn = net.connect(sock);
let buf = '';
conn.on('connect', () => conn.write(`${JSON.stringify({ argv, uid: process.getuid?.() ?? 0 })}\n`));
conn.on('data', (d) => {
  buf += d.toString();
});
conn.on('end', () => {
  const reply = JSON.parse(buf) as { code: number; stdout: string; stderr: string };
  process.stdout.write(reply.stdout);
  process.stderr.write(reply.stderr);
  process.exitCode = reply.code;
});
conn.on('error', (err: NodeJS.ErrnoException) => {
  // What real systemctl says when systemd is not reachable.
  const denied = err.code === 'EACCES';
  process.stderr.write(denied ? 'Failed to connect to bus: Permission denied\n' : 'System has not been booted with systemd as init system (PID 1). Can\'t operate.\nFailed to connect to bus: Host is down\n');
  process.exitCode = 1;
});
