/**
 * The SSH transport: the only file that imports ssh2. One connection per host for the whole run,
 * host keys verified against known_hosts (never silently accepted), sudo through the become
 * protocol, timeouts on connect and on every command, and ssh2's errors turned into one plain line
 * that names the host and what to do.
 */
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { readFile, appendFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { AuthenticationType, AuthHandlerMiddleware, ClientChannel, ConnectConfig, PublicKeyAuthMethod } from 'ssh2';
import { ConnectError, HostChangedError, RemoteCommandError } from '../errors.js';
import { printable } from '../terminal-text.js';
import {
  fingerprint,
  hostKeyName,
  knownHostsEntry,
  knownKeyTypes,
  parseKnownHosts,
  shouldHash,
  verifyHostKey,
  type HostKeyVerdict,
  type KnownHostLine,
} from './known-hosts.js';
import { quote } from './shell.js';
import { NotStartedError, RootSession, SESSION_DRIVER } from './root-session.js';
import { becomeCommand } from './sudo.js';
import { Becoming, BecomeRefusedError } from './becoming.js';
import { connectErrorOf, overflowError, timeoutError, unusableError } from './ssh-errors.js';
import type { RemoteStat, RunOptions, RunResult, Transport, TransportStats, WriteOutcome } from './transport.js';
import { EXIT_CHANGED, itemsDone, writeScript, type WriteItem } from './write-script.js';

const { Client, utils } = ssh2;

/** Something that holds a secret without printing it (see src/secret.ts). */
export interface SecretValue {
  reveal(): string;
}

/** One hop of a ProxyJump chain. */
export interface JumpHost {
  host: string;
  port?: number;
  user?: string;
}

/** Everything needed to open one host's connection; resolved from inventory and ~/.ssh/config. */
export interface SshTarget {
  /** Inventory name (used in messages). */
  name: string;
  address: string;
  port: number;
  user: string;
  privateKeyFile?: string;
  becomePassword?: SecretValue;
  proxyJump?: JumpHost[];
  /**
   * known_hosts files for this host, from ssh config or `-o UserKnownHostsFile=` in the inventory:
   * `user` replaces the run's default files (new keys go to its first), `global` is read too.
   * Ignored when the files were given on the command line (`SshSettings.knownHostsExplicit`).
   */
  knownHosts?: { user?: string[]; global?: string[] };
  /** ssh's HashKnownHosts for this host; unset: hash when the file's entries are all hashed. */
  hashKnownHosts?: boolean;
}

/** Run-wide SSH settings. */
export interface SshSettings {
  /** known_hosts files to read (missing ones are skipped). */
  knownHostsFiles: string[];
  /** The files were named on the command line: they win over ssh config and inventory. */
  knownHostsExplicit?: boolean;
  /** Add unknown host keys to the first known_hosts file instead of failing (opt-in). */
  trustNewHostKeys?: boolean;
  /** ssh-agent socket ($SSH_AUTH_SOCK). */
  agentSocket?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** How long to keep trying to reopen a connection that dropped (default 30 s). */
  reconnectMs?: number;
  /** Most bytes of stdout and stderr together one command may send back (default 64 MiB). */
  maxOutputBytes?: number;
  /**
   * When sudo commands go through one root shell held per host (root-session.ts) instead of a
   * sudo each: `auto` (the default) from a host's second sudo command on, so a dry run or a check
   * (one root command per host) starts no shell it would not use, and a real run costs two sudo
   * invocations per host whatever its length; `always` from the first; `never`.
   */
  rootSession?: 'auto' | 'always' | 'never';
  /** Asked once per encrypted key file; the answer is kept for the run, never printed. */
  askPassphrase?: (keyFile: string) => Promise<string>;
}

const DEFAULT_CONNECT_TIMEOUT = 10_000;
const DEFAULT_COMMAND_TIMEOUT = 60_000;
const DEFAULT_RECONNECT = 30_000;
/** Far above any config, certificate or facts output; a host cannot fill the controller's memory. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * Known hosts are read once per run. A key trusted with --trust-new-host-keys joins the loaded set
 * at once (pinned: a reconnect that meets another key is refused as a changed key) and is appended
 * to the first user file, hashed when that file is.
 */
class KnownHosts {
  private lines: Promise<KnownHostLine[]> | undefined;
  private firstFile: KnownHostLine[] = [];
  constructor(
    private readonly files: string[],
    /** Where new keys are written (ssh writes to the first UserKnownHostsFile only). */
    private readonly writeTo: string | undefined,
  ) {}
  load(): Promise<KnownHostLine[]> {
    this.lines ??= Promise.all(
      this.files.map(async (f) => {
        try {
          return parseKnownHosts(await readFile(f, 'utf8'), f);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
          throw new ConnectError(`cannot read known_hosts file ${f}: ${(err as Error).message}`);
        }
      }),
    ).then((all) => {
      this.firstFile = this.writeTo === undefined ? [] : (all[this.files.indexOf(this.writeTo)] ?? []);
      // One array for the run: trust() adds to it, and every later check sees the addition.
      return all.flat();
    });
    return this.lines;
  }
  /** Pins a newly trusted key in memory (synchronously, before any other check) and appends it. */
  async trust(lines: KnownHostLine[], name: string, keyType: string, keyBase64: string, hashKnownHosts: boolean | undefined): Promise<void> {
    const where = `${this.writeTo ?? 'memory'} (trusted earlier in this run)`;
    const pinned: KnownHostLine = { marker: '', patterns: [name], keyType, key: keyBase64, where };
    lines.push(pinned);
    const file = this.writeTo;
    if (!file) return;
    const entry = knownHostsEntry(name, keyType, keyBase64, shouldHash(this.firstFile, hashKnownHosts));
    this.firstFile.push(parseKnownHosts(entry, file)[0] ?? pinned);
    await appendFile(file, `${entry}\n`, { mode: 0o600 });
  }
}

const knownHostsCache = new Map<string, KnownHosts>();
/** The known_hosts of one target: its own files when ssh config or the inventory names them. */
function knownHostsFor(target: SshTarget, settings: SshSettings): KnownHosts {
  const own = settings.knownHostsExplicit ? undefined : target.knownHosts;
  const user = own?.user ?? settings.knownHostsFiles;
  const files = [...user, ...(own?.global ?? [])];
  const key = `${user.join('\0')}\n${files.join('\0')}`;
  let kh = knownHostsCache.get(key);
  if (!kh) {
    kh = new KnownHosts(files, user[0]);
    knownHostsCache.set(key, kh);
  }
  return kh;
}

const passphrases = new Map<string, Promise<string>>();

function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

type ParsedKey = ssh2.ParsedKey;

/**
 * A private key ready to sign with. ssh2 parses the key file again for every connection and signs
 * from its PEM text, parsing that again for every signature (a millisecond of the controller's CPU
 * each, times every host): an Ed25519 key is parsed once a run and signs from a KeyObject.
 */
function signingKey(text: Buffer, passphrase: string | undefined): ParsedKey | Error {
  const parsed = utils.parseKey(text, passphrase);
  if (parsed instanceof Error) return parsed;
  // ssh2 answers an array for a file of several keys (its types say one); it uses the first.
  const key: ParsedKey | undefined = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  if (!key) return new Error('no key in the file');
  const pem = key.getPrivatePEM();
  if (key.type === 'ssh-ed25519' && pem) {
    const keyObject = createPrivateKey(pem);
    // ssh2 signs Ed25519 with no hash and takes an Error as the answer on failure, as its own sign does.
    // (Its types say a Buffer; its code checks for an Error.)
    key.sign = ((data: string | Buffer, algo?: string): Buffer | Error => {
      try {
        return cryptoSign(algo ?? null, typeof data === 'string' ? Buffer.from(data) : data, keyObject);
      } catch (err) {
        return err as Error;
      }
    }) as ParsedKey['sign'];
  }
  return key;
}

/** Key files read and parsed once a run (by file; encrypted ones by file and passphrase). */
const keyFiles = new Map<string, Promise<Buffer | NodeJS.ErrnoException>>();
const signingKeys = new Map<string, ParsedKey | Error>();

function keyOf(file: string, text: Buffer, passphrase: string | undefined): ParsedKey | Error {
  const id = `${file}\0${passphrase ?? ''}`;
  let key = signingKeys.get(id);
  if (!key) {
    key = signingKey(text, passphrase);
    // A wrong passphrase may be followed by the right one: only keys that parsed are kept.
    if (!(key instanceof Error)) signingKeys.set(id, key);
  }
  return key;
}

async function loadPrivateKey(file: string, settings: SshSettings, target: SshTarget): Promise<{ key: ParsedKey }> {
  let pending = keyFiles.get(file);
  if (!pending) {
    pending = readFile(file).catch((err: NodeJS.ErrnoException) => err);
    keyFiles.set(file, pending);
  }
  const key = await pending;
  if (!Buffer.isBuffer(key)) {
    keyFiles.delete(file);
    throw new ConnectError(`${target.name}: cannot read SSH key ${file}: ${key.code ?? key.message}`, {
      place: { host: target.name, file },
      hint: 'check ansible_ssh_private_key_file (relative paths are relative to the inventory file)',
    });
  }
  const parsed = keyOf(file, key, undefined);
  if (!(parsed instanceof Error)) return { key: parsed };
  if (!/passphrase|encrypted/i.test(parsed.message)) {
    throw new ConnectError(`${target.name}: ${file} is not a private key ssh2 can read (${parsed.message})`, { place: { host: target.name, file } });
  }
  if (!settings.askPassphrase) {
    throw new ConnectError(`${target.name}: SSH key ${file} is encrypted and no passphrase can be asked for`, {
      place: { host: target.name, file },
      hint: 'run on a terminal to be asked for it, or load the key into ssh-agent (ssh-add) and set SSH_AUTH_SOCK',
    });
  }
  let asked = passphrases.get(file);
  if (!asked) {
    asked = settings.askPassphrase(file);
    passphrases.set(file, asked);
  }
  const passphrase = await asked;
  const check = keyOf(file, key, passphrase);
  if (check instanceof Error) {
    passphrases.delete(file);
    throw new ConnectError(`${target.name}: wrong passphrase for SSH key ${file}`, { place: { host: target.name, file } });
  }
  return { key: check };
}

/**
 * ssh2's simple auth handler over these methods, after `none`: it answers each call with the next
 * method (a name, for what ssh2 takes from the connect config), then false: every one failed.
 */
function authOrder(methods: readonly (AuthenticationType | PublicKeyAuthMethod)[]): AuthHandlerMiddleware {
  const all = ['none' as const, ...methods];
  let next = 0;
  // ssh2 takes the returned method as the answer (a middleware may also call back instead).
  return () => all[next++] ?? false;
}

type Client = InstanceType<typeof Client>;

/** Opens one SSH client to a target, through `sock` when tunnelled; `keyNames` are the names its key is looked up by. */
async function openClient(target: SshTarget, settings: SshSettings, sock?: Duplex, keyNames?: string[]): Promise<Client> {
  const timeoutMs = settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
  const where = `${target.address}:${target.port}`;
  const knownHosts = knownHostsFor(target, settings);
  const lines = await knownHosts.load();
  const names = keyNames ?? [hostKeyName(target.address, target.port), ...(target.name !== target.address ? [hostKeyName(target.name, target.port)] : [])];
  const preferred = knownKeyTypes(lines, names);
  const auth = target.privateKeyFile ? await loadPrivateKey(target.privateKeyFile, settings, target) : undefined;
  let verdict: HostKeyVerdict | undefined;
  let fp: string | undefined;
  const client = new Client();
  const config: ConnectConfig = {
    host: target.address,
    port: target.port,
    username: target.user,
    readyTimeout: timeoutMs,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    ...(sock ? { sock } : {}),
    ...(settings.agentSocket ? { agent: settings.agentSocket } : {}),
    // ssh2's own order (none, the key, the agent), with the key already parsed (signingKey).
    ...(auth
      ? { authHandler: authOrder([{ type: 'publickey', username: target.user, key: auth.key }, ...(settings.agentSocket ? ['agent' as const] : [])]) }
      : {}),
    hostVerifier: (blob: Buffer, accept: (ok: boolean) => void) => {
      const type = keyTypeOf(blob);
      const b64 = blob.toString('base64');
      fp = fingerprint(blob);
      verdict = verifyHostKey(lines, names, type, b64);
      if (verdict.status === 'match') return accept(true);
      // A host known only through a CA is not "new": trusting its key would bypass the CA.
      if (verdict.status === 'unknown' && !verdict.certAuthority && settings.trustNewHostKeys) {
        verdict = { status: 'match' };
        knownHosts.trust(lines, names[0] ?? hostKeyName(target.address, target.port), type, b64, target.hashKnownHosts).then(
          () => accept(true),
          () => accept(false),
        );
        return;
      }
      accept(false);
    },
  };
  if (preferred.length > 0) {
    // Offer the key types we can check first, as OpenSSH does, so a host with several keys
    // presents the one known_hosts has.
    const all = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    const expand = (t: string): string[] => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]);
    const first = preferred.flatMap(expand);
    config.algorithms = { serverHostKey: [...first, ...all.filter((t) => !first.includes(t))] as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };
  }
  return new Promise<Client>((resolve, reject) => {
    const onError = (err: Error & { level?: string; code?: string }): void => {
      client.removeListener('ready', onReady);
      // ssh2 may report the same dead socket twice; the first error is the one that counts.
      client.on('error', () => undefined);
      client.end();
      reject(connectErrorOf(err, target, where, timeoutMs, verdict, fp));
    };
    const onReady = (): void => {
      client.removeListener('error', onError);
      resolve(client);
    };
    client.once('ready', onReady);
    client.once('error', onError);
    client.connect(config);
    declineHostKeyProofs(client);
  });
}

