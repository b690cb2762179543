/**
 * Agent bootstrap: make a host run exactly the engine's agent build.
 *
 * Asks the running agent its build (GET /v1/version through the SSH channel);
 * when nothing answers or the build differs, uploads the bundle (one file)
 * over SFTP, starts it — a systemd unit where systemd is PID 1, a detached
 * daemon with a pidfile otherwise — and waits until the new build answers.
 * A host that already runs the same build is left alone, so running it on
 * every connect is cheap. Deciding (the plan, the scripts) is pure; running
 * happens in `bootstrapAgent` only.
 */
import { request, type Dispatcher } from 'undici';
import { AGENT_SOCKET_PATH, type AgentVersion } from '../../common/agent-api.ts';
import { AgentUnreachable, CoxError, HostCommandFailed } from '../../common/errors.ts';
import { AGENT_ORIGIN } from './dispatcher.ts';
import { isNothingListening, shellQuote, type HostConnection, type RemoteCommand } from './ssh.ts';

/** The agent as the engine ships it: one self-contained ES module and the hash that identifies it. */
export interface AgentBundle {
  contents: Buffer;
  build: string;
}

export interface AgentPaths {
  program: string;
  socket: string;
  pidFile: string;
  logFile: string;
  unit: string;
  node: string;
}

export const DEFAULT_AGENT_PATHS: AgentPaths = {
  program: '/usr/local/lib/coxswain/cox-agent.mjs',
  socket: AGENT_SOCKET_PATH,
  pidFile: '/run/coxswain/agent.pid',
  logFile: '/var/log/cox-agent.log',
  unit: '/etc/systemd/system/cox-agent.service',
  node: 'node',
};

export type InitSystem = 'systemd' | 'daemon';

/** What the host runs now, as far as the engine can tell. */
export type RemoteAgent = { running: true; version: AgentVersion } | { running: false; reason: string };

export type BootstrapStep =
  | { kind: 'exec'; description: string; command: RemoteCommand }
  | { kind: 'upload'; description: string; path: string; contents: Buffer; mode: number }
  | { kind: 'waitForBuild'; description: string; build: string };

export interface BootstrapPlan {
  /** Why the host needs (or does not need) the upload, in words. */
  reason: string;
  steps: BootstrapStep[];
}

/** The argv that starts the agent on a host. */
export function agentArgv(paths: AgentPaths): string[] {
  return [paths.node, paths.program, 'serve', '--socket', paths.socket];
}

/** PID 1's name tells systemd hosts apart from the rest (containers, the lab's catatonit). */
export const DETECT_INIT: RemoteCommand = { argv: ['cat', '/proc/1/comm'] };

export function initSystemOf(pid1Name: string): InitSystem {
  return pid1Name.trim() === 'systemd' ? 'systemd' : 'daemon';
}

/**
 * Stops the agent recorded in the pidfile (TERM, up to 10 s, then KILL),
 * removes a socket it may have left, and starts the new one detached from the
 * SSH session, recording its PID.
 */
export function daemonRestartScript(paths: AgentPaths): string {
  const q = (s: string) => shellQuote([s]);
  return [
    'set -e',
    `mkdir -p ${q(dirOf(paths.pidFile))} ${q(dirOf(paths.socket))} ${q(dirOf(paths.logFile))}`,
    `if [ -s ${q(paths.pidFile)} ]; then`,
    `  old=$(cat ${q(paths.pidFile)})`,
    '  if kill -0 "$old" 2>/dev/null && grep -q cox-agent "/proc/$old/cmdline" 2>/dev/null; then',
    '    kill -TERM "$old" 2>/dev/null || true',
    '    i=0; while kill -0 "$old" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
    '    kill -KILL "$old" 2>/dev/null || true',
    '  fi',
    'fi',
    `rm -f ${q(paths.socket)} ${q(paths.pidFile)}`,
    `setsid ${shellQuote(agentArgv(paths))} </dev/null >>${q(paths.logFile)} 2>&1 &`,
    `echo $! > ${q(paths.pidFile)}`,
  ].join('\n');
}

