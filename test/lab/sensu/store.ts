/**
 * Sensu's resources in etcd: users, access tokens and API keys (so any backend of the cluster
 * can check what another issued), namespaces, agent entities and keepalive events.
 *
 * Keys: /sensu.io/users/<name>, /sensu.io/tokens/<sha256>, /sensu.io/apikeys/<uuid>,
 * /sensu.io/namespaces/<ns>, /sensu.io/entities/<ns>/<name>, /sensu.io/events/<ns>/<entity>/<check>.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EtcdClient } from './etcd-client.js';
import { goTimeString } from './go-time.js';
import { hashPassword, verifyPassword } from './password-hash.js';

const ROOT = '/sensu.io';
/** Access tokens live as long as Sensu's (5 minutes); refresh tokens 12 hours. */
const ACCESS_TTL_S = 300;
const REFRESH_TTL_S = 12 * 3600;

/** A user as stored: never the password, only its hash. */
export interface StoredUser {
  username: string;
  password_hash: string;
  groups: string[];
  disabled: boolean;
}

/** What `/auth` returns. */
export interface Tokens {
  access_token: string;
  expires_at: number;
  refresh_token: string;
}

interface StoredToken {
  username: string;
  kind: 'access' | 'refresh';
  expires_at: number;
}

/** The entity an agent describes in its keepalives (corev2.Entity, JSON field names). */
export interface EntityDoc {
  entity_class: string;
  system: Record<string, unknown>;
  subscriptions: string[];
  last_seen: number;
  deregister: boolean;
  deregistration: Record<string, unknown>;
  user: string;
  redact: string[];
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  sensu_agent_version: string;
  [more: string]: unknown;
}

/** A keepalive event (corev2.Event with its keepalive check). */
export interface EventDoc {
  timestamp: number;
  entity: EntityDoc;
  check: Record<string, unknown> & {
    status: number;
    output: string;
    executed: number;
    interval: number;
    timeout: number;
    occurrences: number;
    history: { status: number; executed: number }[];
  };
  metadata: { namespace: string };
  id: string;
  sequence: number;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const nowS = (): number => Math.floor(Date.now() / 1000);

function parse<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Sensu's resources on top of an etcd client. */
export class SensuStore {
  constructor(private readonly etcd: EtcdClient) {}

  /** Creates a namespace unless it exists. */
  async ensureNamespace(name: string): Promise<void> {
    await this.etcd.putIfAbsent(`${ROOT}/namespaces/${name}`, JSON.stringify({ name }));
  }

  /** True when the namespace exists. */
  async namespaceExists(name: string): Promise<boolean> {
    return (await this.etcd.get(`${ROOT}/namespaces/${name}`)) !== undefined;
  }

  /** Namespace names. */
  async listNamespaces(): Promise<string[]> {
    return (await this.etcd.getPrefix(`${ROOT}/namespaces/`)).map((kv) => kv.key.slice(`${ROOT}/namespaces/`.length));
  }

  /**
   * Creates a user unless one with that name exists. Safe when several backends seed at once:
   * the write is a create-if-absent transaction.
   */
  async ensureUser(username: string, password: string, groups: string[]): Promise<boolean> {
    const key = `${ROOT}/users/${username}`;
    if (await this.etcd.get(key)) return false;
    const user: StoredUser = { username, password_hash: await hashPassword(password), groups, disabled: false };
    return this.etcd.putIfAbsent(key, JSON.stringify(user));
  }

  /** The user when name and password match an enabled user. */
  async authenticate(username: string, password: string): Promise<StoredUser | undefined> {
    const user = parse<StoredUser>((await this.etcd.get(`${ROOT}/users/${username}`))?.value);
    if (!user || user.disabled) return undefined;
    return (await verifyPassword(password, user.password_hash)) ? user : undefined;
  }

  /** Stores an API key for a user unless it exists. */
  async ensureApiKey(key: string, username: string): Promise<void> {
    const doc = { metadata: { name: key, created_by: username }, username, created_at: nowS() };
    await this.etcd.putIfAbsent(`${ROOT}/apikeys/${key}`, JSON.stringify(doc));
  }

  /** The user an API key belongs to, if the key and its user exist. */
  async apiKeyUser(key: string): Promise<string | undefined> {
    const doc = parse<{ username?: string }>((await this.etcd.get(`${ROOT}/apikeys/${key}`))?.value);
    if (!doc?.username) return undefined;
    const user = parse<StoredUser>((await this.etcd.get(`${ROOT}/users/${doc.username}`))?.value);
    return user && !user.disabled ? user.username : undefined;
  }

  /** Issues an access and a refresh token; only their hashes are stored. */
  async issueTokens(username: string): Promise<Tokens> {
    const access = randomBytes(32).toString('base64url');
    const refresh = randomBytes(32).toString('base64url');
    const expiresAt = nowS() + ACCESS_TTL_S;
    const a: StoredToken = { username, kind: 'access', expires_at: expiresAt };
    const r: StoredToken = { username, kind: 'refresh', expires_at: nowS() + REFRESH_TTL_S };
    await this.etcd.put(`${ROOT}/tokens/${sha(access)}`, JSON.stringify(a));
    await this.etcd.put(`${ROOT}/tokens/${sha(refresh)}`, JSON.stringify(r));
    return { access_token: access, expires_at: expiresAt, refresh_token: refresh };
  }