/** ssh2's protocol object, as far as declineHostKeyProofs needs it (not part of ssh2's typed API). */
interface ProtocolInternals {
  _handlers?: Record<string, ((...args: unknown[]) => void) | undefined>;
  requestSuccess?: () => void;
}

/**
 * After login, OpenSSH's sshd announces every host key it has (`hostkeys-00@openssh.com`), and
 * ssh2 answers each announcement by asking the host to prove them all: a signature per key on the
 * host (RSA's the costly one), a verification each here, one more request per connection. The
 * proof is for a client that adds the new keys to known_hosts (OpenSSH's UpdateHostKeys, off
 * whenever a known_hosts file is named); rollout never learns keys that way, so the announcement is
 * acknowledged and nothing is asked. Every other global request goes to ssh2 as before. ssh2
 * builds its protocol handlers inside connect(): when a later ssh2 moves them, nothing is changed
 * and the proof is simply asked as before (test/transport.test.ts would see it in sshd's log).
 */
function declineHostKeyProofs(client: Client): void {
  const proto = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  const handlers = proto?._handlers;
  const ssh2Handler = handlers?.GLOBAL_REQUEST;
  if (!proto || !handlers || typeof ssh2Handler !== 'function' || typeof proto.requestSuccess !== 'function') return;
  handlers.GLOBAL_REQUEST = (...args: unknown[]): void => {
    const [, name, wantReply] = args;
    if (name !== 'hostkeys-00@openssh.com') return ssh2Handler(...args);
    if (wantReply === true) proto.requestSuccess?.();
  };
}

