/**
 * The Docker Engine API over its unix socket (Docker's or Podman's compatible
 * one), through undici. Every HTTP failure is translated here, once, into a
 * RuntimeError naming the operation.
 */
import type { Dispatcher } from 'undici';
import { Pool, request } from './undici.ts';
import { Readable } from 'node:stream';
import { RuntimeError } from '../../common/errors.ts';
import { demux, demuxStream } from './demux.ts';
import type {
  ContainerCreateBody, ContainerInfo, ContainerRuntime, ContainerStats, ContainerSummary, ExecResult,
  ImageInfo, LogOptions, NetworkInfo, NetworkSpec, RuntimeVersion,
} from './types.ts';

/** The newest API version this client speaks; an older engine lowers it. */
export const MAX_API_VERSION = '1.41';
export const DEFAULT_DOCKER_SOCKET = '/run/podman/podman.sock';

interface Call {
  method: Dispatcher.HttpMethod;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  raw?: Buffer | Readable;
  contentType?: string;
  signal?: AbortSignal;
  /** Status codes that are not errors, besides 2xx. */
  ok?: number[];
  /** The engine answers only when the container stopped (a stop waits out the grace period): sent on `waits`. */
  waits?: boolean;
}

export function compareApiVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

export class DockerRuntime implements ContainerRuntime {
  private readonly pool: Pool;
  /** Long-lived streams (logs with follow) get their own connections so they never starve API calls. */
  private readonly streams: Pool;
  /**
   * Calls that wait for a container to stop (up to its grace period, 30 s by
   * default, and as many at once as containers being stopped) get a pool of
   * their own, with no limit: on the 6 connections of `pool`, six pods
   * stopping held every connection and every list, inspect and create of the
   * other pods (and their probes' exec) queued behind the grace periods; and
   * a bounded pool of their own would make the stops beyond its size wait out
   * other pods' grace periods before their own began. They are bounded by the
   * containers on the node, a unix-socket connection costs the engine one
   * goroutine, and idle ones close after undici's keep-alive timeout (4 s).
   */
  private readonly waits: Pool;
  private prefix: string | undefined;
  private versionInfo: RuntimeVersion | undefined;

