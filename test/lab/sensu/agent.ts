/**
 * sensu-agent stand-in: `sensu-agent start [-c /etc/sensu/agent.yml]` and `sensu-agent version`.
 * Connects to a shuffled copy of `backend-url`, retries forever with sensu-go's backoff (logging
 * each failure as `reconnection attempt failed` with Go's error text), sends a keepalive right
 * after connecting and every `keepalive-interval`, and reports its state on `/healthz`.
 */
import { hostname, arch, platform } from 'node:os';
import { startAgentApi } from './agent-api.js';
import { loadAgentConfig, validateAgentConfig } from './agent-config.js';
import type { AgentConfig } from './agent-config.js';
import { dialBackend, DialError } from './agent-dial.js';
import type { Dialed } from './agent-dial.js';
import type { AgentMessage } from './agent-protocol.js';
import { Backoff } from './backoff.js';
import { parseCommandLine } from './config.js';
import type { CommandLine } from './config.js';
import { faultOn, hangForever } from './faults.js';
import { goHostPort } from './go-errors.js';
import { installCrashHandler, installSignalHandlers, isShuttingDown, onShutdown } from './lifecycle.js';
import { Logger, parseLevel, setLevel } from './log.js';
import type { EntityDoc } from './store.js';
import { SENSU_VERSION, versionLine } from './version.js';

const log = new Logger({ component: 'agent' });

