/**
 * HostManager: one SSH connection and one agent session per Node in Git.
 *
 * `sync(nodes)` is level-based: it opens connections for new Nodes, replaces
 * those whose spec.ssh changed and closes those gone from Git. For every
 * connected host a session runs: bootstrap the agent (when a bundle is
 * given), read what it accepted (GET /v1/desired), announce `connected`,
 * then long-poll /v1/watch, resuming by seq across agent restarts and SSH
 * reconnects, and announce every answer. Each answer is a heartbeat. An
 * agent that stops answering is bootstrapped again after a grace time.
 *
 * Its events and `putDesired` are the engine loop's HostFleet port
 * (engine/daemon/ports.ts), so the loop never sees SSH.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { AgentVersion, NodeDesiredState, WatchResponse } from '../../common/agent-api.ts';
import { AgentUnreachable, CoxError, describeError } from '../../common/errors.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { bootstrapAgent, DEFAULT_AGENT_PATHS, type AgentBundle, type AgentPaths } from './bootstrap.ts';
import { createAgentDispatcher } from './dispatcher.ts';
import { AgentClient, type LogOptions } from '../../agent/client.ts';
import { HostConnection, hostSpecFromNode, sameHostSpec, type ClientAuth, type ConnectionOptions, type HostSpec, type HostState, type NodeSshManifest } from './ssh.ts';

/** A host as the engine loop sees it. */
export type HostStatus =
  | { state: 'connecting' }
  | { state: 'connected' }
  | { state: 'unreachable'; reason: string }
  /** Not retried until the Node changes in Git (a bad spec.ssh) or the host is fixed (a host key mismatch). */
  | { state: 'refused'; code: string; reason: string };

export type HostEvent =
  /** The agent answers (after a connect, a reconnect or an agent restart): what it has accepted so far. */
  | { type: 'connected'; node: string; accepted?: NodeDesiredState }
  | { type: 'connection'; node: string; connection: HostStatus }
  | { type: 'watch'; node: string; response: WatchResponse };

/** The agent calls the manager makes (agent/client.ts AgentClient has them; tests may pass another). */
export interface AgentApi {
  version(): Promise<AgentVersion>;
  getDesired(): Promise<NodeDesiredState | undefined>;
  putDesired(state: NodeDesiredState): Promise<number>;
  watch(since: number, timeoutSeconds: number, signal?: AbortSignal): Promise<WatchResponse>;
  logs(namespace: string, pod: string, options?: LogOptions): Promise<Readable>;
  loadImage(tar: Readable | Buffer, repo?: string): Promise<string[]>;
}

/** A Node object from Git (only what is read here). */
export type NodeObjectLike = NodeSshManifest & { kind?: string; [field: string]: unknown };

export interface HostManagerOptions {
  auth: ClientAuth;
  /** When given, every host is brought to this agent build on connect (see bootstrap.ts). */
  bundle?: AgentBundle;
  agentPaths?: AgentPaths;
  connection?: ConnectionOptions;
  /** How long one /v1/watch long-poll may wait on the agent. */
  watchTimeoutSeconds?: number;
  /** How long an agent that stopped answering gets to come back before it is bootstrapped again (default 10 s). */
  agentRestartGraceMs?: number;
  /** Back-off between agent session attempts while SSH itself is up. */
  sessionBackoff?: BackoffPolicy;
  /** The agent API over a host's dispatcher (default: agent/client.ts AgentClient). */
  createApi?: (dispatcher: Dispatcher, node: string) => AgentApi;
  /** Names a Node's manifest file in configuration errors. */
  fileOf?: (node: NodeObjectLike) => string | undefined;
  onProgress?: (line: string) => void;
}

interface Host {
  spec?: HostSpec;
  connection?: HostConnection;
  dispatcher?: Dispatcher;
  api?: AgentApi;
  status: HostStatus;
  /** Why the host is refused (a HostKeyMismatch or a ConfigError), thrown to callers as it is. */
  refusal?: CoxError;
  /** Set while the agent session runs; aborting it ends the session. */
  session?: AbortController;
  /** The last seq delivered; watches resume from here. */
  seq: number;
  lastHeartbeat?: Date;
  closed: boolean;
}

export class HostManager {
  readonly #hosts = new Map<string, Host>();
  readonly #listeners = new Set<(event: HostEvent) => void>();
  readonly #options: HostManagerOptions;

