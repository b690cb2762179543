/**
 * cox-agent entry: argv → serve. Checks its inputs, builds the runtime, the
 * daemon and the server, and stops cleanly on SIGTERM/SIGINT (containers keep
 * running: the agent going away never stops a pod).
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { AGENT_SOCKET_PATH } from '../common/agent-api.ts';
import { CoxError, UsageError, describeError } from '../common/errors.ts';
import { AgentDaemon, type DaemonOptions } from './daemon.ts';
import type { CreateProxierOptions } from './proxy/index.ts';
import { IPVS_SCHEDULERS, isIpvsScheduler } from './proxy/schedulers.ts';
import { DEFAULT_DOCKER_SOCKET, DockerRuntime } from './runtime/docker.ts';
import { createAgentServer, ensureSocketFree, listenUnix } from './server.ts';
import { DEFAULT_STATE_DIR } from './state.ts';
import { AGENT_VERSION } from './version.ts';

const USAGE = `usage: cox-agent serve [--socket PATH] [--state-dir DIR] [--docker-socket PATH]
                       [--backoff-initial-ms N] [--backoff-max-ms N] [--poll-ms N] [--heartbeat-ms N]
                       [--ipvs-scheduler NAME]
       cox-agent version

  --ipvs-scheduler NAME  IPVS scheduler of every virtual server in ipvs proxy mode
                         (${IPVS_SCHEDULERS.join(' ')}; default rr)`;

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new UsageError(`--${name}: expected a positive integer, got "${v}"`);
  return Number(v);
}

export interface ServeOptions {
  socket: string;
  dockerSocket: string;
  daemon: Pick<DaemonOptions, 'stateDir' | 'backoff' | 'pollMs' | 'heartbeatMs'>;
  /** What the proxier is made with (createProxier's options). */
  proxy: { scheduler: string; stateDir: string };
}

/** `cox-agent serve` flags → options; a bad flag is a UsageError naming it, with the usage text. */
export function parseServeArgs(args: string[]): ServeOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args, strict: true, allowPositionals: false,
      options: {
        socket: { type: 'string' }, 'state-dir': { type: 'string' }, 'docker-socket': { type: 'string' },
        'backoff-initial-ms': { type: 'string' }, 'backoff-max-ms': { type: 'string' }, 'poll-ms': { type: 'string' }, 'heartbeat-ms': { type: 'string' },
        'ipvs-scheduler': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const scheduler = values['ipvs-scheduler'] ?? 'rr';
  if (!isIpvsScheduler(scheduler)) throw new UsageError(`--ipvs-scheduler: unknown IPVS scheduler "${scheduler}" (one of ${IPVS_SCHEDULERS.join(' ')})\n${USAGE}`);
  const stateDir = values['state-dir'] ?? DEFAULT_STATE_DIR;
  return {
    socket: values.socket ?? AGENT_SOCKET_PATH,
    dockerSocket: values['docker-socket'] ?? DEFAULT_DOCKER_SOCKET,
    daemon: {
      stateDir,
      backoff: { initialMs: positive('backoff-initial-ms', values['backoff-initial-ms'], 10_000), maxMs: positive('backoff-max-ms', values['backoff-max-ms'], 300_000) },
      pollMs: positive('poll-ms', values['poll-ms'], 2000),
      heartbeatMs: positive('heartbeat-ms', values['heartbeat-ms'], 10_000),
    },
    proxy: { scheduler, stateDir },
  };
}

/** The proxier for a desired mode, made with the flags' options; agent/proxy is loaded at the first sync. */
export function proxierFactory(proxy: ServeOptions['proxy'], extra: CreateProxierOptions = {}): NonNullable<DaemonOptions['proxierFactory']> {
  return async (mode) => (await import('./proxy/index.ts')).createProxier(mode, { ...proxy, ...extra });
}

export async function main(argv: string[]): Promise<number> {
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  try {
    const [command, ...rest] = argv;
    if (command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (command === 'version') {
      process.stdout.write(`${JSON.stringify(AGENT_VERSION)}\n`);
      return 0;
    }
    if (command !== 'serve') throw new UsageError(command ? `unknown command "${command}"\n${USAGE}` : USAGE);
    const opts = parseServeArgs(rest);
    // undici parses HTTP with a WebAssembly llhttp, compiled at its first connection: compiled lazily and
    // never tiered up it costs the agent several MB less resident memory; its calls are few and small.
    // Dynamic tiering is a tier-up of its own: with it, V8 recompiles the hot parser functions with TurboFan on
    // a worker thread, whose ~2 MB zone, once freed, raises glibc's trim threshold and leaves 4-10 MiB in that
    // thread's malloc arena for good (seen with gdb; half of the idle agents measured 8-10 MiB larger).
    v8.setFlagsFromString('--wasm-lazy-compilation');
    v8.setFlagsFromString('--no-wasm-tier-up');
    v8.setFlagsFromString('--no-wasm-dynamic-tiering');
    const { socket } = opts;
    const runtime = new DockerRuntime(opts.dockerSocket);
    const daemon = new AgentDaemon({ ...opts.daemon, runtime, log, proxierFactory: proxierFactory(opts.proxy) });
    // The persisted state is loaded before the socket answers, so a PUT can never be overwritten by the load.
    await ensureSocketFree(socket);
    await daemon.start();
    const server = createAgentServer(daemon, runtime);
    await listenUnix(server, socket);
    log(`cox-agent ${AGENT_VERSION.version} (build ${AGENT_VERSION.build}) serving ${socket}, runtime ${runtime.socketPath}`);
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => { log(`${sig}: stopping (containers keep running)`); resolve(); };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    server.close();
    server.closeAllConnections();
    await daemon.stop();
    await runtime.close();
    return 0;
  } catch (err) {
    log(`cox-agent: ${describeError(err)}`);
    return err instanceof UsageError ? 2 : err instanceof CoxError ? 1 : 1;
  }
}