/**
 * Collects an exec channel's output, driving the become protocol when `become` is set. Output past
 * `maxBytes` (stdout and stderr together, sudo's own included) ends the command and fails it.
 */
function execChannel(
  client: Client,
  target: SshTarget,
  line: string,
  options: RunOptions,
  maxBytes: number,
  become?: { prompt: string; marker: string },
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT;
  return new Promise<RunResult>((resolve, reject) => {
    client.exec(line, (err, stream: ClientChannel) => {
      if (err) {
        reject(unusableError(target, err));
        return;
      }
      const out: Buffer[] = [];
      const errChunks: Buffer[] = [];
      const becoming = become ? new Becoming(become, target) : undefined;
      let started = !becoming;
      let received = 0;
      let overflowed = false;
      const sendStdin = (): void => {
        if (options.stdin !== undefined) stream.end(options.stdin);
        else stream.end();
      };
      const timer = setTimeout(() => {
        stream.close();
        reject(timeoutError(target, timeoutMs));
      }, timeoutMs);
      /** Counts a chunk; false (and the command ended, the run failed) once the limit is passed. */
      const within = (chunk: Buffer): boolean => {
        if (overflowed) return false;
        received += chunk.length;
        if (received <= maxBytes) return true;
        overflowed = true;
        clearTimeout(timer);
        out.length = 0;
        errChunks.length = 0;
        // Closing the channel closes the command's pipes: it dies of SIGPIPE on its next write.
        // (A "signal" request would be firmer, but sshd refuses it from its unprivileged
        // session process, and what bounds the controller's memory is that nothing more is kept.)
        stream.close();
        reject(overflowError(target, maxBytes));
        return false;
      };
      stream.on('data', (chunk: Buffer) => {
        if (!within(chunk)) return;
        if (started || !becoming) {
          out.push(chunk);
          return;
        }
        const rest = becoming.stdout(chunk);
        if (rest !== undefined) {
          started = true;
          out.push(rest);
          sendStdin();
        }
      });
      stream.stderr.on('data', (chunk: Buffer) => {
        if (!within(chunk)) return;
        if (started || !becoming) {
          errChunks.push(chunk);
          return;
        }
        if (!becoming.stderr(chunk, stream)) stream.close();
      });
      stream.on('close', (code: number | null) => {
        clearTimeout(timer);
        if (overflowed) return;
        if (!started && becoming) {
          reject(becoming.error());
          return;
        }
        resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(errChunks) });
      });
      if (!becoming) sendStdin();
    });
  });
}

