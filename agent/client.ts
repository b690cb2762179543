/**
 * AgentClient: typed calls for every endpoint of common/agent-api.ts over an
 * undici Dispatcher passed in (the engine passes one that dials the socket
 * through SSH); `AgentClient.local(socketPath)` talks to a local socket.
 * The agent's JSON errors come back as the catalogue's classes.
 */
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { AGENT_SOCKET_PATH, type AgentVersion, type NodeDesiredState, type ObservedSnapshot, type WatchResponse } from '../common/agent-api.ts';
import { AgentRequestError, AgentUnreachable, CoxError, RuntimeError, StaleGeneration } from '../common/errors.ts';

const ORIGIN = 'http://cox-agent';

export interface LogOptions {
  container?: string;
  tail?: number;
  follow?: boolean;
  previous?: boolean;
  signal?: AbortSignal;
}

export class AgentClient {
  constructor(private readonly dispatcher: Dispatcher, readonly node = 'local') {}

  static local(socketPath = AGENT_SOCKET_PATH, node = 'local'): AgentClient {
    return new AgentClient(new Agent({ connect: { socketPath } }), node);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  version(): Promise<AgentVersion> {
    return this.json('GET', '/v1/version');
  }

  /** Resolves with the accepted generation; StaleGeneration when the agent accepted a newer one. */
  async putDesired(state: NodeDesiredState): Promise<number> {
    return (await this.json<{ generation: number }>('PUT', '/v1/desired', { body: JSON.stringify(state), contentType: 'application/json' })).generation;
  }

  /** undefined when the agent has accepted nothing yet. */
  async getDesired(): Promise<NodeDesiredState | undefined> {
    const res = await this.call('GET', '/v1/desired', { allow404: true });
    if (res.statusCode === 404) { await res.body.dump(); return undefined; }
    return (await res.body.json()) as NodeDesiredState;
  }

  observed(): Promise<ObservedSnapshot> {
    return this.json('GET', '/v1/observed');
  }

  watch(since: number, timeoutSeconds = 30, signal?: AbortSignal): Promise<WatchResponse> {
    return this.json('GET', `/v1/watch?since=${since}&timeoutSeconds=${timeoutSeconds}`, { signal, timeoutMs: (timeoutSeconds + 15) * 1000 });
  }

  async logs(namespace: string, pod: string, o: LogOptions = {}): Promise<Readable> {
    const q = new URLSearchParams();
    if (o.container) q.set('container', o.container);
    if (o.tail !== undefined) q.set('tail', String(o.tail));
    if (o.follow) q.set('follow', '1');
    if (o.previous) q.set('previous', '1');
    const res = await this.call('GET', `/v1/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}/logs${q.size ? `?${q}` : ''}`, { signal: o.signal, timeoutMs: o.follow ? 0 : 30_000 });
    return res.body as unknown as Readable;
  }

  /** Loads a `docker save` archive, or with `repo` imports a root filesystem tar as that image. */
  async loadImage(tar: Readable | Buffer, repo?: string): Promise<string[]> {
    return (await this.json<{ images: string[] }>('POST', `/v1/images/load${repo ? `?repo=${encodeURIComponent(repo)}` : ''}`, { body: tar, contentType: 'application/x-tar', timeoutMs: 300_000 })).images;
  }

  async metrics(): Promise<string> {
    return (await this.call('GET', '/metrics')).body.text();
  }

  private async json<T>(method: Dispatcher.HttpMethod, path: string, o: Parameters<AgentClient['call']>[2] = {}): Promise<T> {
    return (await (await this.call(method, path, o)).body.json()) as T;
  }

  private async call(method: Dispatcher.HttpMethod, path: string, o: { body?: string | Buffer | Readable; contentType?: string; signal?: AbortSignal; timeoutMs?: number; allow404?: boolean } = {}): Promise<Dispatcher.ResponseData> {
    let res: Dispatcher.ResponseData;
    const timeout = o.timeoutMs ?? 30_000;
    try {
      res = await request(`${ORIGIN}${path}`, { dispatcher: this.dispatcher, method, body: o.body, signal: o.signal, headers: o.contentType ? { 'content-type': o.contentType } : {}, headersTimeout: timeout, bodyTimeout: timeout });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new AgentUnreachable(this.node, `${method} ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (res.statusCode < 400 || (o.allow404 && res.statusCode === 404)) return res;
    const text = await res.body.text();
    let e: { code?: string; message?: string; data?: Record<string, unknown> } = {};
    try { e = JSON.parse(text); } catch { e = { message: text }; }
    const data = e.data ?? {};
    if (e.code === 'StaleGeneration') throw new StaleGeneration(Number(data.offered), Number(data.accepted));
    if (e.code === 'BadRequest' || e.code === 'NotFound') throw new AgentRequestError(res.statusCode === 404 ? 404 : 400, e.message ?? text, data);
    if (e.code === 'RuntimeError') throw new RuntimeError(String(data.operation ?? method), Number(data.status ?? res.statusCode), e.message ?? text);
    throw new CoxError(e.code ?? 'AgentError', `agent on ${this.node}: ${e.message ?? `HTTP ${res.statusCode}`}`, data);
  }
}
