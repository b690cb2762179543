/**
 * One SSH connection to one host, kept open: host key verification against
 * the keys pinned in Git (always, failing closed), keepalives, and reconnects
 * with exponential back-off and jitter. Low-level ssh2 and socket errors are
 * translated here, once, into AgentUnreachable or HostKeyMismatch; callers
 * see the connection's state change as events.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { AgentUnreachable, ConfigError, CoxError, HostCommandFailed, HostKeyMismatch } from '../../common/errors.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { fingerprint, isPinned, parsePinnedKey, type PinnedKey } from './host-keys.ts';

const { Client, utils } = ssh2;
type SshClient = InstanceType<typeof Client>;

/** Where and as whom to reach one node, from its Node manifest's spec.ssh. */
export interface HostSpec {
  name: string;
  address: string;
  port: number;
  user: string;
  hostKeys: PinnedKey[];
}

/** A Node manifest as any layer holds it; spec.ssh is read and checked here. */
export interface NodeSshManifest {
  metadata: { name: string };
  spec?: unknown;
}

interface NodeSsh {
  address?: unknown;
  port?: unknown;
  user?: unknown;
  hostKeys?: unknown;
}

/** Reads spec.ssh of a Node; `file` names the manifest in errors. */
export function hostSpecFromNode(node: NodeSshManifest, file = `nodes/${node.metadata.name}.yaml`): HostSpec {
  const name = node.metadata.name;
  const ssh = (node.spec as { ssh?: NodeSsh } | undefined)?.ssh;
  const invalid = (field: string, why: string) => new ConfigError(`${file}: ${field} ${why}`, { node: name, field });
  if (typeof ssh?.address !== 'string' || ssh.address === '') throw invalid('spec.ssh.address', `is required for node ${name}`);
  if (ssh.port !== undefined && !(Number.isInteger(ssh.port) && (ssh.port as number) >= 1 && (ssh.port as number) <= 65535)) throw invalid('spec.ssh.port', 'must be a port number (1-65535)');
  if (ssh.user !== undefined && (typeof ssh.user !== 'string' || ssh.user === '')) throw invalid('spec.ssh.user', 'must be a user name');
  const hostKeys = ssh.hostKeys ?? [];
  if (!Array.isArray(hostKeys) || hostKeys.some((key) => typeof key !== 'string')) throw invalid('spec.ssh.hostKeys', 'must be a list of "TYPE BASE64" strings');
  if (hostKeys.length === 0) {
    throw invalid('spec.ssh.hostKeys', `of node ${name} is empty: pin the host's keys (ssh-keyscan -t ed25519 ${ssh.address}) — there is no trust on first use`);
  }
  return {
    name,
    address: ssh.address,
    port: (ssh.port as number | undefined) ?? 22,
    user: (ssh.user as string | undefined) ?? 'root',
    hostKeys: (hostKeys as string[]).map((text, i) => parsePinnedKey(text, `${file}: spec.ssh.hostKeys[${i}]`)),
  };
}

/** Two specs that would open the same connection (a changed Node manifest that leaves them equal keeps its connection). */
export function sameHostSpec(a: HostSpec, b: HostSpec): boolean {
  return a.name === b.name && a.address === b.address && a.port === b.port && a.user === b.user &&
    a.hostKeys.length === b.hostKeys.length && a.hostKeys.every((key, i) => key.blob.equals(b.hostKeys[i].blob));
}

/** Host key algorithms to offer: only those of the pinned keys, so the server presents a key we can compare. */
export function hostKeyAlgorithms(keys: PinnedKey[]): string[] {
  const algorithms = new Set<string>();
  for (const key of keys) {
    if (key.type === 'ssh-rsa') ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'].forEach((a) => algorithms.add(a));
    else algorithms.add(key.type);
  }
  return [...algorithms];
}

export type ClientAuth = { kind: 'key'; path: string; privateKey: Buffer } | { kind: 'agent'; socket: string };

