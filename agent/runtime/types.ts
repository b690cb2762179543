/**
 * The narrow interface the agent needs from a container engine. The real one
 * speaks the Docker Engine API (Docker or Podman, see docker.ts); a fake
 * (fake.ts) lets the pod logic be tested without one.
 */
import type { Readable } from 'node:stream';

export interface RuntimeVersion {
  /** Engine name and version as reported, e.g. "podman://4.3.1" or "docker://24.0.7". */
  runtimeVersion: string;
  /** The Docker API version negotiated with the engine, e.g. "1.41". */
  apiVersion: string;
  os: string;
  arch: string;
  kernelVersion: string;
}

/** The fields of a container the agent reads, whichever engine answered. */
export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageID: string;
  labels: Record<string, string>;
  state: {
    status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead' | 'configured' | 'stopped' | string;
    running: boolean;
    exitCode: number;
    oomKilled: boolean;
    error: string;
    startedAt?: string;
    finishedAt?: string;
    pid: number;
  };
  /** HostConfig.NetworkMode: "container:<id>" for containers that share a sandbox. */
  networkMode: string;
  /** IP address on each network, by network name. */
  ipAddresses: Record<string, string>;
  created: string;
}

/** A summary row from the list call: enough to group containers by pod. */
export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: string;
}

export interface ContainerCreateBody {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  /** "uid[:gid]" (or a name the image's /etc/passwd knows). */
  User?: string;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  Hostname?: string;
  StopSignal?: string;
  Tty?: boolean;
  HostConfig: {
    NetworkMode?: string;
    Init?: boolean;
    Memory?: number;
    NanoCpus?: number;
    CpuShares?: number;
    Binds?: string[];
    Tmpfs?: Record<string, string>;
    IpcMode?: string;
    Privileged?: boolean;
    /** Supplementary groups of the container's process. */
    GroupAdd?: string[];
    ReadonlyRootfs?: boolean;
    SecurityOpt?: string[];
    CapAdd?: string[];
    CapDrop?: string[];
    /** "host": the node's UTS namespace (the node's hostname), as with hostNetwork. */
    UTSMode?: string;
    RestartPolicy?: { Name: string };
  };
  NetworkingConfig?: { EndpointsConfig: Record<string, Record<string, unknown>> };
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ContainerStats {
  /** Cumulative CPU time in nanoseconds. */
  cpuTotalNs: number;
  /** Wall-clock time of the sample (ms since epoch). */
  readAtMs: number;
  memoryUsageBytes: number;
  memoryWorkingSetBytes: number;
}

export interface ImageInfo {
  id: string;
  tags: string[];
  /** Config.User: "", "uid", "uid:gid", "name" or "name:group" (who the image runs as when the pod says nothing). */
  user?: string;
}

export interface NetworkSpec {
  name: string;
  subnet: string;
  gateway: string;
  labels: Record<string, string>;
}

export interface NetworkInfo {
  id: string;
  name: string;
  subnets: string[];
  labels: Record<string, string>;
}

export interface LogOptions {
  tail?: number;
  follow?: boolean;
  timestamps?: boolean;
  signal?: AbortSignal;
}

export interface ContainerRuntime {
  version(): Promise<RuntimeVersion>;
  /** Containers (running or not) carrying `label=value`. */
  listContainers(label: string): Promise<ContainerSummary[]>;
  /** undefined when the container does not exist. */
  inspectContainer(id: string): Promise<ContainerInfo | undefined>;
  createContainer(name: string, body: ContainerCreateBody): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Sends the stop signal, then SIGKILL after `timeoutSeconds`. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  /** Demultiplexed output as one text stream (stdout and stderr interleaved in arrival order). */
  logs(id: string, options: LogOptions): Promise<Readable>;
  exec(id: string, cmd: string[], timeoutMs: number): Promise<ExecResult>;
  stats(id: string): Promise<ContainerStats | undefined>;
  listImages(): Promise<ImageInfo[]>;
  /** undefined when the image is not present. */
  inspectImage(ref: string): Promise<ImageInfo | undefined>;
  pullImage(ref: string): Promise<void>;
  /** Imports a root filesystem tar as image `ref` (name:tag). */
  importImage(tar: Readable | Buffer, ref: string): Promise<string>;
  /** Loads a `docker save` archive; returns the names it loaded. */
  loadImages(tar: Readable | Buffer): Promise<string[]>;
  listNetworks(): Promise<NetworkInfo[]>;
  inspectNetwork(name: string): Promise<NetworkInfo | undefined>;
  createNetwork(spec: NetworkSpec): Promise<void>;
  removeNetwork(name: string): Promise<void>;
}
