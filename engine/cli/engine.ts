/**
 * `cox engine --repo PATH|URL [--branch B] [--status-branch S] [--ssh-key FILE]
 *             [--metrics ADDR] [--once [--timeout SECONDS]] [--log-level L]
 *             [--fetch-interval SECONDS] [--webhook ADDR] [--status-window MS]`
 *
 * Runs the whole loop: desired commits from Git, controllers and scheduler,
 * agents over SSH, status commits. Logs are JSON lines on stderr. `--once`
 * reconciles the current commit until every pod is Ready or has failed with a
 * reason, prints the outcome on stdout and exits 0 (all ready) or 1.
 *
 * A URL is fetched every `--fetch-interval` seconds (default 30) and, with
 * `--webhook ADDR`, at once when GitHub's push webhook arrives there signed
 * with the secret in COX_WEBHOOK_SECRET (anything unsigned gets 401).
 *
 * Observed changes within `--status-window` milliseconds (default 500) share
 * one status commit; 0 commits after every pass that changed something.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ConfigError, UsageError, describeError } from '../../common/errors.ts';
import { createLogger, parseLogLevel } from '../log.ts';
import { EngineMetrics, parseListenAddress, serveMetrics } from '../metrics.ts';
import { onceOutcome } from '../daemon/once.ts';
import { safeUrl } from '../status/remote.ts';
import { parse } from './args.ts';
import type { CommandIO } from './main.ts';

export interface EngineFlags {
  repo: string;
  branch: string;
  statusBranch: string;
  sshKey?: string;
  metrics?: { host: string; port: number };
  once: boolean;
  timeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** For a URL: where the engine keeps its clone. */
  workdir?: string;
  /** For a URL: how often it is fetched. */
  fetchIntervalMs?: number;
  /** For a URL: where the push webhook listens, and the secret its requests are signed with. */
  webhook?: { host: string; port: number; secret: string };
  /** Changes within this window share one status commit (undefined: the writer's default, 500 ms). */
  statusWindowMs?: number;
}