/** The engine's client credentials: `--ssh-key FILE` when given, else the ssh-agent at SSH_AUTH_SOCK. */
export async function loadClientAuth(keyPath: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<ClientAuth> {
  if (keyPath) {
    let privateKey: Buffer;
    try {
      privateKey = await readFile(keyPath);
    } catch (err) {
      throw new ConfigError(`--ssh-key ${keyPath}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { path: keyPath });
    }
    const parsed = utils.parseKey(privateKey);
    if (parsed instanceof Error) throw new ConfigError(`--ssh-key ${keyPath}: not a usable private key: ${parsed.message}`, { path: keyPath });
    if (Array.isArray(parsed) ? !parsed[0]?.isPrivateKey() : !parsed.isPrivateKey()) {
      throw new ConfigError(`--ssh-key ${keyPath}: this is a public key; give the private key file`, { path: keyPath });
    }
    return { kind: 'key', path: keyPath, privateKey };
  }
  if (env.SSH_AUTH_SOCK) return { kind: 'agent', socket: env.SSH_AUTH_SOCK };
  throw new ConfigError('no SSH client key: pass --ssh-key FILE or run an ssh-agent (SSH_AUTH_SOCK is not set)');
}

export type HostState =
  | { phase: 'connecting'; since: Date; attempt: number }
  | { phase: 'connected'; since: Date }
  /** The last attempt failed or the connection dropped; the next attempt is scheduled. */
  | { phase: 'reconnecting'; since: Date; attempt: number; retryInMs: number; error: AgentUnreachable }
  /** The host presented a key that is not pinned: nothing is sent to it. Retried at the longest back-off, in case the host is fixed. */
  | { phase: 'hostKeyMismatch'; since: Date; attempt: number; retryInMs: number; error: HostKeyMismatch }
  | { phase: 'closed'; since: Date };

export interface ConnectionOptions {
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Deadline of one connect attempt (TCP + handshake + auth). */
  connectTimeoutMs?: number;
  backoff?: BackoffPolicy;
  random?: () => number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command for a host: argv (quoted for the remote shell here) or a shell script. */
export type RemoteCommand = { argv: string[] } | { script: string };

/** POSIX shell quoting: every argument single-quoted unless it is plainly safe. */
export function shellQuote(argv: string[]): string {
  return argv.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function commandLine(command: RemoteCommand): string {
  return 'argv' in command ? shellQuote(command.argv) : command.script;
}

export interface HostConnectionEvents {
  state: [HostState];
}

export class HostConnection extends EventEmitter<HostConnectionEvents> {
  #state: HostState = { phase: 'connecting', since: new Date(), attempt: 0 };
  #client: SshClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #started = false;
  readonly #options: Required<ConnectionOptions>;

  constructor(readonly host: HostSpec, private readonly auth: ClientAuth, options: ConnectionOptions = {}) {
    super();
    this.#options = {
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      random: options.random ?? Math.random,
    };
  }

  get name(): string {
    return this.host.name;
  }

  get state(): HostState {
    return this.#state;
  }

  /** Starts connecting (and reconnecting for as long as the connection is not closed). */
  start(): this {
    if (!this.#started) {
      this.#started = true;
      this.#connect();
    }
    return this;
  }

  /** Waits until connected; rejects with the current error (AgentUnreachable or HostKeyMismatch) after `timeoutMs`, or at once on a host key mismatch. */
  async ready(timeoutMs = this.#options.connectTimeoutMs): Promise<void> {
    this.start();
    const settled = (state: HostState): boolean => state.phase === 'connected' || state.phase === 'hostKeyMismatch' || state.phase === 'closed';
    if (!settled(this.#state)) {
      await new Promise<void>((resolve) => {
        const onState = (state: HostState) => settled(state) && finish();
        const timer = setTimeout(() => finish(), timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          this.off('state', onState);
          resolve();
        };
        this.on('state', onState);
      });
    }
    const state = this.#state;
    if (state.phase === 'connected') return;
    throw this.#errorOf(state, timeoutMs);
  }

  #errorOf(state: HostState, waitedMs = this.#options.connectTimeoutMs): CoxError {
    if (state.phase === 'reconnecting' || state.phase === 'hostKeyMismatch') return state.error;
    if (state.phase === 'closed') return new AgentUnreachable(this.name, 'the connection was closed');
    return new AgentUnreachable(this.name, `not connected within ${waitedMs} ms (${this.host.address}:${this.host.port})`);
  }

  /** The live ssh2 client; throws the connection's error when it is not connected. */
  #live(): SshClient {
    if (this.#state.phase !== 'connected' || !this.#client) throw this.#errorOf(this.#state);
    return this.#client;
  }

  /** A `direct-streamlocal@openssh.com` channel to a unix socket on the host. */
  async openStreamLocal(socketPath: string, timeoutMs = this.#options.connectTimeoutMs): Promise<ClientChannel> {
    const client = this.#live();
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new AgentUnreachable(this.name, `no answer opening a channel to ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      client.openssh_forwardOutStreamLocal(socketPath, (err, channel) => {
        clearTimeout(timer);
        if (timedOut) channel?.close();
        else if (err) reject(new AgentUnreachable(this.name, `cannot open ${socketPath}: ${channelFailure(err)}`, { cause: err }));
        else resolve(channel);
      });
    });
  }

  async sftp(): Promise<SFTPWrapper> {
    const client = this.#live();
    return new Promise((resolve, reject) => {
      client.sftp((err, sftp) => (err ? reject(new AgentUnreachable(this.name, `cannot start SFTP: ${err.message}`, { cause: err })) : resolve(sftp)));
    });
  }

  /** Runs a command; resolves with its exit code and output (a non-zero exit is a result, not an error). */
  async exec(command: RemoteCommand, options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const client = this.#live();
    const line = commandLine(command);
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      client.exec(line, (err, channel) => {
        if (err) return reject(new AgentUnreachable(this.name, `cannot run a command: ${err.message}`, { cause: err }));
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let code: number | undefined;
        let signal: string | undefined;
        const timer = setTimeout(() => {
          channel.close();
          reject(new HostCommandFailed(this.name, line, `no exit after ${timeoutMs} ms`));
        }, timeoutMs);
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
          code = exitCode ?? undefined;
          signal = exitSignal;
        });
        channel.on('close', () => {
          clearTimeout(timer);
          const out = Buffer.concat(stdout).toString('utf8');
          const errOut = Buffer.concat(stderr).toString('utf8');
          if (code === undefined) reject(new HostCommandFailed(this.name, line, signal ? `killed by ${signal}` : 'the channel closed without an exit status', { stderr: errOut }));
          else resolve({ code, stdout: out, stderr: errOut });
        });
        channel.end(options.input);
      });
    });
  }

  /** Like exec, but a non-zero exit is a HostCommandFailed naming the command and its stderr. */
  async run(command: RemoteCommand, options: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
    const result = await this.exec(command, options);
    if (result.code !== 0) {
      throw new HostCommandFailed(this.name, commandLine(command), `exit ${result.code}${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}`, { code: result.code, stderr: result.stderr });
    }
    return result.stdout;
  }

  /** Closes the connection for good. */
  close(): Promise<void> {
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    this.#setState({ phase: 'closed', since: new Date() });
    if (!client) return Promise.resolve();
    return new Promise((resolve) => {
      client.once('close', () => resolve());
      client.end();
      setTimeout(() => {
        client.destroy();
        resolve();
      }, 1_000).unref();
    });
  }

  #setState(state: HostState): void {
    this.#state = state;
    this.emit('state', state);
  }

  #connect(): void {
    if (this.#state.phase === 'closed') return;
    const attempt = this.#attempt;
    if (attempt > 0 && this.#state.phase !== 'reconnecting' && this.#state.phase !== 'hostKeyMismatch') {
      this.#setState({ phase: 'connecting', since: new Date(), attempt });
    }
    const client = new Client();
    this.#client = client;
    let presented: Buffer | undefined;
    let failure: unknown;
    let wasReady = false;
    const config: ConnectConfig = {
      host: this.host.address,
      port: this.host.port,
      username: this.host.user,
      readyTimeout: this.#options.connectTimeoutMs,
      keepaliveInterval: this.#options.keepaliveIntervalMs,
      keepaliveCountMax: this.#options.keepaliveCountMax,
      algorithms: { serverHostKey: hostKeyAlgorithms(this.host.hostKeys) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (key: Buffer) => {
        if (isPinned(this.host.hostKeys, key)) return true;
        presented = Buffer.from(key);
        return false;
      },
      ...(this.auth.kind === 'key' ? { privateKey: this.auth.privateKey } : { agent: this.auth.socket }),
    };
    client.on('ready', () => {
      wasReady = true;
      this.#attempt = 0;
      this.#setState({ phase: 'connected', since: new Date() });
    });
    client.on('error', (err) => {
      failure ??= err;
    });
    client.on('close', () => {
      if (this.#client !== client) return; // closed on purpose, or superseded
      this.#client = undefined;
      if (this.#state.phase === 'closed') return;
      this.#attempt += 1;
      const error = presented
        ? new HostKeyMismatch(this.name, this.host.hostKeys.map((key) => fingerprint(key.blob)), fingerprint(presented))
        : translateSshError(this.host, failure, wasReady);
      const retryInMs = error instanceof HostKeyMismatch
        ? this.#options.backoff.maxMs
        : backoffDelay(this.#attempt, this.#options.backoff, this.#options.random);
      this.#setState(error instanceof HostKeyMismatch
        ? { phase: 'hostKeyMismatch', since: new Date(), attempt: this.#attempt, retryInMs, error }
        : { phase: 'reconnecting', since: new Date(), attempt: this.#attempt, retryInMs, error });
      this.#timer = setTimeout(() => this.#connect(), retryInMs);
      this.#timer.unref();
    });
    client.connect(config);
  }
}

/** The one place ssh2 and socket errors become a sentence about the host. */
export function translateSshError(host: Pick<HostSpec, 'name' | 'address' | 'port' | 'user'>, err: unknown, wasConnected = false): AgentUnreachable {
  const where = `${host.address}:${host.port}`;
  const e = err as (Error & { code?: string | number; level?: string }) | undefined;
  let reason: string;
  if (!e) reason = wasConnected ? `the connection to ${where} was closed by the host` : `${where} closed the connection during the SSH handshake`;
  else if (e.code === 'ECONNREFUSED') reason = `connection refused by ${where} (is sshd running?)`;
  else if (e.code === 'ECONNRESET') reason = `connection to ${where} reset`;
  else if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') reason = `no route to ${where}`;
  else if (e.code === 'ETIMEDOUT') reason = `TCP connect to ${where} timed out`;
  else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') reason = `cannot resolve ${host.address}`;
  else if (e.level === 'client-authentication') reason = `${host.user}@${where} refused our client key (check authorized_keys)`;
  else if (e.level === 'client-timeout' && /keepalive/i.test(e.message)) reason = `${where} stopped answering keepalives`;
  else if (e.level === 'client-timeout') reason = `no SSH handshake with ${where} before the deadline`;
  else reason = `${where}: ${e.message}`;
  return new AgentUnreachable(host.name, reason, { cause: err });
}

/** True for the error of a channel to a unix socket that nothing listens on (the agent is not running). */
export function isNothingListening(err: unknown): boolean {
  return err instanceof AgentUnreachable && isConnectFailed((err as { cause?: unknown }).cause);
}

// OpenSSH answers "open failed" with reason 2 (connect failed) when nothing listens on the socket.
function isConnectFailed(err: unknown): boolean {
  const e = err as (Error & { reason?: number }) | undefined;
  return e?.reason === 2 || /connect failed|open failed/i.test(e?.message ?? '');
}

function channelFailure(err: Error & { reason?: number }): string {
  if (isConnectFailed(err)) return 'nothing listens on it';
  return err.message;
}
