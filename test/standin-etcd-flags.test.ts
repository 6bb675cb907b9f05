/**
 * The stand-in backend starts its real etcd member with every etcd-* key of backend.yml mapped
 * to the etcd flag sensu-go's embed config sets (backend/etcd/etcd.go at v6.12.0): client and
 * peer TLS above all, since `rollout secure --etcd-tls` is tested against what etcd really does
 * with them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBackendConfig } from './lab/sensu/backend-config.js';
import { parseCommandLine } from './lab/sensu/config.js';
import { etcdArgs } from './lab/sensu/etcd-process.js';
import { scratchDir } from './helpers/scratch.js';

describe('stand-in: backend.yml etcd keys → etcd flags', () => {
  const dir = scratchDir('standin-etcd-');

  it('maps client and peer TLS, URLs and cluster keys', () => {
    const file = join(dir, 'backend.yml');
    writeFileSync(
      file,
      [
        'etcd-name: "b1"',
        'etcd-listen-client-urls: "https://10.0.0.1:2379"',
        'etcd-advertise-client-urls: "https://10.0.0.1:2379"',
        'etcd-listen-peer-urls: "https://10.0.0.1:2380"',
        'etcd-initial-advertise-peer-urls: "https://10.0.0.1:2380"',
        'etcd-initial-cluster: "b1=https://10.0.0.1:2380,b2=https://10.0.0.2:2380"',
        'etcd-initial-cluster-state: "existing"',
        'etcd-initial-cluster-token: "t"',
        'etcd-cert-file: "/tls/b1.pem"',
        'etcd-key-file: "/tls/b1.key"',
        'etcd-trusted-ca-file: "/tls/ca.pem"',
        'etcd-client-cert-auth: "true"',
        'etcd-peer-cert-file: "/tls/p.pem"',
        'etcd-peer-key-file: "/tls/p.key"',
        'etcd-peer-trusted-ca-file: "/tls/pca.pem"',
        'etcd-peer-client-cert-auth: true',
        'etcd-cipher-suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]',
        'etcd-unsafe-no-fsync: true',
        '',
      ].join('\n'),
    );
    const args = etcdArgs(loadBackendConfig(parseCommandLine(['start', '-c', file]), {}).etcd, '/var/lib/sensu/sensu-backend');
    expect(args).toEqual(
      expect.arrayContaining([
        '--name=b1',
        '--data-dir=/var/lib/sensu/sensu-backend/etcd/data',
        '--listen-client-urls=https://10.0.0.1:2379',
        '--advertise-client-urls=https://10.0.0.1:2379',
        '--listen-peer-urls=https://10.0.0.1:2380',
        '--initial-advertise-peer-urls=https://10.0.0.1:2380',
        '--initial-cluster=b1=https://10.0.0.1:2380,b2=https://10.0.0.2:2380',
        '--initial-cluster-state=existing',
        '--initial-cluster-token=t',
        '--cert-file=/tls/b1.pem',
        '--key-file=/tls/b1.key',
        '--trusted-ca-file=/tls/ca.pem',
        '--client-cert-auth',
        '--peer-cert-file=/tls/p.pem',
        '--peer-key-file=/tls/p.key',
        '--peer-trusted-ca-file=/tls/pca.pem',
        '--peer-client-cert-auth',
        '--cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
        '--unsafe-no-fsync',
      ]),
    );
  });

  it('leaves TLS flags out when the keys are unset, and false booleans off', () => {
    const file = join(dir, 'plain.yml');
    writeFileSync(file, 'etcd-client-cert-auth: false\n');
    const args = etcdArgs(loadBackendConfig(parseCommandLine(['start', '-c', file]), {}).etcd, '/s');
    expect(args.filter((a) => /cert|key-file|trusted-ca|cipher|no-fsync|discovery/.test(a))).toEqual([]);
    expect(args).toContain('--listen-client-urls=http://127.0.0.1:2379');
  });
});
