/**
 * `rollout certs`: a CA (made, reused from --out, or given) and one certificate per backend (and
 * per agent with --agents), named so the inventory can point at them. A rerun keeps what still
 * qualifies and renews only what does not; it never writes over a file it did not decide to renew.
 * Runs on the controller only: no host is contacted.
 */
import { randomBytes, X509Certificate as NodeX509 } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createRootCa, issueCertificate, loadCaFiles, type CertificateAuthority } from '../../certs/generate.js';
import { agentClientProfile, assessHostCertificate, hostSans, sanLabels, type CertVerdict } from '../../certs/host-certs.js';
import { summarizeCertificate } from '../../certs/inspect.js';
import { privateKeyPem } from '../../certs/keys.js';
import { ExitCode, InputError } from '../../errors.js';
import { selectHosts } from '../../inventory/limit.js';
import { loadInventory } from '../../inventory/load.js';
import type { HostSpec } from '../../inventory/types.js';
import { table, type Output } from '../output.js';

/** Options of `rollout certs`. */
export interface CertsFlags {
  inventory: string;
  out: string;
  limit?: string;
  caCert?: string;
  caKey?: string;
  days: number;
  minValidity: number;
  agents?: boolean;
  json?: boolean;
}

/** What happened to one host's certificate. */
interface HostResult {
  host: string;
  role: string;
  action: 'kept' | 'issued' | 'renewed';
  reasons: string[];
  certFile: string;
  keyFile: string;
  notAfter: string;
  daysLeft: number;
  sans: string[];
}

const DAY_MS = 86_400_000;

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Temp file in the same directory, then rename: a reader never sees half a key. */
async function writeAtomic(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, content, { mode, flag: 'wx' });
  // `mode` is filtered by the umask; the final mode must be exact.
  await chmod(tmp, mode);
  await rename(tmp, path);
}

interface CaChoice {
  ca: CertificateAuthority;
  line: string;
}

/** The CA to sign with: --ca-cert/--ca-key, else DIR/ca.pem + DIR/ca.key, else a new one. */
async function chooseCa(flags: CertsFlags, outDir: string): Promise<CaChoice> {
  const caPemPath = join(outDir, 'ca.pem');
  const caKeyPath = join(outDir, 'ca.key');
  if (flags.caCert !== undefined || flags.caKey !== undefined) {
    if (flags.caCert === undefined || flags.caKey === undefined)
      throw new InputError('--ca-cert and --ca-key go together', [], { hint: 'give both, or neither to use (or create) ca.pem and ca.key in --out' });
    const certPath = resolve(flags.caCert);
    const ca = await loadCaFiles(certPath, resolve(flags.caKey));
    const given = await readFile(certPath, 'utf8');
    const existing = await readIfExists(caPemPath);
    if (existing !== undefined && existing !== given && certPath !== caPemPath) {
      throw new InputError(`${caPemPath} already holds another CA certificate than ${flags.caCert}`, [], {
        hint: `remove ${caPemPath} (hosts trusting it would need the new CA), or choose another --out`,
      });
    }
    // Created only once the CA checked out: bad input leaves no empty directory behind.
    await mkdir(outDir, { recursive: true });
    if (existing === undefined) await writeAtomic(caPemPath, given, 0o644);
    return { ca, line: `ca       using ${flags.caCert} (${existing === undefined ? 'copied to' : 'same as'} ${caPemPath})` };
  }
  const [certText, keyText] = await Promise.all([readIfExists(caPemPath), readIfExists(caKeyPath)]);
  if (certText !== undefined && keyText !== undefined) {
    const ca = await loadCaFiles(caPemPath, caKeyPath);
    return { ca, line: `ca       reused ${caPemPath} (${describeCa(ca)})` };
  }
  if (certText !== undefined || keyText !== undefined) {
    const [have, lack] = certText !== undefined ? [caPemPath, caKeyPath] : [caKeyPath, caPemPath];
    throw new InputError(`${have} exists but ${lack} does not: cannot sign with half a CA`, [], {
      hint: 'restore the missing file, give the CA with --ca-cert/--ca-key, or choose another --out',
    });
  }
  const ca = await createRootCa({ commonName: 'rollout CA' });
  await mkdir(outDir, { recursive: true });
  await writeAtomic(caKeyPath, privateKeyPem(ca.privateKey), 0o600);
  await writeAtomic(caPemPath, ca.certPem, 0o644);
  return { ca, line: `ca       created ${caPemPath} and ${caKeyPath} (${describeCa(ca)})` };
}

function describeCa(ca: CertificateAuthority): string {
  const s = summarizeCertificate(new NodeX509(ca.certPem));
  return `${s.subjectCN ? `CN=${s.subjectCN}` : s.subject}, until ${s.notAfter}`;
}

