/**
 * `GET /health`: sensu-go's `GetClusterHealth` (backend/store/etcd/health_store.go). The member
 * list comes from the backend's own etcd client; then every member is read through its own client
 * URLs, so a member whose client listener is broken shows up unhealthy even when the cluster is fine.
 *
 * Encoded by hand because member and cluster IDs are uint64 and Go writes them as bare numbers,
 * which JSON.stringify cannot do without losing precision.
 */
import { EtcdClient } from './etcd-client.js';
import type { EtcdHeader, EtcdMember, EtcdTls } from './etcd-client.js';
import type { Logger } from './log.js';

/** One member's verdict (corev2.ClusterHealth). */
export interface MemberHealth {
  /** uint64 as a decimal string. */
  memberId: string;
  name: string;
  err: string;
  healthy: boolean;
}

/** The whole /health answer before encoding (corev2.HealthResponse). */
export interface HealthResponse {
  alarms: { memberID?: string; alarm?: string }[];
  members: MemberHealth[];
  header: EtcdHeader | null;
}

/** A JSON string as Go's encoder writes it (HTML-sensitive characters escaped). */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function uint64(text: string | undefined): string {
  return /^\d+$/.test(text ?? '') ? String(BigInt(text ?? '0')) : '0';
}

const ALARM_TYPES: Record<string, number> = { NONE: 0, NOSPACE: 1, CORRUPT: 2 };

/** Encodes a health response exactly as sensu-backend's `json.NewEncoder(w).Encode(resp)` would. */
export function encodeHealth(resp: HealthResponse): string {
  const alarms =
    resp.alarms.length === 0
      ? 'null'
      : `[${resp.alarms
          .map((a) => {
            const parts: string[] = [];
            if (uint64(a.memberID) !== '0') parts.push(`"memberID":${uint64(a.memberID)}`);
            const t = ALARM_TYPES[a.alarm ?? 'NONE'] ?? 0;
            if (t !== 0) parts.push(`"alarm":${t}`);
            return `{${parts.join(',')}}`;
          })
          .join(',')}]`;
  const members = `[${resp.members
    .map((m) => {
      const id = uint64(m.memberId);
      return `{"MemberID":${id},"MemberIDHex":"${BigInt(id).toString(16)}","Name":${goJsonString(m.name)},"Err":${goJsonString(m.err)},"Healthy":${m.healthy}}`;
    })
    .join(',')}]`;
  let header = 'null';
  if (resp.header) {
    // etcdserverpb.ResponseHeader: every field is `omitempty`.
    const parts: string[] = [];
    for (const field of ['cluster_id', 'member_id', 'revision', 'raft_term'] as const) {
      const v = uint64(resp.header[field]);
      if (v !== '0') parts.push(`"${field}":${v}`);
    }
    header = `{${parts.join(',')}}`;
  }
  return `{"Alarms":${alarms},"ClusterHealth":${members},"Header":${header}}\n`;
}

async function memberHealth(member: EtcdMember, tls: EtcdTls, timeoutMs: number): Promise<MemberHealth> {
  const base = { memberId: member.ID, name: member.name ?? '' };
  const urls = member.clientURLs ?? [];
  if (urls.length === 0) return { ...base, err: 'etcdclient: no available endpoints', healthy: false };
  const client = new EtcdClient(urls, tls, timeoutMs);
  try {
    await client.get('health', timeoutMs);
    return { ...base, err: '', healthy: true };
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    // sensu-go counts "permission denied" (etcd auth on) as healthy: the member answered.
    if (/permission denied/.test(text)) return { ...base, err: '', healthy: true };
    return { ...base, err: text, healthy: false };
  } finally {
    client.close();
  }
}

/**
 * Checks the cluster. `timeoutS` is the `?timeout=` parameter (default 3); 0 means no request
 * timeout, bounded here by the 5 s dial timeout sensu-go gives each member's client.
 */
export async function clusterHealth(client: EtcdClient, memberTls: EtcdTls, timeoutS: number, log: Logger): Promise<HealthResponse> {
  const timeoutMs = timeoutS > 0 ? timeoutS * 1000 : 5000;
  let list: { header: EtcdHeader; members: EtcdMember[] };
  try {
    list = await client.memberList(timeoutMs);
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    log.error('could not get the cluster member list', { error: text });
    return {
      alarms: [],
      members: [{ memberId: '0', name: 'etcd client', err: `error getting cluster member list: ${text}`, healthy: false }],
      header: null,
    };
  }
  const members = await Promise.all(list.members.map((m) => memberHealth(m, memberTls, timeoutMs)));
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let alarms: { memberID?: string; alarm?: string }[] = [];
  try {
    alarms = await client.alarms(timeoutMs);
  } catch (err) {
    log.error('failed to fetch etcd alarm list', { error: err instanceof Error ? err.message : String(err) });
  }
  return { alarms, members, header: list.header };
}
