/**
 * The two parts of undici the agent uses, a connection Pool and the promise
 * `request` API, loaded from their own modules. undici's index also loads
 * fetch, WebSocket, EventSource, the cache, retry and mock layers, which the
 * agent never calls; they were over half of the agent bundle and, kept as the
 * bundle's source text and compiled code, several MiB of the idle agent's
 * resident memory (see bench/agent.bench.ts, idleRssMb).
 */
import type { Dispatcher } from 'undici';
import PoolClass from 'undici/lib/dispatcher/pool.js';
import requestApi from 'undici/lib/api/api-request.js';

export const Pool = PoolClass;
export type Pool = InstanceType<typeof PoolClass>;

/** `dispatcher.request(options)` of undici's full build. */
export function request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return requestApi.call(dispatcher, options);
}