  constructor(options: HostManagerOptions) {
    this.#options = options;
  }

  subscribe(listener: (event: HostEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Brings the set of connections to the Nodes given (objects of other kinds are ignored). */
  sync(nodes: NodeObjectLike[]): void {
    const wanted = new Map<string, NodeObjectLike>();
    for (const node of nodes) if ((node.kind ?? 'Node') === 'Node') wanted.set(node.metadata.name, node);
    for (const [name, host] of this.#hosts) {
      if (!wanted.has(name)) {
        this.#hosts.delete(name);
        void this.#shutdown(host);
      }
    }
    for (const [name, node] of wanted) {
      let spec: HostSpec | undefined;
      let problem: CoxError | undefined;
      try {
        spec = hostSpecFromNode(node, this.#options.fileOf?.(node));
      } catch (err) {
        problem = err instanceof CoxError ? err : new CoxError('Config', describeError(err));
      }
      const existing = this.#hosts.get(name);
      if (existing?.spec && spec && sameHostSpec(spec, existing.spec)) continue;
      if (existing && !existing.spec && !spec && 'reason' in existing.status && existing.status.reason === problem?.message) continue;
      if (existing) void this.#shutdown(existing);
      const host: Host = { spec, status: { state: 'connecting' }, seq: existing?.seq ?? 0, lastHeartbeat: existing?.lastHeartbeat, closed: false };
      this.#hosts.set(name, host);
      if (!spec) {
        host.refusal = problem;
        this.#setStatus(name, host, { state: 'refused', code: problem!.code, reason: problem!.message });
        continue;
      }
      this.#open(name, host, spec);
    }
  }

  nodes(): string[] {
    return [...this.#hosts.keys()].sort();
  }

  status(node: string): HostStatus | undefined {
    return this.#hosts.get(node)?.status;
  }

  /** When the agent on `node` last answered a watch (the engine's clock: no skew between hosts). */
  lastHeartbeat(node: string): Date | undefined {
    return this.#hosts.get(node)?.lastHeartbeat;
  }

  /** The SSH connection to `node` (for commands and SFTP). */
  connection(node: string): HostConnection {
    const connection = this.#host(node).connection;
    if (!connection) throw this.#unreachable(node);
    return connection;
  }

  /** The agent API of `node`, usable while it is connected. */
  api(node: string): AgentApi {
    const host = this.#host(node);
    if (!host.api || host.status.state !== 'connected') throw this.#unreachable(node);
    return host.api;
  }

  async putDesired(node: string, state: NodeDesiredState): Promise<number> {
    return this.api(node).putDesired(state);
  }

  async logs(node: string, namespace: string, pod: string, options?: LogOptions): Promise<Readable> {
    return this.api(node).logs(namespace, pod, options);
  }

  /** A `docker save` archive, or with `repo` a root filesystem tar imported as that image. */
  async loadImage(node: string, tar: Readable | Buffer, repo?: string): Promise<string[]> {
    return this.api(node).loadImage(tar, repo);
  }

  async close(): Promise<void> {
    const hosts = [...this.#hosts.values()];
    this.#hosts.clear();
    await Promise.all(hosts.map((host) => this.#shutdown(host)));
  }

  #host(node: string): Host {
    const host = this.#hosts.get(node);
    if (!host) throw new AgentUnreachable(node, 'no Node of that name in Git');
    return host;
  }

  #unreachable(node: string): CoxError {
    const { status, refusal } = this.#host(node);
    if (status.state === 'refused') return refusal ?? new CoxError(status.code, status.reason, { node });
    return new AgentUnreachable(node, status.state === 'unreachable' ? status.reason.replace(/^agent on \S+ unreachable: /, '') : `not connected yet (${status.state})`);
  }

  #emit(event: HostEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #setStatus(node: string, host: Host, status: HostStatus): void {
    const before = host.status;
    host.status = status;
    const same = before.state === status.state && ('reason' in before ? before.reason : '') === ('reason' in status ? status.reason : '');
    if (!same && status.state !== 'connected') this.#emit({ type: 'connection', node, connection: status });
  }

  #open(node: string, host: Host, spec: HostSpec): void {
    const connection = new HostConnection(spec, this.#options.auth, this.#options.connection);
    const dispatcher = createAgentDispatcher(connection, { socketPath: this.#options.agentPaths?.socket });
    host.connection = connection;
    host.dispatcher = dispatcher;
    host.api = this.#options.createApi ? this.#options.createApi(dispatcher, node) : new AgentClient(dispatcher, node);
    connection.on('state', (state) => this.#onConnectionState(node, host, state));
    connection.start();
  }

  #onConnectionState(node: string, host: Host, state: HostState): void {
    if (host.closed) return;
    switch (state.phase) {
      case 'connected':
        this.#options.onProgress?.(`${node}: SSH connected`);
        void this.#runSession(node, host);
        return;
      case 'reconnecting':
        host.session?.abort();
        this.#setStatus(node, host, { state: 'unreachable', reason: state.error.message });
        return;
      case 'hostKeyMismatch':
        host.session?.abort();
        host.refusal = state.error;
        this.#setStatus(node, host, { state: 'refused', code: state.error.code, reason: state.error.message });
        return;
      case 'connecting':
        return;
      case 'closed':
        host.session?.abort();
        return;
    }
  }

  /**
   * One agent session per SSH connection, retried with back-off while SSH
   * stays up. The agent is bootstrapped when the connection is new, and again
   * only when it has not answered for `agentRestartGraceMs`: an agent being
   * restarted by someone else gets the time to come back before the engine
   * replaces it.
   */
  async #runSession(node: string, host: Host): Promise<void> {
    host.session?.abort();
    const session = new AbortController();
    host.session = session;
    const policy = this.#options.sessionBackoff ?? { ...DEFAULT_BACKOFF, maxMs: 5_000 };
    const grace = this.#options.agentRestartGraceMs ?? 10_000;
    let attempt = 0;
    let failingSince: number | undefined;
    let bootstrapped = false;
    while (!session.signal.aborted) {
      const bootstrap = Boolean(this.#options.bundle) && (!bootstrapped || (failingSince !== undefined && Date.now() - failingSince >= grace));
      try {
        await this.#session(node, host, session.signal, bootstrap, () => {
          bootstrapped = true;
          attempt = 0;
          failingSince = undefined;
        });
      } catch (err) {
        if (session.signal.aborted) return;
        if (bootstrap) bootstrapped = true;
        attempt += 1;
        failingSince ??= Date.now();
        // The client wraps the transport's own AgentUnreachable ("GET /v1/watch: agent on h1 unreachable: ..."): say it once.
        const cause = (err as { cause?: unknown }).cause;
        const unreachable = cause instanceof AgentUnreachable ? cause : err;
        const reason = unreachable instanceof AgentUnreachable ? unreachable.message : `agent on ${node} unreachable: ${describeError(err)}`;
        this.#setStatus(node, host, { state: 'unreachable', reason });
        await sleep(backoffDelay(attempt, policy), session.signal);
      }
    }
  }

  async #session(node: string, host: Host, signal: AbortSignal, bootstrap: boolean, onConnected: () => void): Promise<void> {
    const { connection, dispatcher, api } = host;
    if (!connection || !dispatcher || !api) return;
    if (bootstrap && this.#options.bundle) {
      const result = await bootstrapAgent(connection, dispatcher, this.#options.bundle, {
        paths: this.#options.agentPaths ?? DEFAULT_AGENT_PATHS,
        onProgress: this.#options.onProgress,
      });
      if (signal.aborted) return;
      if (result.changed) this.#options.onProgress?.(`${node}: agent build ${result.build.slice(0, 12)} started in ${result.ms} ms (${result.reason})`);
    }
    const accepted = await api.getDesired();
    if (signal.aborted) return;
    host.status = { state: 'connected' };
    onConnected();
    this.#emit({ type: 'connected', node, accepted });
    const timeoutSeconds = this.#options.watchTimeoutSeconds ?? 30;
    while (!signal.aborted) {
      const response = await api.watch(host.seq, timeoutSeconds, signal);
      if (signal.aborted) return;
      host.seq = response.seq;
      // Any answer, even an empty long-poll, shows the agent alive and reachable.
      host.lastHeartbeat = new Date();
      this.#emit({ type: 'watch', node, response });
    }
  }

  async #shutdown(host: Host): Promise<void> {
    host.closed = true;
    host.session?.abort();
    await host.dispatcher?.destroy().catch(() => undefined);
    await host.connection?.close();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
