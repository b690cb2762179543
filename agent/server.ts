/**
 * The agent's HTTP/JSON API on a unix socket (mode 0600, no TCP port), the
 * routes of common/agent-api.ts. Errors are JSON { code, message, data } from
 * the error catalogue: StaleGeneration 409, bad requests 400, unknown pods
 * 404, runtime failures 502.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { chmod, mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { NodeDesiredState } from '../common/agent-api.ts';
import { AgentRequestError, ConfigError, CoxError, RuntimeError, StaleGeneration } from '../common/errors.ts';
import type { AgentDaemon } from './daemon.ts';
import { renderMetrics } from './metrics.ts';
import type { ContainerRuntime } from './runtime/types.ts';
import { AGENT_VERSION } from './version.ts';

const MAX_BODY = 64 * 2 ** 20;

export function statusOf(err: unknown): number {
  if (err instanceof StaleGeneration) return 409;
  if (err instanceof AgentRequestError) return err.status;
  if (err instanceof RuntimeError) return 502;
  return 500;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new AgentRequestError(400, `request body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new AgentRequestError(400, `request body is not JSON: ${(err as Error).message}`);
  }
}

/** The shape checks that keep a malformed PUT from being persisted; each names the field. */
export function checkDesired(v: unknown): NodeDesiredState {
  const bad = (field: string, want: string) => new AgentRequestError(400, `desired state: ${field}: expected ${want}`, { field });
  if (!v || typeof v !== 'object') throw bad('(body)', 'an object');
  const d = v as Record<string, unknown>;
  if (!Number.isInteger(d.generation) || (d.generation as number) < 0) throw bad('generation', 'a non-negative integer');
  for (const f of ['node', 'nodeAddress', 'podCIDR', 'clusterCIDR']) if (typeof d[f] !== 'string' || !d[f]) throw bad(f, 'a string');
  for (const f of ['pods', 'services', 'routes']) if (!Array.isArray(d[f])) throw bad(f, 'an array');
  (d.pods as unknown[]).forEach((p, i) => {
    const pod = p as Record<string, unknown>;
    for (const f of ['uid', 'name', 'namespace']) if (typeof pod?.[f] !== 'string' || !pod[f]) throw bad(`pods[${i}].${f}`, 'a string');
    const spec = pod.spec as Record<string, unknown> | undefined;
    if (!spec || !Array.isArray(spec.containers) || spec.containers.length === 0) throw bad(`pods[${i}].spec.containers`, 'a non-empty array');
  });
  (d.routes as unknown[]).forEach((r, i) => {
    const route = r as Record<string, unknown>;
    if (typeof route?.cidr !== 'string' || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(route.cidr)) throw bad(`routes[${i}].cidr`, 'an IPv4 CIDR');
    if (typeof route?.via !== 'string' || !/^\d+\.\d+\.\d+\.\d+$/.test(route.via)) throw bad(`routes[${i}].via`, 'an IPv4 address');
  });
  return v as NodeDesiredState;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function intParam(url: URL, name: string, dflt: number | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return dflt;
  if (!/^\d+$/.test(v)) throw new AgentRequestError(400, `query parameter ${name}: expected a non-negative integer, got "${v}"`, { field: name });
  return Math.min(Number(v), max);
}

export function createAgentServer(daemon: AgentDaemon, runtime: ContainerRuntime): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /v1/version') return send(res, 200, AGENT_VERSION);
    if (route === 'PUT /v1/desired') {
      const generation = await daemon.accept(checkDesired(await readJson(req)));
      return send(res, 200, { generation });
    }
    if (route === 'GET /v1/desired') {
      const d = daemon.store.get();
      if (!d) throw new AgentRequestError(404, 'no desired state accepted yet');
      return send(res, 200, d);
    }
    if (route === 'GET /v1/observed') return send(res, 200, daemon.stream.snapshot());
    if (route === 'GET /v1/watch') {
      const since = intParam(url, 'since', 0)!;
      const timeoutSeconds = intParam(url, 'timeoutSeconds', 30, 300)!;
      const abort = new AbortController();
      res.once('close', () => abort.abort());
      return send(res, 200, await daemon.stream.watch(since, timeoutSeconds * 1000, abort.signal));
    }
    if (route === 'GET /metrics') {
      const text = renderMetrics(daemon);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(text);
    }
    if (route === 'POST /v1/images/load') {
      const repo = url.searchParams.get('repo');
      const images = repo ? [await runtime.importImage(req, repo).then(() => repo)] : await runtime.loadImages(req);
      return send(res, 200, { images });
    }
    const logs = /^\/v1\/pods\/([^/]+)\/([^/]+)\/logs$/.exec(url.pathname);
    if (logs && req.method === 'GET') {
      const [namespace, name] = [decodeURIComponent(logs[1]), decodeURIComponent(logs[2])];
      const container = url.searchParams.get('container') ?? undefined;
      const previous = url.searchParams.get('previous') === '1' || url.searchParams.get('previous') === 'true';
      const target = await daemon.kubelet.logTarget(namespace, name, container, previous);
      if (!target) throw new AgentRequestError(404, `pod ${namespace}/${name}${container ? ` container ${container}` : ''}${previous ? ' (previous)' : ''} has no container on this node`, { namespace, name, container });
      const follow = url.searchParams.get('follow') === '1' || url.searchParams.get('follow') === 'true';
      const abort = new AbortController();
      res.once('close', () => abort.abort());
      const stream = await runtime.logs(target.id, { tail: intParam(url, 'tail', undefined), follow, signal: abort.signal });
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      await pipeline(stream, res).catch(() => undefined);
      return;
    }
    throw new AgentRequestError(404, `no route ${route}`);
  };
  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const body = err instanceof CoxError ? err.toJSON() : { code: 'Internal', message: (err as Error).message ?? String(err), data: {} };
      if (res.headersSent) { res.destroy(); return; }
      send(res, statusOf(err), body);
    });
  });
}

/** Throws when another agent answers on `socketPath` (two agents must never drive one host). */
export async function ensureSocketFree(socketPath: string): Promise<void> {
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(socketPath);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  if (live) throw new ConfigError(`another agent is serving ${socketPath}`, { socket: socketPath });
}

/** Listens on `socketPath` (mode 0600); a stale socket is replaced, a live one is an error. */
export async function listenUnix(server: Server, socketPath: string): Promise<void> {
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  await ensureSocketFree(socketPath);
  await unlink(socketPath).catch(() => undefined);
  const mask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(socketPath, () => { server.off('error', reject); resolve(); }); });
  } finally {
    process.umask(mask);
  }
  await chmod(socketPath, 0o600);
}