  /** The user a valid, unexpired token of that kind belongs to. */
  async tokenUser(token: string, kind: 'access' | 'refresh' = 'access'): Promise<string | undefined> {
    const doc = parse<StoredToken>((await this.etcd.get(`${ROOT}/tokens/${sha(token)}`))?.value);
    if (!doc || doc.kind !== kind || doc.expires_at < nowS()) return undefined;
    return doc.username;
  }

  /** Forgets a token (logout, refresh). */
  async revokeToken(token: string): Promise<void> {
    await this.etcd.delete(`${ROOT}/tokens/${sha(token)}`);
  }

  /**
   * Records an agent keepalive: the entity with a fresh `last_seen`, and the keepalive event
   * (status 0, output `Keepalive last sent from <name> at <time>`), as keepalived does.
   */
  async recordKeepalive(entity: EntityDoc, check: { interval: number; timeout: number }, backendName: string): Promise<void> {
    const now = nowS();
    const ns = entity.metadata.namespace;
    const name = entity.metadata.name;
    const stored: EntityDoc = { ...entity, last_seen: now };
    await this.etcd.put(`${ROOT}/entities/${ns}/${name}`, JSON.stringify(stored));
    const eventKey = `${ROOT}/events/${ns}/${name}/keepalive`;
    const previous = parse<EventDoc>((await this.etcd.get(eventKey))?.value);
    const history = [...(previous?.check.history ?? []), { status: 0, executed: now }].slice(-21);
    const occurrences = previous && previous.check.status === 0 ? previous.check.occurrences + 1 : 1;
    const event: EventDoc = {
      timestamp: now,
      entity: stored,
      check: {
        command: '',
        handlers: ['keepalive'],
        high_flap_threshold: 0,
        interval: check.interval,
        low_flap_threshold: 0,
        publish: false,
        runtime_assets: null,
        subscriptions: [],
        proxy_entity_name: '',
        check_hooks: null,
        stdin: false,
        subdue: null,
        ttl: 0,
        timeout: check.timeout,
        round_robin: false,
        executed: now,
        history,
        issued: now,
        output: `Keepalive last sent from ${name} at ${goTimeString(new Date(now * 1000))}`,
        state: 'passing',
        status: 0,
        total_state_change: 0,
        last_ok: now,
        occurrences,
        occurrences_watermark: Math.max(occurrences, Number(previous?.check.occurrences_watermark ?? 0)),
        output_metric_format: '',
        output_metric_handlers: null,
        env_vars: null,
        metadata: { name: 'keepalive', namespace: ns },
        secrets: null,
        is_silenced: false,
        scheduler: 'memory',
        processed_by: backendName,
      },
      metadata: { namespace: ns },
      id: randomUUID(),
      sequence: (previous?.sequence ?? 0) + 1,
    };
    await this.etcd.put(eventKey, JSON.stringify(event));
  }

  /** One entity. */
  async getEntity(ns: string, name: string): Promise<EntityDoc | undefined> {
    return parse<EntityDoc>((await this.etcd.get(`${ROOT}/entities/${ns}/${name}`))?.value);
  }

  /** Every entity of a namespace. */
  async listEntities(ns: string): Promise<EntityDoc[]> {
    return (await this.etcd.getPrefix(`${ROOT}/entities/${ns}/`)).flatMap((kv) => parse<EntityDoc>(kv.value) ?? []);
  }

  /** One event, with a keepalive that stopped arriving shown as keepalived would (status 1). */
  async getEvent(ns: string, entity: string, check: string): Promise<EventDoc | undefined> {
    const event = parse<EventDoc>((await this.etcd.get(`${ROOT}/events/${ns}/${entity}/${check}`))?.value);
    return event ? withKeepaliveTimeout(event) : undefined;
  }

  /** Every event of a namespace. */
  async listEvents(ns: string): Promise<EventDoc[]> {
    return (await this.etcd.getPrefix(`${ROOT}/events/${ns}/`)).flatMap((kv) => {
      const e = parse<EventDoc>(kv.value);
      return e ? [withKeepaliveTimeout(e)] : [];
    });
  }
}

/** keepalived turns a keepalive older than its timeout into a warning; the stand-in does it on read. */
function withKeepaliveTimeout(event: EventDoc): EventDoc {
  if (event.check.metadata === undefined || (event.check.metadata as { name?: string }).name !== 'keepalive') return event;
  const since = nowS() - event.entity.last_seen;
  if (since < event.check.timeout) return event;
  return {
    ...event,
    check: {
      ...event.check,
      status: 1,
      state: 'failing',
      output: `No keepalive sent from ${event.entity.metadata.name} for ${since} seconds (>= ${event.check.timeout})`,
    },
  };
}
