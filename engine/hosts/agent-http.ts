/**
 * The agent calls the host manager makes, as a narrow interface (AgentApi),
 * and its implementation over any undici Dispatcher (the SSH one in
 * production). agent/client.ts `AgentClient` is the full client; this covers
 * the calls the engine needs and maps the agent's JSON errors back to the
 * error catalogue, so a refused PUT is a StaleGeneration again on this side.
 */
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import type { AgentVersion, NodeDesiredState, WatchResponse } from '../../common/agent-api.ts';
import { AgentUnreachable, CoxError, StaleGeneration } from '../../common/errors.ts';
import { AGENT_ORIGIN } from './dispatcher.ts';

export interface LogsOptions {
  container?: string;
  tail?: number;
  follow?: boolean;
  signal?: AbortSignal;
}

export interface AgentApi {
  version(): Promise<AgentVersion>;
  /** The desired state the agent accepted last; undefined when it has none. */
  getDesired(): Promise<NodeDesiredState | undefined>;
  /** Resolves with the accepted generation; rejects with StaleGeneration when the agent holds a newer one. */
  putDesired(state: NodeDesiredState): Promise<number>;
  watch(since: number, timeoutSeconds: number, signal?: AbortSignal): Promise<WatchResponse>;
  logs(namespace: string, pod: string, options?: LogsOptions): Promise<Readable>;
  loadImage(tar: Readable | Buffer): Promise<string[]>;
}

/** The agent API over `dispatcher`; `node` names the host in errors. */
export function httpAgentApi(dispatcher: Dispatcher, node: string): AgentApi {
  async function call(method: Dispatcher.HttpMethod, path: string, options: { body?: Readable | Buffer | string; signal?: AbortSignal; timeoutMs?: number; contentType?: string; allow404?: boolean } = {}) {
    const timeoutMs = options.timeoutMs ?? 30_000;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${AGENT_ORIGIN}${path}`, {
        dispatcher,
        method,
        body: options.body,
        signal: options.signal,
        headers: options.contentType ? { 'content-type': options.contentType } : undefined,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (err) {
      if (err instanceof CoxError || (err as Error).name === 'AbortError') throw err;
      throw new AgentUnreachable(node, `${method} ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (response.statusCode < 400 || (options.allow404 && response.statusCode === 404)) return response;
    throw await agentError(node, method, path, response);
  }
  const json = async <T>(response: Dispatcher.ResponseData): Promise<T> => (await response.body.json()) as T;

  return {
    version: async () => json<AgentVersion>(await call('GET', '/v1/version', { timeoutMs: 5_000 })),
    getDesired: async () => {
      const response = await call('GET', '/v1/desired', { allow404: true });
      if (response.statusCode === 404) {
        await response.body.dump();
        return undefined;
      }
      return json<NodeDesiredState>(response);
    },
    putDesired: async (state) => {
      const response = await call('PUT', '/v1/desired', { body: JSON.stringify(state), contentType: 'application/json' });
      return (await json<{ generation: number }>(response)).generation;
    },
    watch: async (since, timeoutSeconds, signal) =>
      json<WatchResponse>(await call('GET', `/v1/watch?since=${since}&timeoutSeconds=${timeoutSeconds}`, { signal, timeoutMs: (timeoutSeconds + 15) * 1_000 })),
    logs: async (namespace, pod, options = {}) => {
      const query = new URLSearchParams();
      if (options.container) query.set('container', options.container);
      if (options.tail !== undefined) query.set('tail', String(options.tail));
      if (options.follow) query.set('follow', '1');
      const path = `/v1/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}/logs${query.size ? `?${query}` : ''}`;
      // A followed log has no end: only the first byte is awaited with a deadline.
      const response = await call('GET', path, { signal: options.signal, timeoutMs: options.follow ? 0 : 30_000 });
      return response.body;
    },
    loadImage: async (tar) => (await json<{ images: string[] }>(await call('POST', '/v1/images/load', { body: tar, contentType: 'application/x-tar', timeoutMs: 300_000 }))).images,
  };
}

async function agentError(node: string, method: string, path: string, response: Dispatcher.ResponseData): Promise<CoxError> {
  const text = await response.body.text();
  let body: { code?: string; message?: string; data?: Record<string, unknown> } = {};
  try {
    body = JSON.parse(text);
  } catch {}
  if (body.code === 'StaleGeneration' && typeof body.data?.offered === 'number' && typeof body.data?.accepted === 'number') {
    return new StaleGeneration(body.data.offered, body.data.accepted);
  }
  const message = body.message ?? (text.trim() || `HTTP ${response.statusCode}`);
  return new CoxError(body.code ?? 'AgentError', `agent on ${node}: ${method} ${path}: ${message}`, { node, status: response.statusCode, ...body.data });
}