/**
 * Starts the root session's shell over `client` through the become protocol (the password sent
 * once, as for any sudo command); resolves once it runs as root.
 */
function openRootSession(client: Client, target: SshTarget, maxBytes: number, timeoutMs: number): Promise<RootSession> {
  const become = becomeCommand(SESSION_DRIVER);
  const errors = { overflow: () => overflowError(target, maxBytes), timeout: (ms: number) => timeoutError(target, ms) };
  return new Promise<RootSession>((resolve, reject) => {
    client.exec(become.line, (err, stream: ClientChannel) => {
      if (err) {
        reject(unusableError(target, err));
        return;
      }
      const becoming = new Becoming(become, target);
      let received = 0;
      let settled = false;
      /** Ends the opening: the listeners go, so the session (or nothing) reads the channel from here. */
      const finish = (then: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stream.removeListener('data', onStdout);
        stream.stderr.removeListener('data', onStderr);
        stream.removeListener('close', onClose);
        then();
      };
      const timer = setTimeout(() => finish(() => (stream.close(), reject(errors.timeout(timeoutMs)))), timeoutMs);
      const within = (chunk: Buffer): boolean => {
        received += chunk.length;
        if (received <= maxBytes) return true;
        finish(() => (stream.close(), reject(errors.overflow())));
        return false;
      };
      const onStdout = (chunk: Buffer): void => {
        // The driver prints nothing before it has read its key: nothing follows the marker yet.
        if (within(chunk) && becoming.stdout(chunk) !== undefined) finish(() => resolve(new RootSession(stream, maxBytes, errors)));
      };
      const onStderr = (chunk: Buffer): void => {
        if (within(chunk) && !becoming.stderr(chunk, stream)) stream.close();
      };
      const onClose = (): void => finish(() => reject(becoming.error()));
      stream.on('data', onStdout);
      stream.stderr.on('data', onStderr);
      stream.on('close', onClose);
    });
  });
}

