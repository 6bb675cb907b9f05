/**
 * sensu-backend stand-in: `sensu-backend start [-c /etc/sensu/backend.yml]` and
 * `sensu-backend version`. Startup order: config → lab faults → TLS files → etcd → users → ports.
 * Every startup failure is one fatal JSON line (`msg: "error executing sensu-backend"`, the
 * reason in `error`, as sensu-go's main logs it) and exit status 1.
 */
import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { agentdHandler, agentSessions } from './agentd.js';
import { apiHandler } from './apid.js';
import { loadBackendConfig, parseListenAddress } from './backend-config.js';
import type { BackendConfig, ListenAddress } from './backend-config.js';
import type { BackendContext } from './backend-context.js';
import { loadBackendTls } from './backend-tls.js';
import type { BackendTls, ServerTls } from './backend-tls.js';
import { parseCommandLine } from './config.js';
import type { CommandLine } from './config.js';
import { dashboardHandler } from './dashboard.js';
import { EtcdClient } from './etcd-client.js';
import type { EtcdTls } from './etcd-client.js';
import { EtcdProcess } from './etcd-process.js';
import { ETCD_STARTUP_TIMEOUT_S, waitForEtcd } from './etcd-ready.js';
import { faultOn, hangForever } from './faults.js';
import { goFsError } from './go-errors.js';
import { installCrashHandler, installSignalHandlers, isShuttingDown, onExit, onShutdown } from './lifecycle.js';
import { Logger, parseLevel, setLevel } from './log.js';
import { SensuStore } from './store.js';
import { GoTextError, loadCaCerts } from './tls-files.js';
import { serve } from './tls-port.js';
import type { Listening, ServeOptions } from './tls-port.js';
import { versionLine } from './version.js';
import { selfSignedLike } from './wrong-cert.js';

const log = new Logger({ component: 'backend' });

/** The default agent credentials every Sensu install starts with. */
const DEFAULT_AGENT_USER = { username: 'agent', password: 'P@ssw0rd!' };

function fail(err: unknown): Promise<never> {
  return log.fatal('error executing sensu-backend', { error: err instanceof Error ? err.message : String(err) });
}

/** Client TLS for the backend's etcd client: etcd-trusted-ca-file, and etcd-cert-file as client cert. */
function etcdClientTls(cfg: BackendConfig): EtcdTls {
  const c = cfg.etcd.client;
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new GoTextError(goFsError(err, path));
    }
  };
  return {
    ca: c.trustedCaFile ? loadCaCerts(c.trustedCaFile) : undefined,
    cert: c.certFile ? read(c.certFile) : undefined,
    key: c.keyFile ? read(c.keyFile) : undefined,
  };
}

async function seed(store: SensuStore, cfg: BackendConfig): Promise<void> {
  await store.ensureNamespace('default');
  await store.ensureUser(DEFAULT_AGENT_USER.username, DEFAULT_AGENT_USER.password, ['system:agents']);
  const admin = cfg.clusterAdmin;
  if (admin.username && admin.password) {
    if (await store.ensureUser(admin.username, admin.password, ['cluster-admins'])) {
      log.info('created cluster admin user', { user: admin.username });
    }
    if (admin.apiKey) await store.ensureApiKey(admin.apiKey, admin.username);
  }
}

function describeTls(t: ServerTls | undefined): Record<string, unknown> {
  if (!t) return { tls: false };
  return { tls: true, subject: t.leaf.subject.replace(/\n/g, ', '), fingerprint256: t.leaf.fingerprint256 };
}

/** One listener to open: which daemon, where, with what TLS and handlers. */
interface PortSpec {
  component: 'apid' | 'agentd' | 'dashboard';
  address: string;
  tls: ServerTls | undefined;
  handler: RequestListener;
  onUpgrade?: ServeOptions['onUpgrade'];
  extra?: Record<string, unknown>;
}