  constructor(readonly socketPath = DEFAULT_DOCKER_SOCKET) {
    this.pool = new Pool('http://docker', { socketPath, connections: 6, headersTimeout: 0, bodyTimeout: 0 });
    this.streams = new Pool('http://docker', { socketPath, connections: 32, headersTimeout: 0, bodyTimeout: 0 });
    this.waits = new Pool('http://docker', { socketPath, connections: null, headersTimeout: 0, bodyTimeout: 0 });
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.streams.close(), this.waits.close()]);
  }

  async version(): Promise<RuntimeVersion> {
    if (this.versionInfo) return this.versionInfo;
    const res = await this.send({ method: 'GET', path: '/version' }, 'version', false);
    const v = (await res.body.json()) as {
      Version: string; ApiVersion: string; Os: string; Arch: string; KernelVersion: string;
      Components?: { Name: string; Version: string }[];
    };
    const apiVersion = compareApiVersions(v.ApiVersion, MAX_API_VERSION) < 0 ? v.ApiVersion : MAX_API_VERSION;
    const engine = v.Components?.some((c) => /podman/i.test(c.Name)) ? 'podman' : 'docker';
    this.prefix = `/v${apiVersion}`;
    this.versionInfo = { runtimeVersion: `${engine}://${v.Version}`, apiVersion, os: v.Os, arch: v.Arch, kernelVersion: v.KernelVersion };
    return this.versionInfo;
  }

  async listContainers(label: string): Promise<ContainerSummary[]> {
    const rows = (await this.json({ method: 'GET', path: '/containers/json', query: { all: 1, filters: JSON.stringify({ label: [label] }) } }, 'list containers')) as {
      Id: string; Names: string[]; Labels: Record<string, string> | null; State: string;
    }[];
    return rows.map((r) => ({ id: r.Id, name: (r.Names[0] ?? '').replace(/^\//, ''), labels: r.Labels ?? {}, state: r.State }));
  }

  async inspectContainer(id: string): Promise<ContainerInfo | undefined> {
    const res = await this.call({ method: 'GET', path: `/containers/${id}/json`, ok: [404] }, `inspect container ${id}`);
    if (res.statusCode === 404) { await res.body.dump(); return undefined; }
    const c = (await res.body.json()) as {
      Id: string; Name: string; Image: string; Created: string;
      Config: { Image: string; Labels: Record<string, string> | null };
      HostConfig?: { NetworkMode?: string };
      State: { Status: string; Running: boolean; ExitCode: number; OOMKilled: boolean; Error: string; StartedAt: string; FinishedAt: string; Pid: number };
      NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
    };
    const ipAddresses: Record<string, string> = {};
    for (const [net, ep] of Object.entries(c.NetworkSettings?.Networks ?? {})) if (ep.IPAddress) ipAddresses[net] = ep.IPAddress;
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      image: c.Config.Image,
      imageID: c.Image,
      labels: c.Config.Labels ?? {},
      state: {
        status: c.State.Status,
        running: c.State.Running,
        exitCode: c.State.ExitCode,
        oomKilled: c.State.OOMKilled,
        error: c.State.Error ?? '',
        startedAt: validTime(c.State.StartedAt),
        finishedAt: validTime(c.State.FinishedAt),
        pid: c.State.Pid,
      },
      networkMode: c.HostConfig?.NetworkMode ?? '',
      ipAddresses,
      created: c.Created,
    };
  }

  async createContainer(name: string, body: ContainerCreateBody): Promise<string> {
    const r = (await this.json({ method: 'POST', path: '/containers/create', query: { name }, body }, `create container ${name}`)) as { Id: string };
    return r.Id;
  }

  async startContainer(id: string): Promise<void> {
    await this.drain({ method: 'POST', path: `/containers/${id}/start`, ok: [304] }, `start container ${id}`);
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.drain({ method: 'POST', path: `/containers/${id}/stop`, query: { t: Math.max(0, Math.round(timeoutSeconds)) }, ok: [304, 404], waits: true }, `stop container ${id}`);
  }

  async removeContainer(id: string): Promise<void> {
    await this.drain({ method: 'DELETE', path: `/containers/${id}`, query: { force: 1, v: 1 }, ok: [404] }, `remove container ${id}`);
  }

  async logs(id: string, options: LogOptions): Promise<Readable> {
    const res = await this.call({
      method: 'GET', path: `/containers/${id}/logs`,
      query: { stdout: 1, stderr: 1, follow: options.follow ? 1 : 0, tail: options.tail ?? 'all', timestamps: options.timestamps ? 1 : 0 },
      signal: options.signal,
    }, `logs of container ${id}`, options.follow === true);
    return (res.body as unknown as Readable).pipe(demuxStream());
  }

  async exec(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult> {
    const { Id } = (await this.json({ method: 'POST', path: `/containers/${id}/exec`, body: { Cmd: cmd, AttachStdout: true, AttachStderr: true } }, `exec in container ${id}`)) as { Id: string };
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await this.call({ method: 'POST', path: `/exec/${Id}/start`, body: { Detach: false, Tty: false }, signal }, `exec in container ${id}`, true);
    const output = demux(Buffer.from(await res.body.arrayBuffer()));
    const info = (await this.json({ method: 'GET', path: `/exec/${Id}/json` }, `exec in container ${id}`)) as { ExitCode: number | null };
    return { exitCode: info.ExitCode ?? -1, ...output };
  }

  async stats(id: string): Promise<ContainerStats | undefined> {
    const res = await this.call({ method: 'GET', path: `/containers/${id}/stats`, query: { stream: false, 'one-shot': true }, ok: [404, 409, 500] }, `stats of container ${id}`);
    if (res.statusCode >= 300) { await res.body.dump(); return undefined; }
    const s = (await res.body.json()) as {
      read: string;
      cpu_stats?: { cpu_usage?: { total_usage?: number } };
      memory_stats?: { usage?: number; stats?: Record<string, number> };
    };
    const usage = s.memory_stats?.usage ?? 0;
    const inactive = s.memory_stats?.stats?.total_inactive_file ?? s.memory_stats?.stats?.inactive_file ?? 0;
    return {
      cpuTotalNs: s.cpu_stats?.cpu_usage?.total_usage ?? 0,
      readAtMs: Date.parse(s.read) || Date.now(),
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - inactive),
    };
  }

  async listImages(): Promise<ImageInfo[]> {
    const rows = (await this.json({ method: 'GET', path: '/images/json' }, 'list images')) as { Id: string; RepoTags: string[] | null }[];
    return rows.map((r) => ({ id: r.Id, tags: (r.RepoTags ?? []).map(shortName) }));
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    const res = await this.call({ method: 'GET', path: `/images/${encodeURIComponent(ref)}/json`, ok: [404] }, `inspect image ${ref}`);
    if (res.statusCode === 404) { await res.body.dump(); return undefined; }
    const r = (await res.body.json()) as { Id: string; RepoTags: string[] | null; Config?: { User?: string } | null };
    return { id: r.Id, tags: (r.RepoTags ?? []).map(shortName), user: r.Config?.User ?? '' };
  }

  async pullImage(ref: string): Promise<void> {
    const { name, tag } = splitRef(ref);
    const res = await this.call({ method: 'POST', path: '/images/create', query: { fromImage: name, tag } }, `pull image ${ref}`, true);
    // The engine reports a failed pull inside a 200 progress stream: the last {"error": ...} line is the reason.
    const lines = (await res.body.text()).split('\n').filter(Boolean);
    for (const line of lines) {
      let msg: { error?: string; errorDetail?: { message?: string } };
      try { msg = JSON.parse(line); } catch { continue; }
      if (msg.error) throw new RuntimeError(`pull image ${ref}`, 200, msg.errorDetail?.message ?? msg.error);
    }
  }

  async importImage(tar: Readable | Buffer, ref: string): Promise<string> {
    const res = await this.call({ method: 'POST', path: '/images/create', query: { fromSrc: '-', repo: ref }, raw: tar, contentType: 'application/x-tar' }, `import image ${ref}`, true);
    const text = await res.body.text();
    const m = /"status":\s*"(?:sha256:)?([0-9a-f]{12,})/.exec(text) ?? /"id":\s*"(?:sha256:)?([0-9a-f]{12,})/i.exec(text);
    const err = /"error":\s*"([^"]*)"/.exec(text);
    if (err) throw new RuntimeError(`import image ${ref}`, res.statusCode, err[1]);
    return m?.[1] ?? ref;
  }

  async loadImages(tar: Readable | Buffer): Promise<string[]> {
    const res = await this.call({ method: 'POST', path: '/images/load', raw: tar, contentType: 'application/x-tar' }, 'load images', true);
    const text = await res.body.text();
    const names: string[] = [];
    for (const m of text.matchAll(/Loaded image(?:\(s\))?: ([^\s"\\]+)/g)) names.push(...m[1].split(',').map(shortName));
    const err = /"error":\s*"([^"]*)"/.exec(text);
    if (err) throw new RuntimeError('load images', res.statusCode, err[1]);
    return names;
  }

  async listNetworks(): Promise<NetworkInfo[]> {
    const rows = (await this.json({ method: 'GET', path: '/networks' }, 'list networks')) as { Id: string; Name: string; Labels?: Record<string, string> | null; IPAM?: { Config?: { Subnet?: string }[] | null } }[];
    return rows.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {}, subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter(Boolean) }));
  }

  async inspectNetwork(name: string): Promise<NetworkInfo | undefined> {
    const res = await this.call({ method: 'GET', path: `/networks/${name}`, ok: [404] }, `inspect network ${name}`);
    if (res.statusCode === 404) { await res.body.dump(); return undefined; }
    const n = (await res.body.json()) as { Id: string; Name: string; Labels?: Record<string, string> | null; IPAM?: { Config?: { Subnet?: string }[] | null } };
    return { id: n.Id, name: n.Name, labels: n.Labels ?? {}, subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter(Boolean) };
  }

  async createNetwork(spec: NetworkSpec): Promise<void> {
    await this.drain({
      method: 'POST', path: '/networks/create',
      body: { Name: spec.name, Driver: 'bridge', CheckDuplicate: true, Labels: spec.labels, IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway }] } },
    }, `create network ${spec.name}`);
  }

  async removeNetwork(name: string): Promise<void> {
    await this.drain({ method: 'DELETE', path: `/networks/${name}`, ok: [404] }, `remove network ${name}`);
  }

  // ---- transport ------------------------------------------------------------

  private async json(call: Call, operation: string): Promise<unknown> {
    const res = await this.call(call, operation);
    return res.body.json();
  }

  private async drain(call: Call, operation: string): Promise<void> {
    const res = await this.call(call, operation);
    await res.body.dump();
  }

  private async call(call: Call, operation: string, stream = false): Promise<Dispatcher.ResponseData> {
    if (!this.prefix) await this.version();
    return this.send({ ...call, path: `${this.prefix}${call.path}` }, operation, stream);
  }

  private async send(call: Call, operation: string, stream = false): Promise<Dispatcher.ResponseData> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) search.set(k, String(typeof v === 'boolean' ? (v ? 1 : 0) : v));
    const qs = search.toString();
    const headers: Record<string, string> = {};
    let body: string | Buffer | Readable | undefined;
    if (call.raw !== undefined) { body = call.raw; headers['content-type'] = call.contentType ?? 'application/octet-stream'; }
    else if (call.body !== undefined) { body = JSON.stringify(call.body); headers['content-type'] = 'application/json'; }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(stream ? this.streams : call.waits ? this.waits : this.pool, { method: call.method, path: qs ? `${call.path}?${qs}` : call.path, headers, body, signal: call.signal });
    } catch (err) {
      throw new RuntimeError(operation, 0, `${(err as Error).message} (socket ${this.socketPath})`);
    }
    if (res.statusCode >= 300 && !(call.ok ?? []).includes(res.statusCode)) {
      const text = await res.body.text().catch(() => '');
      let message = text.trim();
      try { message = (JSON.parse(text) as { message?: string }).message ?? message; } catch { /* plain text */ }
      throw new RuntimeError(operation, res.statusCode, message || `HTTP ${res.statusCode}`);
    }
    return res;
  }
}

function validTime(t: string | undefined): string | undefined {
  return !t || t.startsWith('0001-01-01') ? undefined : new Date(t).toISOString();
}

/** "docker.io/library/busybox:1" and "localhost/coxswain/busybox:1" → how the manifest names it. */
export function shortName(tag: string): string {
  return tag.replace(/^(docker\.io\/library\/|docker\.io\/|localhost\/)/, '');
}

export function splitRef(ref: string): { name: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { name: ref.slice(0, at), tag: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: 'latest' };
}