export function parseEngineFlags(args: string[], io: Pick<CommandIO, 'cwd' | 'env'>): EngineFlags {
  const { values, positionals } = parse(args, {
    repo: { type: 'string' },
    branch: { type: 'string', default: 'main' },
    'status-branch': { type: 'string', default: 'coxswain/status' },
    'ssh-key': { type: 'string' },
    metrics: { type: 'string' },
    once: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '600' },
    'log-level': { type: 'string', default: io.env.COX_LOG_LEVEL ?? 'info' },
    workdir: { type: 'string' },
    'fetch-interval': { type: 'string' },
    webhook: { type: 'string' },
    'status-window': { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.repo) throw new UsageError('--repo PATH|URL is required');
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(values.repo);
  if (isUrl && !/^https?:\/\//i.test(values.repo)) throw new UsageError(`--repo ${safeUrl(values.repo)}: only http(s) URLs (git's smart HTTP) are supported; clone it and pass the directory instead`);
  const repo = isUrl ? values.repo : path.resolve(io.cwd, values.repo);
  if (!isUrl && !existsSync(repo)) throw new ConfigError(`--repo ${values.repo}: no such directory`);
  const sshKey = values['ssh-key'] ? path.resolve(io.cwd, values['ssh-key']) : undefined;
  if (sshKey && !existsSync(sshKey)) throw new ConfigError(`--ssh-key ${values['ssh-key']}: no such file`);
  if (!sshKey && !io.env.SSH_AUTH_SOCK) throw new ConfigError('no SSH credentials: pass --ssh-key FILE or run with SSH_AUTH_SOCK set');
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout ${values.timeout}: expected a number of seconds`);
  const logLevel = parseLogLevel(values['log-level']);
  if (!logLevel) throw new UsageError(`--log-level ${values['log-level']}: expected debug, info, warn or error`);
  if (!isUrl && values['fetch-interval'] !== undefined) throw new UsageError('--fetch-interval is for a URL --repo (a local repository is watched)');
  if (!isUrl && values.webhook !== undefined) throw new UsageError('--webhook is for a URL --repo (a local repository is watched)');
  const fetchInterval = values['fetch-interval'] === undefined ? undefined : Number(values['fetch-interval']);
  if (fetchInterval !== undefined && (!Number.isFinite(fetchInterval) || fetchInterval < 0)) {
    throw new UsageError(`--fetch-interval ${values['fetch-interval']}: expected a number of seconds (0: only on webhook)`);
  }
  const statusWindow = values['status-window'] === undefined ? undefined : Number(values['status-window']);
  if (statusWindow !== undefined && !/^\d+$/.test(values['status-window']!)) {
    throw new UsageError(`--status-window ${values['status-window']}: expected a whole number of milliseconds (default 500; 0: a commit per change)`);
  }
  let webhook: EngineFlags['webhook'];
  if (values.webhook !== undefined) {
    const secret = io.env.COX_WEBHOOK_SECRET;
    if (!secret) throw new ConfigError('--webhook needs the secret GitHub signs pushes with in COX_WEBHOOK_SECRET');
    webhook = { ...listenAddress('--webhook', values.webhook), secret };
  }
  return {
    repo,
    branch: values.branch!,
    statusBranch: values['status-branch']!,
    sshKey,
    metrics: values.metrics ? parseListenAddress(values.metrics) : undefined,
    once: values.once!,
    timeoutMs: timeout * 1000,
    logLevel,
    workdir: values.workdir ? path.resolve(io.cwd, values.workdir) : undefined,
    fetchIntervalMs: fetchInterval === undefined ? undefined : fetchInterval * 1000,
    webhook,
    statusWindowMs: statusWindow,
  };
}

function listenAddress(flag: string, value: string): { host: string; port: number } {
  try {
    return parseListenAddress(value);
  } catch {
    throw new ConfigError(`${flag} ${value}: expected PORT or HOST:PORT, e.g. 127.0.0.1:9465`);
  }
}

/** The push webhook on its own listener; resolves once listening. */
async function serveWebhook(handler: http.RequestListener, address: { host: string; port: number }): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ConfigError(`--webhook ${address.host}:${address.port}: ${err.message}`)));
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  return { server, url: `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}/` };
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const flags = parseEngineFlags(args, io);
  const log = createLogger({ level: flags.logLevel, write: io.stderr });
  const metrics = new EngineMetrics();
  const { buildEngine } = await import('../daemon/adapters.ts');
  const metricsServer = flags.metrics ? await serveMetrics(metrics, flags.metrics) : undefined;
  if (metricsServer) log.info('metrics.listening', { url: metricsServer.url });
  const built = await buildEngine({ ...flags, log, metrics });
  const engine = built.engine;
  log.info('engine.starting', { repo: safeUrl(flags.repo), branch: flags.branch, statusBranch: flags.statusBranch, once: flags.once });

  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('engine.stopping', { signal });
    finish(flags.once ? 130 : 0);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let timeout: NodeJS.Timeout | undefined;
  if (flags.once) {
    let lastWaiting: string[] = [];
    engine.onPass((pass) => {
      const outcome = onceOutcome(pass, engine.connections());
      if (!outcome.done) {
        lastWaiting = outcome.waiting;
        return;
      }
      for (const line of outcome.lines) io.stdout(`${line}\n`);
      finish(outcome.ok ? 0 : 1);
    });
    timeout = setTimeout(() => {
      io.stdout(`timed out after ${flags.timeoutMs / 1000}s; still waiting for:\n${lastWaiting.map((w) => `  ${w}\n`).join('')}`);
      finish(1);
    }, flags.timeoutMs);
  }

  let webhookServer: Awaited<ReturnType<typeof serveWebhook>> | undefined;
  try {
    await engine.start();
    if (flags.webhook) {
      webhookServer = await serveWebhook(built.webhook(flags.webhook.secret), flags.webhook);
      log.info('webhook.listening', { url: webhookServer.url });
    }
  } catch (err) {
    await engine.stop().catch(() => {});
    metricsServer?.server.close();
    throw err;
  }
  const code = await finished;
  if (timeout) clearTimeout(timeout);
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  webhookServer?.server.close();
  await engine.stop().catch((err) => log.error('engine.stop-failed', { error: describeError(err) }));
  metricsServer?.server.close();
  log.info('engine.stopped', { code });
  return code;
}
