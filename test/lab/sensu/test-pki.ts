/**
 * Throw-away certificates for the stand-in tests, made with the openssl CLI: an EC P-256 CA and
 * leaf certificates with the SANs a test asks for. Nothing here is committed; every key is born
 * in a test's temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Paths of a certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** What a leaf certificate says about itself. */
export interface LeafSpec {
  cn: string;
  dns?: string[];
  ips?: string[];
  /** Extended key usage; backends' certs serve and (for etcd) also act as clients. */
  usage?: 'server' | 'client' | 'both';
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA in `dir` (`<name>.pem`, `<name>-key.pem`). */
export function makeCa(dir: string, name: string): CertFiles {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    files.key,
    '-out',
    files.cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return files;
}

/** A leaf certificate signed by `ca`, in `dir` (`<name>.pem`, `<name>-key.pem`). */
export function issue(ca: CertFiles, dir: string, name: string, spec: LeafSpec): CertFiles {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', '-new', ...EC, '-keyout', files.key, '-out', csr, '-subj', `/CN=${spec.cn}`]);
  const usage = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth' }[spec.usage ?? 'both'];
  const sans = [...(spec.dns ?? []).map((d) => `DNS:${d}`), ...(spec.ips ?? []).map((i) => `IP:${i}`)];
  const lines = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${usage}`];
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  writeFileSync(ext, `${lines.join('\n')}\n`);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    files.cert,
  ]);
  return files;
}