/** The TCP socket under a client (ssh2 keeps it as `_sock`), for its byte counters. */
function socketOf(client: Client): { bytesWritten?: number; bytesRead?: number } | undefined {
  return (client as unknown as { _sock?: { bytesWritten?: number; bytesRead?: number } })._sock;
}

/** A host's client and the jump hosts it is tunnelled through. */
interface Chain {
  client: Client;
  jumps: Client[];
}

class SshTransport implements Transport {
  private closed = false;
  private commands = 0;
  /** False once the connection dropped: the next command reconnects first. */
  private alive = true;
  /** A reconnect in progress, shared by every command waiting for it. */
  private reopening: Promise<Chain> | undefined;
  /** Set when a reconnect gave up: later commands try once more, not for a whole window each. */
  private gaveUp = false;
  /** sudo commands asked for so far (the first runs on its own under `auto`). */
  private sudoCommands = 0;
  /** The root shell, on the client it was opened over (a reconnect needs a new one). */
  private root: { client: Client; session: Promise<RootSession> } | undefined;
  /** sudo refused (no password, a wrong one, no rights): asking again would only repeat it, a wrong password against the account's lockout. */
  private refused: RemoteCommandError | undefined;
  constructor(
    readonly host: string,
    private chain: Chain,
    private readonly target: SshTarget,
    private readonly settings: SshSettings,
  ) {
    this.watch(chain.client);
  }