export function systemdUnit(paths: AgentPaths): string {
  return [
    '# Written by the Coxswain engine; replaced on every agent upgrade.',
    '[Unit]',
    'Description=Coxswain agent',
    'After=network-online.target',
    '',
    '[Service]',
    `ExecStart=/usr/bin/env ${shellQuote(agentArgv(paths))}`,
    'Restart=always',
    'RestartSec=1',
    // Containers belong to the container engine, not to this unit: stopping the agent must not stop them.
    'KillMode=process',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The steps that bring `remote` to `bundle`'s build; none when it already runs it. */
export function planBootstrap(remote: RemoteAgent, bundle: AgentBundle, init: InitSystem, paths: AgentPaths = DEFAULT_AGENT_PATHS): BootstrapPlan {
  if (remote.running && remote.version.build === bundle.build) {
    return { reason: `agent ${remote.version.version} build ${short(bundle.build)} already runs`, steps: [] };
  }
  const reason = remote.running
    ? `agent build ${short(remote.version.build)} differs from ${short(bundle.build)}`
    : `no agent answers (${remote.reason})`;
  const staging = `${paths.program}.upload`;
  const steps: BootstrapStep[] = [
    { kind: 'exec', description: `create ${dirOf(paths.program)}`, command: { argv: ['mkdir', '-p', dirOf(paths.program)] } },
    { kind: 'upload', description: `upload the agent (${bundle.contents.length} bytes)`, path: staging, contents: bundle.contents, mode: 0o755 },
    { kind: 'exec', description: `install ${paths.program}`, command: { argv: ['mv', '-f', staging, paths.program] } },
  ];
  if (init === 'systemd') {
    steps.push(
      { kind: 'upload', description: `write ${paths.unit}`, path: paths.unit, contents: Buffer.from(systemdUnit(paths)), mode: 0o644 },
      { kind: 'exec', description: 'restart the cox-agent unit', command: { script: 'systemctl daemon-reload && systemctl enable cox-agent.service && systemctl restart cox-agent.service' } },
    );
  } else {
    steps.push({ kind: 'exec', description: `restart the agent daemon (pidfile ${paths.pidFile})`, command: { script: daemonRestartScript(paths) } });
  }
  steps.push({ kind: 'waitForBuild', description: `wait for build ${short(bundle.build)} on ${paths.socket}`, build: bundle.build });
  return { reason, steps };
}

export interface BootstrapOptions {
  paths?: AgentPaths;
  /** Deadline for the new agent to answer with its build. */
  timeoutMs?: number;
  onProgress?: (line: string) => void;
}

export interface BootstrapResult {
  node: string;
  /** False when the host already ran this build: nothing was uploaded or restarted. */
  changed: boolean;
  reason: string;
  build: string;
  ms: number;
}

/**
 * Asks the agent behind `dispatcher` its version. "Nothing listens on the
 * socket" and "what answers is not an agent" are values (bootstrap installs
 * one); an agent that is merely slow to answer is an AgentUnreachable, never
 * a reason to kill it and start another.
 */
export async function probeAgent(dispatcher: Dispatcher, node: string, timeoutMs = 5_000): Promise<RemoteAgent> {
  let response: Dispatcher.ResponseData;
  let text: string;
  try {
    response = await request(`${AGENT_ORIGIN}/v1/version`, { dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    text = await response.body.text();
  } catch (err) {
    if (isNothingListening(err)) return { running: false, reason: (err as AgentUnreachable).data.reason as string };
    if (err instanceof CoxError) throw err;
    throw new AgentUnreachable(node, `GET /v1/version: ${(err as Error).message}`, { cause: err });
  }
  if (response.statusCode !== 200) return { running: false, reason: `GET /v1/version answered ${response.statusCode}` };
  const version = parseJson(text) as Partial<AgentVersion> | undefined;
  if (typeof version?.build !== 'string' || typeof version.version !== 'string') return { running: false, reason: 'what answers on the socket is not a cox-agent (GET /v1/version has no build)' };
  return { running: true, version: version as AgentVersion };
}

/** Brings the host behind `connection` to `bundle`'s build. Idempotent. */
export async function bootstrapAgent(connection: HostConnection, dispatcher: Dispatcher, bundle: AgentBundle, options: BootstrapOptions = {}): Promise<BootstrapResult> {
  const started = performance.now();
  const paths = options.paths ?? DEFAULT_AGENT_PATHS;
  const progress = options.onProgress ?? (() => {});
  const node = connection.name;
  await connection.ready();
  const remote = await probeAgent(dispatcher, node);
  const init = remote.running && remote.version.build === bundle.build ? 'daemon' : initSystemOf(await connection.run(DETECT_INIT));
  const plan = planBootstrap(remote, bundle, init, paths);
  progress(`${node}: ${plan.reason}`);
  for (const step of plan.steps) {
    progress(`${node}: ${step.description}`);
    if (step.kind === 'exec') await connection.run(step.command, { timeoutMs: 30_000 });
    else if (step.kind === 'upload') await upload(connection, step.path, step.contents, step.mode);
    else await waitForBuild(connection, dispatcher, step.build, paths, options.timeoutMs ?? 30_000);
  }
  return { node, changed: plan.steps.length > 0, reason: plan.reason, build: bundle.build, ms: Math.round(performance.now() - started) };
}

async function upload(connection: HostConnection, path: string, contents: Buffer, mode: number): Promise<void> {
  const sftp = await connection.sftp();
  try {
    await new Promise<void>((resolve, reject) => {
      sftp.writeFile(path, contents, { mode }, (err) => (err ? reject(new HostCommandFailed(connection.name, `sftp put ${path}`, err.message)) : resolve()));
    });
  } finally {
    sftp.end();
  }
}

async function waitForBuild(connection: HostConnection, dispatcher: Dispatcher, build: string, paths: AgentPaths, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: RemoteAgent = { running: false, reason: 'not asked yet' };
  while (Date.now() < deadline) {
    try {
      last = await probeAgent(dispatcher, connection.name, Math.max(500, Math.min(3_000, deadline - Date.now())));
    } catch (err) {
      last = { running: false, reason: (err as AgentUnreachable).data?.reason as string ?? String(err) };
    }
    if (last.running && last.version.build === build) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seen = last.running ? `build ${short(last.version.build)} answers` : last.reason;
  const log = await connection.exec({ argv: ['tail', '-n', '5', paths.logFile] }).then((r) => r.stdout.trim(), () => '');
  throw new AgentUnreachable(connection.name, `the agent build ${short(build)} did not answer on ${paths.socket} within ${timeoutMs} ms (${seen})${log ? `; ${paths.logFile} ends with:\n${log}` : ''}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

function short(build: string): string {
  return build.slice(0, 12);
}