async function listenAll(ctx: BackendContext, tls: BackendTls): Promise<void> {
  const cfg = ctx.cfg;
  const opened: Listening[] = [];
  onShutdown(async () => {
    await Promise.all(opened.map((l) => l.close()));
  });
  const sessions = agentSessions(ctx, tls.agentMtls);
  onShutdown(() => sessions.close());
  const ports: PortSpec[] = [
    { component: 'apid', address: cfg.apiListenAddress, tls: tls.api, handler: apiHandler(ctx) },
    // agentd and the dashboard join host and port with Sprintf("%s:%d"), as sensu-go does.
    {
      component: 'agentd',
      address: `${cfg.agentHost}:${cfg.agentPort}`,
      tls: tls.agent,
      handler: agentdHandler(ctx),
      onUpgrade: sessions.onUpgrade,
      extra: { mtls: tls.agentMtls },
    },
    // The open-source build accepts the dashboard keys but serves no web UI: nothing listens on 3000.
    ...(faultOn('no-web-ui')
      ? []
      : [{ component: 'dashboard' as const, address: `${cfg.dashboardHost}:${cfg.dashboardPort}`, tls: tls.dashboard, handler: dashboardHandler() }]),
  ];
  for (const port of ports) {
    const plog = log.with({ component: port.component });
    plog.warn(`starting ${port.component} on address: ${port.address}`, { ...describeTls(port.tls), ...port.extra });
    try {
      let addr: ListenAddress;
      try {
        addr = parseListenAddress(port.address);
      } catch (err) {
        throw new Error(`listen tcp: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      opened.push(
        await serve({
          host: addr.host,
          port: addr.port,
          addressText: addr.text,
          tls: port.tls,
          handler: port.handler,
          onUpgrade: port.onUpgrade,
          onTlsError: (err, remote) => plog.debug(`http: TLS handshake error from ${remote}: ${err.message}`),
        }),
      );
    } catch (err) {
      throw new Error(`failed to start ${port.component}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

async function start(cli: CommandLine): Promise<void> {
  let cfg: BackendConfig;
  try {
    cfg = loadBackendConfig(cli);
    setLevel(parseLevel(cfg.logLevel));
  } catch (err) {
    return fail(err);
  }

  if (faultOn('crash-on-start')) return fail('lab fault crash-on-start: simulated startup failure');
  if (faultOn('crash-on-tls') && cfg.certFile) return fail('lab fault crash-on-tls: simulated failure with TLS enabled');
  if (faultOn('crash-on-peer-tls') && cfg.etcd.listenPeerUrls.some((u) => /^https:/i.test(u)))
    return fail('error starting etcd: lab fault crash-on-peer-tls: simulated failure with etcd peer TLS');
  if (faultOn('hang-on-start')) {
    log.debug('lab fault hang-on-start: not starting');
    hangForever();
    return;
  }

  let tls: BackendTls;
  let etcdTls: EtcdTls;
  try {
    tls = loadBackendTls(cfg, faultOn('wrong-cert') ? (p) => selfSignedLike(p.leaf) : undefined);
    etcdTls = etcdClientTls(cfg);
    // As a backend that ignored dashboard-cert-file would: the web UI serves cert-file.
    if (faultOn('dashboard-ignores-cert') && tls.api) tls.dashboard = tls.api;
  } catch (err) {
    return fail(err);
  }
  for (const w of tls.warnings) log.warn(w);

  let proc: EtcdProcess | undefined;
  if (!cfg.etcd.external) {
    proc = new EtcdProcess(cfg.etcd, cfg.stateDir);
    const p = proc;
    onShutdown(() => p.stop());
    onExit(() => p.killNow());
    try {
      p.start();
    } catch (err) {
      return fail(`error starting etcd: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const etcd = new EtcdClient(cfg.etcd.clientUrls, etcdTls);
  const timeoutS = Number(process.env.SENSU_LAB_ETCD_TIMEOUT) || ETCD_STARTUP_TIMEOUT_S;
  const waited = await waitForEtcd(etcd, proc, timeoutS);
  if (!waited.ok) {
    if (waited.lastError) log.error('etcd client could not reach the store', { error: waited.lastError, endpoints: cfg.etcd.clientUrls });
    return fail(`error starting etcd: ${waited.reason}`);
  }
  log.info('Etcd ready to serve client connections');

  const store = new SensuStore(etcd);
  try {
    await seed(store, cfg);
  } catch (err) {
    return fail(`error seeding the store: ${err instanceof Error ? err.message : String(err)}`);
  }

  const ctx: BackendContext = {
    cfg,
    etcd,
    etcdTls,
    store,
    log,
    ready: false,
    refuseAgents: faultOn('refuse-agents'),
    name: cfg.etcd.name,
  };
  try {
    await listenAll(ctx, tls);
  } catch (err) {
    return fail(err);
  }
  ctx.ready = true;
  if (proc) {
    // sensu-go stops the backend when its embedded etcd fails; the supervisor restarts it.
    void proc.exited.then((e) => {
      if (isShuttingDown()) return;
      log.error('backend stopped working and is restarting', { error: `etcd stopped: ${e.reason}` });
      void fail(`etcd stopped: ${e.reason}`);
    });
  }
  log.warn('backend is running and ready to accept events', {
    etcd_name: cfg.etcd.name,
    faults: ['wrong-cert', 'refuse-agents'].filter((f) => faultOn(f as 'wrong-cert' | 'refuse-agents')),
  });
}

function main(argv: readonly string[]): void {
  installCrashHandler();
  installSignalHandlers((signal) => log.warn(`signal received: ${signal}`));
  const cli = parseCommandLine(argv);
  if (cli.command === 'version') {
    process.stdout.write(`${versionLine('sensu-backend')}\n`);
    return;
  }
  // `start --help` prints help and starts nothing, as sensu-go's cobra commands do.
  if (cli.command === '' || cli.command === 'help' || cli.flags.has('help') || cli.flags.has('h')) {
    process.stdout.write(
      `Usage:\n  sensu-backend [command]\n\nAvailable Commands:\n  start       start the backend\n  version     Show the sensu-backend version information\n`,
    );
    return;
  }
  if (cli.command !== 'start') {
    process.stderr.write(`Error: unknown command "${cli.command}" for "sensu-backend"\nRun 'sensu-backend --help' for usage.\n`);
    process.exitCode = 1;
    return;
  }
  start(cli).catch((err: unknown) => fail(err));
}

main(process.argv.slice(2));
