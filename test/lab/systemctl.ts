/**
 * `systemctl` inside a lab host: a thin client of the lab supervisor, bound over the real
 * /usr/bin/systemctl in each host, so rollout runs exactly the commands it would on a real host.
 *
 * It is a Perl script (perl-base is Essential on Debian), not a node program: real systemctl
 * costs a few milliseconds, and a node start costs ~0.15 CPU-s. Every facts gathering and
 * Ansible's systemd module call it once per host, so on a 200-host lab a node client alone would
 * burn ~30 CPU-s and the bench would time the lab, not the tools. For the same reason it loads
 * neither Perl's Socket module nor warnings: they were 11 of a call's 20 ms of CPU. The request is one JSON line (argv, uid); `raw` asks for a reply Perl reads without a
 * JSON parser: "<code> <stdout bytes> <stderr bytes>\n" then the two outputs.
 */

/** The client script for one host, talking to the supervisor at `socket`. */
export function systemctlClient(socket: string): string {
  return `#!/usr/bin/perl
# systemctl for a rollout lab host (test/lab/systemctl.ts writes it).
use strict;
my $path = '${socket.replace(/'/g, "\\'")}';
sub js { my $v = shift; $v =~ s/(["\\\\])/\\\\$1/g; $v =~ s/([\\x00-\\x1f])/sprintf('\\\\u%04x', ord $1)/ge; return qq("$v"); }
# AF_UNIX and SOCK_STREAM are 1 on Linux; a sockaddr_un is the family, then the path in 108 bytes.
socket(my $s, 1, 1, 0) or die "systemctl: socket: $!\\n";
unless (connect($s, pack('S Z108', 1, $path))) {
  # What real systemctl says when systemd is not reachable.
  print STDERR $!{EACCES} ? "Failed to connect to bus: Permission denied\\n"
    : "System has not been booted with systemd as init system (PID 1). Can't operate.\\nFailed to connect to bus: Host is down\\n";
  exit 1;
}
binmode $s;
my $req = '{"raw":true,"uid":' . $< . ',"argv":[' . join(',', map { js($_) } @ARGV) . "]}\\n";
syswrite($s, $req) or die "systemctl: write: $!\\n";
my $reply = do { local $/; <$s> } // '';
my ($code, $no, $ne, $rest) = $reply =~ /\\A(\\d+) (\\d+) (\\d+)\\n(.*)\\z/s or do { print STDERR "systemctl: no reply from the lab supervisor\\n"; exit 1 };
binmode STDOUT;
binmode STDERR;
print STDOUT substr($rest, 0, $no);
print STDERR substr($rest, $no, $ne);
exit $code;
`;
}
