/**
 * A small etcd v3 client over etcd's JSON gateway (`POST /v3/kv/range` …), over http or https
 * with the backend's etcd client certificate. Keys and values travel base64-encoded; 64-bit
 * numbers arrive as decimal strings and are kept as strings.
 */
import http from 'node:http';
import https from 'node:https';
import { goClientError } from './go-errors.js';

/** TLS material for dialing etcd (etcd-trusted-ca-file, etcd-cert-file, etcd-key-file). */
export interface EtcdTls {
  /** CA certificates (PEM); undefined means Node's default store, as Go uses the system pool. */
  ca?: string[] | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** An etcd call that failed; `message` is what Go's client would say, `detail` the last cause. */
export class EtcdError extends Error {
  constructor(
    message: string,
    /** The underlying reason (connection refused, TLS verification…), for logs. */
    readonly detail: string,
  ) {
    super(message);
  }
}

/** etcd's response header (64-bit values as decimal strings). */
export interface EtcdHeader {
  cluster_id?: string;
  member_id?: string;
  revision?: string;
  raft_term?: string;
}

/** One member from `/v3/cluster/member/list`. */
export interface EtcdMember {
  ID: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

/** A key-value pair, decoded. */
export interface EtcdKv {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
}

interface RawKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The exclusive end of a prefix range (etcd's `clientv3.GetPrefixRangeEnd`). */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i] ?? 0;
    if (byte < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i] = byte + 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

/** Talks to the members at `endpoints`, failing over in order, like clientv3's balancer. */
export class EtcdClient {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;
  private preferred = 0;

  constructor(
    readonly endpoints: readonly string[],
    tls: EtcdTls,
    private readonly defaultTimeoutMs = 5000,
  ) {
    this.httpsAgent = new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
    this.httpAgent = new http.Agent({ keepAlive: true });
  }

  /** Closes pooled connections. */
  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }

  private post(endpoint: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const url = new URL(path, endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    const isHttps = url.protocol === 'https:';
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(
        url,
        {
          method: 'POST',
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              reject(new EtcdError(`etcd gateway: unexpected response (${res.statusCode})`, text.slice(0, 200)));
              return;
            }
            if ((res.statusCode ?? 500) >= 400) {
              const msg = (parsed as { message?: string; error?: string }).message ?? (parsed as { error?: string }).error ?? `status ${res.statusCode}`;
              reject(new EtcdError(msg, msg));
              return;
            }
            resolve(parsed);
          });
          res.on('error', (err) => reject(new EtcdError('context deadline exceeded', err.message)));
        },
      );
      const expired = (): void => {
        req.destroy(new Error('context deadline exceeded'));
      };
      const deadline = setTimeout(expired, timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('timeout', expired);
      req.on('error', (err: NodeJS.ErrnoException & { address?: string; port?: number }) => {
        const host = err.address ?? url.hostname.replace(/^\[|\]$/g, '');
        const port = err.port ?? (Number(url.port) || (isHttps ? 443 : 80));
        reject(err instanceof EtcdError ? err : new EtcdError('context deadline exceeded', goClientError(err, host, port)));
      });
      req.end(payload);
    });
  }

  /** Calls a gateway method on the first member that answers. */
  async call(path: string, body: unknown, timeoutMs = this.defaultTimeoutMs): Promise<unknown> {
    const started = Date.now();
    let last: EtcdError | undefined;
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.preferred + i) % this.endpoints.length;
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      try {
        const result = await this.post(this.endpoints[index] ?? '', path, body, left);
        this.preferred = index;
        return result;
      } catch (err) {
        last = err instanceof EtcdError ? err : new EtcdError('context deadline exceeded', String(err));
        // A server-side answer (e.g. no leader) is as good as any member's: do not fail over.
        if (last.message !== 'context deadline exceeded' && !last.message.startsWith('etcd gateway')) throw last;
      }
    }
    throw last ?? new EtcdError('context deadline exceeded', 'no endpoint answered in time');
  }

  /** Reads one key (linearizable, so it needs a quorum like clientv3's default Get). */
  async get(key: string, timeoutMs?: number): Promise<EtcdKv | undefined> {
    const res = (await this.call('v3/kv/range', { key: b64(key) }, timeoutMs)) as { kvs?: RawKv[] };
    const kv = res.kvs?.[0];
    return kv ? decodeKv(kv) : undefined;
  }

  /** Reads every key under a prefix. */
  async getPrefix(prefix: string, timeoutMs?: number): Promise<EtcdKv[]> {
    const res = (await this.call('v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix) }, timeoutMs)) as { kvs?: RawKv[] };
    return (res.kvs ?? []).map(decodeKv);
  }

  /** Writes a key. */
  async put(key: string, value: string, timeoutMs?: number): Promise<void> {
    await this.call('v3/kv/put', { key: b64(key), value: b64(value) }, timeoutMs);
  }

  /** Deletes a key. */
  async delete(key: string, timeoutMs?: number): Promise<void> {
    await this.call('v3/kv/deleterange', { key: b64(key) }, timeoutMs);
  }

  /** Writes a key only if it does not exist yet (one transaction, so concurrent writers agree). */
  async putIfAbsent(key: string, value: string, timeoutMs?: number): Promise<boolean> {
    const res = (await this.call(
      'v3/kv/txn',
      {
        compare: [{ key: b64(key), target: 'CREATE', create_revision: '0', result: 'EQUAL' }],
        success: [{ request_put: { key: b64(key), value: b64(value) } }],
      },
      timeoutMs,
    )) as { succeeded?: boolean };
    return res.succeeded === true;
  }

  /** The cluster's members and the answering member's header. */
  async memberList(timeoutMs?: number): Promise<{ header: EtcdHeader; members: EtcdMember[] }> {
    const res = (await this.call('v3/cluster/member/list', {}, timeoutMs)) as { header?: EtcdHeader; members?: EtcdMember[] };
    return { header: res.header ?? {}, members: res.members ?? [] };
  }

  /** Active alarms (NOSPACE, CORRUPT). */
  async alarms(timeoutMs?: number): Promise<{ memberID?: string; alarm?: string }[]> {
    const res = (await this.call('v3/maintenance/alarm', { action: 'GET' }, timeoutMs)) as { alarms?: { memberID?: string; alarm?: string }[] };
    return res.alarms ?? [];
  }

  /** etcd's `/version` document (`{"etcdserver": …, "etcdcluster": …}`). */
  async version(timeoutMs = this.defaultTimeoutMs): Promise<Record<string, string>> {
    const endpoint = this.endpoints[this.preferred] ?? '';
    const url = new URL('version', endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    const isHttps = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).get(url, { agent: isHttps ? this.httpsAgent : this.httpAgent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>);
          } catch (err) {
            reject(new EtcdError('context deadline exceeded', String(err)));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => reject(new EtcdError('context deadline exceeded', err.message)));
    });
  }
}

function decodeKv(kv: RawKv): EtcdKv {
  return { key: unb64(kv.key), value: unb64(kv.value), createRevision: kv.create_revision ?? '0', modRevision: kv.mod_revision ?? '0' };
}