  private watch(client: Client): void {
    // ssh2 emits these before it closes the channels, so a command cut off can tell why.
    const dropped = (): void => {
      if (this.chain.client === client) this.alive = false;
    };
    client.on('end', dropped);
    client.on('close', dropped);
  }

  /** The live client, reconnecting (host key verified again) when the connection dropped. */
  private async client(): Promise<Client> {
    if (this.closed) throw new ConnectError(`${this.host}: connection already closed`, { place: { host: this.host } });
    if (this.alive) return this.chain.client;
    this.reopening ??= this.reopen().finally(() => (this.reopening = undefined));
    return (await this.reopening).client;
  }

  private async reopen(): Promise<Chain> {
    const windowMs = this.gaveUp ? 0 : (this.settings.reconnectMs ?? DEFAULT_RECONNECT);
    const end = Date.now() + windowMs;
    for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
      try {
        const chain = await openChain(this.target, this.settings);
        for (const c of [this.chain.client, ...this.chain.jumps]) c.end();
        this.chain = chain;
        this.watch(chain.client);
        this.alive = true;
        this.gaveUp = false;
        return chain;
      } catch (err) {
        // A host key that changed on the way is never retried around.
        if (/HOST KEY|REVOKED|not in known_hosts/.test((err as Error).message) || Date.now() + delay > end) {
          this.gaveUp = true;
          const why = (err as Error).message.replace(`${this.host} `, '').replace(/^\([^)]*\): /, '');
          throw new ConnectError(
            `${this.host}: the SSH connection was lost and could not be reopened${windowMs > 0 ? ` within ${Math.round(windowMs / 1000)} s` : ''} (${why})`,
            {
              place: { host: this.host },
              hint: 'once the host is reachable again, `rollout rollback` undoes what this run left on it',
            },
          );
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** The error for a command whose connection dropped under it: its outcome on the host is unknown. */
  private lost(): ConnectError {
    return new ConnectError(`${this.host}: the SSH connection dropped while a command was running`, {
      place: { host: this.host },
      hint: 'the host may have rebooted or its sshd restarted',
    });
  }

  async run(commandLine: string, options: RunOptions = {}): Promise<RunResult> {
    if (options.sudo) {
      if (this.refused) throw this.refused;
      this.sudoCommands += 1;
      const mode = this.settings.rootSession ?? 'auto';
      if (mode === 'always' || (mode === 'auto' && this.sudoCommands > 1)) return this.runAsRoot(commandLine, options);
    }
    const client = await this.client();
    this.commands += 1;
    const opts = { timeoutMs: this.settings.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT, ...options };
    const become = options.sudo ? becomeCommand(commandLine) : undefined;
    let r: RunResult;
    try {
      r = await execChannel(client, this.target, become ? become.line : commandLine, opts, this.settings.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, become);
    } catch (err) {
      if (this.chain.client === client && !this.alive) throw this.lost();
      if (err instanceof BecomeRefusedError) this.refused = err;
      throw err;
    }
    // A channel cut off by a dropped connection ends without an exit status.
    if (typeof r.code !== 'number' && this.chain.client === client && !this.alive) throw this.lost();
    return r;
  }

  /**
   * Runs a command in the host's root shell, opening one when there is none or it ended (the
   * connection reopened, the shell was killed, a command timed out or flooded). A command the
   * shell never started (it ended first, the connection still up) is tried once more on a new
   * shell; one it started is not, as its outcome on the host is unknown.
   */
  private async runAsRoot(commandLine: string, options: RunOptions): Promise<RunResult> {
    const timeoutMs = options.timeoutMs ?? this.settings.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT;
    this.commands += 1;
    for (let attempt = 0; ; attempt += 1) {
      const client = await this.client();
      try {
        const session = await this.rootShell(client, timeoutMs);
        const r = await session.run(commandLine, options.stdin, timeoutMs);
        if (typeof r.code !== 'number' && this.chain.client === client && !this.alive) throw this.lost();
        return r;
      } catch (err) {
        const connected = this.chain.client === client && this.alive;
        // With the connection up, the shell's `run` line would have come before its end: the
        // command never ran. A dropped connection may have lost that line: then it is unknown.
        if (err instanceof NotStartedError) {
          if (attempt === 0 && connected) continue;
          throw connected
            ? new RemoteCommandError(`${this.host}: the root shell ended before the command could start, twice`, {
                place: { host: this.host },
                hint: "see the host's logs (sudo, sshd) for why the shell ended",
              })
            : this.lost();
        }
        if (this.chain.client === client && !this.alive) throw this.lost();
        throw err;
      }
    }
  }

  /** The root shell over `client`, opened (one sudo, the password sent once) when there is none alive. */
  private async rootShell(client: Client, timeoutMs: number): Promise<RootSession> {
    if (this.refused) throw this.refused;
    const current = this.root;
    if (current && current.client === client) {
      const session = await current.session.catch(() => undefined);
      if (session?.alive) return session;
      // Only the first command that finds it dead opens the next one; the others wait for that.
      if (this.root !== current) return this.rootShell(client, timeoutMs);
    }
    const opening = openRootSession(client, this.target, this.settings.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, timeoutMs);
    this.root = { client, session: opening };
    current?.session.then(
      (s) => s.close(),
      () => undefined,
    );
    try {
      return await opening;
    } catch (err) {
      if (err instanceof BecomeRefusedError) this.refused = err;
      throw err;
    }
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    const r = await this.run(`test -e ${quote(path)} || exit 66; exec cat -- ${quote(path)}`, { sudo: true });
    if (r.code === 66) return undefined;
    if (r.code !== 0) throw this.failure(`cannot read ${path}`, r, path);
    return r.stdout;
  }

  async stat(path: string): Promise<RemoteStat | undefined> {
    const r = await this.run(`test -e ${quote(path)} || exit 66; exec stat -c '%a %U %G %s %F' -- ${quote(path)}`, { sudo: true });
    if (r.code === 66) return undefined;
    if (r.code !== 0) throw this.failure(`cannot stat ${path}`, r, path);
    const [mode = '0', owner = '', group = '', size = '0', ...kind] = r.stdout.toString().trim().split(' ');
    return { mode: parseInt(mode, 8), owner, group, size: Number(size), isDirectory: kind.join(' ') === 'directory' };
  }

  async writeAll(items: readonly WriteItem[]): Promise<WriteOutcome> {
    if (items.length === 0) return { done: 0 };
    const { script, stdin } = writeScript(items);
    const r = await this.run(script, { sudo: true, stdin });
    const done = itemsDone(r.stdout.toString());
    if (r.code === 0 && done === items.length) return { done };
    const item = items[Math.min(done, items.length - 1)];
    const path = item?.path ?? '';
    // Killed (a timeout, a signal): what it made after its last report is unknown, so nothing may
    // be called not made.
    if (typeof r.code !== 'number') throw this.failure(item?.kind === 'dir' ? `cannot create ${path}` : `cannot write ${path}`, r, path);
    if (r.code === EXIT_CHANGED) {
      return {
        done,
        error: new HostChangedError(`${this.host}: ${printable(r.stderr.toString().trim()) || `${path} changed since the plan was made`}; not overwritten`, {
          place: { host: this.host, file: path },
          hint: 'see what changed there, then run again: the new plan starts from the file as it is now',
        }),
      };
    }
    return { done, error: this.failure(item?.kind === 'dir' ? `cannot create ${path}` : `cannot write ${path}`, r, path) };
  }

  async forward(address: string, port: number): Promise<Duplex> {
    const client = await this.client();
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, address, port, (err, stream) => {
        if (err)
          reject(
            new RemoteCommandError(`${this.host}: cannot reach ${address}:${port} from the host (${printable(err.message)})`, { place: { host: this.host } }),
          );
        else resolve(stream);
      });
    });
  }

  stats(): TransportStats {
    // Through jump hosts, the first hop's socket carries everything (the rest are SSH channels).
    const sock = socketOf(this.chain.jumps[0] ?? this.chain.client);
    return { commands: this.commands, bytesSent: sock?.bytesWritten ?? 0, bytesReceived: sock?.bytesRead ?? 0 };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    // The root shell ends when its stdin does; the connection's end would end it anyway.
    this.root?.session.then(
      (s) => s.close(),
      () => undefined,
    );
    if (!this.alive) {
      // A dead connection emits no close: waiting for one would leave nothing but an idle timer.
      for (const c of [this.chain.client, ...this.chain.jumps]) c.end();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.chain.client.once('close', () => resolve());
      this.chain.client.end();
      for (const j of this.chain.jumps) j.end();
      // ssh2 may not emit close for an already-dead socket.
      setTimeout(resolve, 1000).unref();
    });
  }

  private failure(what: string, r: RunResult, file: string): RemoteCommandError {
    // The host's stderr: shown escaped, so it cannot drive the terminal it is printed on.
    const detail = printable(r.stderr.toString().trim().split('\n').pop() ?? '');
    // `what` names a path, which may hold anything a file name can.
    return new RemoteCommandError(`${this.host}: ${printable(what)}: ${detail || `exit status ${String(r.code)}`}`, { place: { host: this.host, file } });
  }
}