async function certifyHost(host: HostSpec, outDir: string, ca: CertificateAuthority, flags: CertsFlags): Promise<HostResult> {
  const certFile = join(outDir, `${host.name}.pem`);
  const keyFile = join(outDir, `${host.name}.key`);
  // A backend's certificate serves (and is an etcd client); an agent's only authenticates it.
  const profile =
    host.role === 'agent'
      ? agentClientProfile(host)
      : { commonName: host.name, usages: ['serverAuth', 'clientAuth'] as ('serverAuth' | 'clientAuth')[], wanted: hostSans(host) };
  const { wanted } = profile;
  const [certPem, keyPem] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
  const verdict: CertVerdict = assessHostCertificate({
    certPem,
    keyPem,
    caPem: ca.certPem,
    wanted,
    minValidityDays: flags.minValidity,
    usages: profile.usages,
    ...(host.role === 'agent' ? { commonName: profile.commonName } : {}),
  });
  const base = { host: host.name, role: host.role, certFile, keyFile, sans: sanLabels(wanted) };
  if (verdict.action === 'keep') {
    return { ...base, action: 'kept', reasons: [], notAfter: verdict.notAfter.toISOString().slice(0, 10), daysLeft: verdict.daysLeft };
  }
  const issued = await issueCertificate(ca, { commonName: profile.commonName, ...wanted, validityDays: flags.days, extendedKeyUsages: profile.usages });
  // Key first: a certificate on disk without its key would be the worse half-state.
  await writeAtomic(keyFile, privateKeyPem(issued.privateKey), 0o600);
  await writeAtomic(certFile, issued.bundlePem, 0o644);
  const notAfter = summarizeCertificate(new NodeX509(issued.certPem)).notAfterDate;
  return {
    ...base,
    action: verdict.action === 'issue' ? 'issued' : 'renewed',
    reasons: verdict.action === 'renew' ? verdict.reasons : [],
    notAfter: notAfter.toISOString().slice(0, 10),
    daysLeft: Math.floor((notAfter.getTime() - Date.now()) / DAY_MS),
  };
}

/** Runs `rollout certs`; returns the exit code. */
export async function runCerts(flags: CertsFlags, out: Output): Promise<number> {
  if (flags.days <= flags.minValidity) {
    throw new InputError(`--days ${flags.days} must be more than --min-validity ${flags.minValidity}`, [], {
      hint: 'otherwise every rerun would renew what it just issued',
    });
  }
  const inventory = await loadInventory(resolve(flags.inventory), { displayName: flags.inventory, checkFiles: false });
  for (const w of inventory.warnings) out.note(out.style('yellow', `warning: ${w}`));
  const selected = selectHosts(inventory, flags.limit);
  const hosts = selected.filter((h) => h.role === 'backend' || flags.agents === true);
  const bad = hosts.filter((h) => /[/\\]|^\.\.?$/.test(h.name)).map((h) => `${h.name}: a host name with a path separator cannot name a file`);
  if (bad.length > 0) throw new InputError('cannot name certificate files after these hosts', bad);
  if (hosts.length === 0) {
    throw new InputError(
      `no ${flags.agents ? 'hosts' : 'backends'} selected from ${flags.inventory}${flags.limit ? ` with --limit ${flags.limit}` : ''}`,
      [],
      flags.agents ? {} : { hint: 'agents only get certificates with --agents' },
    );
  }

  const outDir = resolve(flags.out);
  const { ca, line: caLine } = await chooseCa(flags, outDir);
  const results = await Promise.all(hosts.map((h) => certifyHost(h, outDir, ca, flags)));
  const skippedAgents = selected.filter((h) => h.role === 'agent').length - hosts.filter((h) => h.role === 'agent').length;
  const rel = relative(inventory.dir, outDir) || '.';
  const vars = {
    all: { sensu_ca_file: `${rel}/ca.pem` },
    backends: { sensu_cert_file: `${rel}/{{ inventory_hostname }}.pem`, sensu_key_file: `${rel}/{{ inventory_hostname }}.key` },
    ...(flags.agents
      ? { agents: { sensu_client_cert_file: `${rel}/{{ inventory_hostname }}.pem`, sensu_client_key_file: `${rel}/{{ inventory_hostname }}.key` } }
      : {}),
  };

  if (flags.json) {
    out.json('certs', { ca: join(outDir, 'ca.pem'), hosts: results, inventoryVars: vars });
    return ExitCode.Ok;
  }
  out.line(caLine);
  const mark = (a: HostResult['action']): string => (a === 'kept' ? out.style('dim', a) : a === 'issued' ? out.style('green', a) : out.style('yellow', a));
  out.line(
    table(
      results.map((r) => [
        mark(r.action),
        r.host,
        `until ${r.notAfter} (${r.daysLeft} days)`,
        r.action === 'renewed' ? `because ${r.reasons.join('; ')}` : r.action === 'issued' ? r.sans.join(', ') : '',
      ]),
    ),
  );
  const counts = (['issued', 'renewed', 'kept'] as const).map((a) => `${results.filter((r) => r.action === a).length} ${a}`).join(', ');
  out.line();
  out.line(`${results.length} certificate(s) in ${outDir}: ${counts}`);
  if (skippedAgents > 0)
    out.line(out.style('dim', `${skippedAgents} agent(s) got none: agents need only the CA (--agents issues client certificates for mTLS)`));
  const elsewhere = hosts.filter((h) => h.role === 'backend' && h.sensu.certFile !== undefined && resolve(h.sensu.certFile) !== join(outDir, `${h.name}.pem`));
  if (elsewhere.length > 0) out.line(out.style('yellow', `note: the inventory points ${elsewhere.map((h) => h.name).join(', ')} at other certificate files`));
  out.line();
  out.line('Inventory variables for these files (paths relative to the inventory):');
  out.line('  all:');
  out.line('    vars:');
  out.line(`      sensu_ca_file: ${vars.all.sensu_ca_file}`);
  out.line('    children:');
  out.line('      backends:');
  out.line('        vars:');
  out.line(`          sensu_cert_file: ${vars.backends.sensu_cert_file}`);
  out.line(`          sensu_key_file: ${vars.backends.sensu_key_file}`);
  if (flags.agents) {
    out.line('      agents:');
    out.line('        vars:');
    out.line(`          sensu_client_cert_file: ${rel}/{{ inventory_hostname }}.pem`);
    out.line(`          sensu_client_key_file: ${rel}/{{ inventory_hostname }}.key`);
  }
  return ExitCode.Ok;
}
