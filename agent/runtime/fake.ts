/**
 * An in-memory container runtime for unit tests of the pod logic and the
 * server: containers get ids, states and IPs; tests make them exit with
 * `exit(id, code)`. No processes run.
 */
import { Readable } from 'node:stream';
import { RuntimeError } from '../../common/errors.ts';
import type { ContainerCreateBody, ContainerInfo, ContainerRuntime, ContainerStats, ContainerSummary, ExecResult, ImageInfo, LogOptions, NetworkInfo, NetworkSpec, RuntimeVersion } from './types.ts';

export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, ContainerInfo & { body: ContainerCreateBody; logs: string }>();
  readonly images = new Map<string, string>([['coxswain/busybox:1', 'sha256:busybox'], ['coxswain/pause:1', 'sha256:pause']]);
  /** Config.User of images, by ref (absent: "", the image runs as root). */
  readonly imageUsers = new Map<string, string>();
  readonly networks: NetworkInfo[] = [];
  readonly calls: string[] = [];
  private serial = 0;
  private ip = 1;
  /** Images whose pull fails, with the message. */
  readonly pullFailures = new Map<string, string>();

  async version(): Promise<RuntimeVersion> {
    return { runtimeVersion: 'fake://1.0', apiVersion: '1.41', os: 'linux', arch: 'amd64', kernelVersion: '6.1' };
  }

  async listContainers(label: string): Promise<ContainerSummary[]> {
    const [k, v] = label.split('=');
    return [...this.containers.values()].filter((c) => (v === undefined ? k in c.labels : c.labels[k] === v)).map((c) => ({ id: c.id, name: c.name, labels: c.labels, state: c.state.status }));
  }

  async inspectContainer(id: string): Promise<ContainerInfo | undefined> {
    const c = this.find(id);
    return c ? structuredClone({ ...c, body: undefined, logs: undefined }) as ContainerInfo : undefined;
  }

  async createContainer(name: string, body: ContainerCreateBody): Promise<string> {
    this.calls.push(`create ${name}`);
    if ([...this.containers.values()].some((c) => c.name === name)) throw new RuntimeError(`create container ${name}`, 409, 'name in use');
    if (!this.images.has(body.Image)) throw new RuntimeError(`create container ${name}`, 404, `no such image ${body.Image}`);
    const id = `c${String(++this.serial).padStart(63, '0')}`;
    const infra = body.HostConfig.NetworkMode?.startsWith('container:') ? this.find(body.HostConfig.NetworkMode.slice(10)) : undefined;
    const onPodNetwork = !infra && body.HostConfig.NetworkMode !== 'host';
    this.containers.set(id, {
      id, name, image: body.Image, imageID: this.images.get(body.Image)!, labels: body.Labels ?? {}, networkMode: body.HostConfig.NetworkMode ?? '',
      state: { status: 'created', running: false, exitCode: 0, oomKilled: false, error: '', pid: 0 },
      ipAddresses: !onPodNetwork ? {} : { fake: `100.64.1.${++this.ip}` }, created: new Date(Date.now() + this.serial).toISOString(), body, logs: '',
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.calls.push(`start ${this.find(id)?.name}`);
    const c = this.mustFind(id, 'start');
    c.state = { ...c.state, status: 'running', running: true, startedAt: new Date().toISOString(), finishedAt: undefined, pid: 100 + this.serial };
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const c = this.find(id);
    this.calls.push(`stop ${c?.name} t=${timeoutSeconds}`);
    if (c?.state.running) this.exit(id, 143);
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.find(id);
    if (!c) return;
    this.calls.push(`remove ${c.name}`);
    if ([...this.containers.values()].some((o) => o.networkMode === `container:${c.id}`)) throw new RuntimeError(`remove container ${id}`, 500, 'has dependent containers');
    this.containers.delete(c.id);
  }

  async logs(id: string, _o: LogOptions): Promise<Readable> {
    return Readable.from([this.mustFind(id, 'logs').logs]);
  }

  async exec(id: string, cmd: string[]): Promise<ExecResult> {
    this.mustFind(id, 'exec');
    return { exitCode: cmd[0] === 'true' ? 0 : 1, stdout: '', stderr: '' };
  }

  async stats(id: string): Promise<ContainerStats | undefined> {
    return this.find(id)?.state.running ? { cpuTotalNs: 1e9, readAtMs: Date.now(), memoryUsageBytes: 2 ** 20, memoryWorkingSetBytes: 2 ** 20 } : undefined;
  }

  async listImages(): Promise<ImageInfo[]> {
    return [...this.images].map(([tag, id]) => ({ id, tags: [tag] }));
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    const id = this.images.get(ref);
    return id ? { id, tags: [ref], user: this.imageUsers.get(ref) ?? '' } : undefined;
  }

  async pullImage(ref: string): Promise<void> {
    const failure = this.pullFailures.get(ref);
    if (failure) throw new RuntimeError(`pull image ${ref}`, 500, failure);
    this.images.set(ref, `sha256:${ref}`);
  }

  async importImage(_tar: Readable | Buffer, ref: string): Promise<string> {
    this.images.set(ref, `sha256:${ref}`);
    return ref;
  }

  async loadImages(): Promise<string[]> {
    return [];
  }

  async listNetworks(): Promise<NetworkInfo[]> {
    return this.networks;
  }

  async inspectNetwork(name: string): Promise<NetworkInfo | undefined> {
    return this.networks.find((n) => n.name === name);
  }

  async createNetwork(spec: NetworkSpec): Promise<void> {
    this.networks.push({ id: `net-${spec.name}`, name: spec.name, subnets: [spec.subnet], labels: spec.labels });
  }

  async removeNetwork(name: string): Promise<void> {
    const i = this.networks.findIndex((n) => n.name === name);
    if (i >= 0) this.networks.splice(i, 1);
  }

  /** Makes a running container exit with `code` (a crash, or a normal end). */
  exit(id: string, code: number, logs = ''): void {
    const c = this.mustFind(id, 'exit');
    c.logs += logs;
    c.state = { ...c.state, status: 'exited', running: false, exitCode: code, finishedAt: new Date().toISOString(), pid: 0 };
  }

  byLabel(key: string, value: string): (ContainerInfo & { body: ContainerCreateBody })[] {
    return [...this.containers.values()].filter((c) => c.labels[key] === value);
  }

  private find(id: string) {
    return this.containers.get(id) ?? [...this.containers.values()].find((c) => c.name === id || c.id.startsWith(id));
  }

  private mustFind(id: string, op: string) {
    const c = this.find(id);
    if (!c) throw new RuntimeError(`${op} container ${id}`, 404, 'no such container');
    return c;
  }
}