/**
 * Opens a host's client through its ProxyJump chain, as ssh does: the first hop is dialled
 * directly, each later hop through a channel of the one before it, and only the last hop opens a
 * channel to the target. Every hop's host key is verified like the target's.
 */
async function openChain(target: SshTarget, settings: SshSettings): Promise<Chain> {
  const jumps: Client[] = [];
  let sock: Duplex | undefined;
  const hops = target.proxyJump ?? [];
  try {
    for (const [i, hop] of hops.entries()) {
      const hopTarget: SshTarget = {
        name: `${target.name} via jump host ${hop.host}`,
        address: hop.host,
        port: hop.port ?? 22,
        user: hop.user ?? target.user,
        ...(target.privateKeyFile ? { privateKeyFile: target.privateKeyFile } : {}),
        ...(target.knownHosts ? { knownHosts: target.knownHosts } : {}),
        ...(target.hashKnownHosts !== undefined ? { hashKnownHosts: target.hashKnownHosts } : {}),
      };
      const jump = await openClient(hopTarget, settings, sock, [hostKeyName(hop.host, hop.port ?? 22)]);
      jumps.push(jump);
      const next = hops[i + 1];
      const to = next ? { address: next.host, port: next.port ?? 22 } : { address: target.address, port: target.port };
      sock = await new Promise<Duplex>((resolve, reject) => {
        jump.forwardOut('127.0.0.1', 0, to.address, to.port, (err, stream) => {
          if (err)
            reject(
              new ConnectError(
                `${target.name}: jump host ${hop.host} cannot reach ${next ? `the next jump host ${to.address}:${to.port}` : `${to.address}:${to.port}`} (${printable(err.message)})`,
                { place: { host: target.name } },
              ),
            );
          else resolve(stream);
        });
      });
    }
    const client = await openClient(target, settings, sock);
    // A dropped connection later in the run surfaces as a command error, not an unhandled event.
    client.on('error', () => undefined);
    for (const j of jumps) j.on('error', () => undefined);
    return { client, jumps };
  } catch (err) {
    for (const j of jumps.reverse()) j.end();
    throw err;
  }
}

/** Connects to a host (through its ProxyJump chain); a dropped connection is reopened on next use. */
export async function connect(target: SshTarget, settings: SshSettings): Promise<Transport> {
  return new SshTransport(target.name, await openChain(target, settings), target, settings);
}