function fail(err: unknown): Promise<never> {
  return log.fatal('error executing sensu-agent', { error: err instanceof Error ? err.message : String(err) });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function entityOf(cfg: AgentConfig): EntityDoc {
  const subscriptions = [...cfg.subscriptions];
  const own = `entity:${cfg.name}`;
  if (!subscriptions.includes(own)) subscriptions.push(own);
  return {
    entity_class: 'agent',
    system: {
      hostname: hostname(),
      os: platform(),
      platform: 'debian',
      platform_family: 'debian',
      arch: arch() === 'x64' ? 'amd64' : arch(),
      libc_type: 'glibc',
      processes: null,
    },
    subscriptions,
    last_seen: 0,
    deregister: false,
    deregistration: {},
    user: cfg.user,
    redact: cfg.redact,
    metadata: { name: cfg.name, namespace: cfg.namespace, labels: cfg.labels, annotations: cfg.annotations },
    sensu_agent_version: SENSU_VERSION,
  };
}

/** The agent's connection state machine. */
class AgentRunner {
  connected = false;
  private current: Dialed | undefined;
  private next = 0;
  private readonly urls: string[];

  constructor(private readonly cfg: AgentConfig) {
    // sensu-go's backend selector walks a shuffled copy of the configured URLs.
    this.urls = shuffled(cfg.backendUrls);
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = {
      'Sensu-AgentName': this.cfg.name,
      'Sensu-Namespace': this.cfg.namespace,
      'Sensu-User': this.cfg.user,
      'Sensu-Subscriptions': entityOf(this.cfg).subscriptions.join(','),
      Accept: 'application/json',
    };
    // With a client certificate the agent authenticates by mTLS and stops sending basic auth.
    if (!(this.cfg.certFile && this.cfg.keyFile)) {
      h.Authorization = `Basic ${Buffer.from(`${this.cfg.user}:${this.cfg.password}`).toString('base64')}`;
    }
    return h;
  }

  /** `connectWithBackoff`: attempts forever until one succeeds (or the agent stops). */
  private async connectWithBackoff(): Promise<Dialed | undefined> {
    const backoff = new Backoff({ initialMs: this.cfg.retryMinMs, maxMs: this.cfg.retryMaxMs, multiplier: this.cfg.retryMultiplier });
    for (let attempt = 0; !isShuttingDown(); attempt++) {
      if (attempt > 0) await sleep(backoff.next());
      if (isShuttingDown()) return undefined;
      const url = this.urls[this.next % this.urls.length] ?? '';
      this.next++;
      log.info(`connecting to backend URL "${url}"`);
      try {
        const dialed = await dialBackend({
          url,
          trustedCaFile: this.cfg.trustedCaFile,
          insecureSkipTlsVerify: this.cfg.insecureSkipTlsVerify,
          certFile: this.cfg.certFile,
          keyFile: this.cfg.keyFile,
          headers: this.headers(),
          handshakeTimeoutMs: (this.cfg.handshakeTimeoutS > 0 ? this.cfg.handshakeTimeoutS : 15) * 1000,
        });
        log.info('successfully connected', { 'backend-id': dialed.backendId, 'backend-url': url });
        return dialed;
      } catch (err) {
        const text = err instanceof DialError || err instanceof Error ? err.message : String(err);
        log.error('reconnection attempt failed', { error: text });
      }
    }
    return undefined;
  }

  private sendKeepalive(d: Dialed): void {
    const msg: AgentMessage = {
      type: 'keepalive',
      entity: entityOf(this.cfg),
      interval: this.cfg.keepaliveInterval,
      timeout: this.cfg.keepaliveWarningTimeout,
    };
    d.ws.send(JSON.stringify(msg), (err) => {
      if (err) log.error('error sending keepalive', { error: err.message });
    });
  }

  /** Holds one session until the connection ends. */
  private session(d: Dialed): Promise<void> {
    return new Promise((resolve) => {
      this.current = d;
      this.connected = true;
      this.sendKeepalive(d);
      const keepalive = setInterval(() => this.sendKeepalive(d), Math.max(1, this.cfg.keepaliveInterval) * 1000);
      // Heartbeats (backend-heartbeat-interval/-timeout): a silent backend is dropped, as gorilla's pings do.
      let lastPong = Date.now();
      d.ws.on('pong', () => {
        lastPong = Date.now();
      });
      const heartbeat = setInterval(
        () => {
          if (Date.now() - lastPong > this.cfg.heartbeatTimeoutS * 1000) {
            log.error('websocket connection error', { error: 'heartbeat timeout' });
            d.ws.terminate();
            return;
          }
          d.ws.ping();
        },
        Math.max(1, this.cfg.heartbeatIntervalS) * 1000,
      );
      d.ws.on('error', (err) => log.error('websocket connection error', { error: err.message }));
      d.ws.on('close', (code) => {
        clearInterval(keepalive);
        clearInterval(heartbeat);
        this.connected = false;
        this.current = undefined;
        if (!isShuttingDown()) log.warn('connection to backend closed', { code });
        resolve();
      });
    });
  }

  /** Runs until shutdown: connect, hold the session, reconnect with a fresh backoff. */
  async run(): Promise<void> {
    while (!isShuttingDown()) {
      const d = await this.connectWithBackoff();
      if (!d) return;
      await this.session(d);
    }
  }

  /** Closes the session (agent shutdown). */
  close(): void {
    this.current?.ws.close(1001, 'agent shutting down');
  }
}

async function start(cli: CommandLine): Promise<void> {
  let cfg: AgentConfig;
  try {
    cfg = loadAgentConfig(cli);
    setLevel(parseLevel(cfg.logLevel));
  } catch (err) {
    return fail(err);
  }
  if (faultOn('crash-on-start')) return fail('lab fault crash-on-start: simulated startup failure');
  if (faultOn('hang-on-start')) {
    hangForever();
    return;
  }
  const invalid = validateAgentConfig(cfg);
  if (invalid) return fail(invalid);

  const runner = new AgentRunner(cfg);
  onShutdown(() => runner.close());
  if (!cfg.disableApi) {
    log.info(`starting api on address: ${goHostPort(cfg.apiHost, cfg.apiPort)}`);
    try {
      const api = await startAgentApi(cfg.apiHost, cfg.apiPort, () => runner.connected);
      onShutdown(() => new Promise<void>((resolve) => api.close(() => resolve())));
    } catch (err) {
      // sensu-go: logger.WithError(err).Fatal("the agent API has crashed").
      return log.fatal('the agent API has crashed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
  log.info('configuration successfully validated', { 'backend-urls': cfg.backendUrls, name: cfg.name });
  await runner.run();
}

function main(argv: readonly string[]): void {
  installCrashHandler();
  installSignalHandlers((signal) => log.warn(`signal "${signal === 'SIGTERM' ? 'terminated' : 'interrupt'}" received, shutting down agent`));
  const cli = parseCommandLine(argv);
  if (cli.command === 'version') {
    process.stdout.write(`${versionLine('sensu-agent')}\n`);
    return;
  }
  // `start --help` prints help and starts nothing, as sensu-go's cobra commands do.
  if (cli.command === '' || cli.command === 'help' || cli.flags.has('help') || cli.flags.has('h')) {
    process.stdout.write(
      `Usage:\n  sensu-agent [command]\n\nAvailable Commands:\n  start       start the agent\n  version     Show the sensu-agent version information\n`,
    );
    return;
  }
  if (cli.command !== 'start') {
    process.stderr.write(`Error: unknown command "${cli.command}" for "sensu-agent"\nRun 'sensu-agent --help' for usage.\n`);
    process.exitCode = 1;
    return;
  }
  start(cli).catch((err: unknown) => fail(err));
}

main(process.argv.slice(2));
