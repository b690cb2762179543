/**
 * The agent daemon: the accepted desired state, the pod network, the
 * kubelet, the service proxy and the observed stream, wired together.
 * On start it loads the persisted desired state and adopts what runs.
 */
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import type { NodeCondition, NodeDesiredState, ProxyTable } from '../common/agent-api.ts';
import { describeError } from '../common/errors.ts';
import { ObservedStream } from './events/index.ts';
import { PodNetwork } from './network/index.ts';
import { Kubelet } from './pods/kubelet.ts';
import type { BackOffOptions } from './pods/backoff.ts';
import type { ContainerRuntime } from './runtime/types.ts';
import { DesiredStateStore } from './state.ts';
import { DEFAULT_THRESHOLDS, allocatableOf, capacityOf, pressureConditions, readNodeUsage, type NodeUsage, type Thresholds } from './stats/index.ts';
import { AGENT_VERSION } from './version.ts';
import type { Proxier } from './proxy/types.ts';

export interface DaemonOptions {
  runtime: ContainerRuntime;
  stateDir: string;
  log: (line: string) => void;
  backoff?: BackOffOptions;
  pollMs?: number;
  heartbeatMs?: number;
  statsMs?: number;
  thresholds?: Thresholds;
  /** Makes the proxier for a mode; the default loads agent/proxy. */
  proxierFactory?: (mode: NodeDesiredState['proxyMode']) => Promise<Proxier>;
  /** Disk whose free space makes DiskPressure (the container store). */
  diskPath?: string;
  /** Runs the pod network's commands (ip, nft, sysctl); the default runs them on this host. */
  networkExec?: (argv: string[], input?: string) => Promise<string>;
}

export class AgentDaemon {
  readonly store: DesiredStateStore;
  readonly stream: ObservedStream;
  readonly kubelet: Kubelet;
  readonly network: PodNetwork;
  private proxier: Proxier | undefined;
  private proxierMode: string | undefined;
  private timers: NodeJS.Timeout[] = [];
  private converging: Promise<void> = Promise.resolve();
  private networkError: string | undefined;
  private runtimeError: string | undefined;
  private convergedGeneration = 0;
  /** "podman" or "docker": the scheme of containerIDs in pod status. */
  private runtimeName = 'docker';
  usage: NodeUsage | undefined;
  containerUsage = new Map<string, { namespace: string; pod: string; container: string; cpuNanoCores: number; cpuSeconds: number; memoryBytes: number }>();
  readonly counters = { desiredAccepted: 0, desiredRefused: 0, convergeErrors: 0, lastConvergeMs: 0 };

  constructor(private readonly o: DaemonOptions) {
    this.store = new DesiredStateStore(o.stateDir);
    this.stream = new ObservedStream({
      node: os.hostname(), generation: 0, agent: AGENT_VERSION,
      info: { hostname: os.hostname(), osImage: '', kernelVersion: os.release(), architecture: os.arch() === 'x64' ? 'amd64' : os.arch(), containerRuntimeVersion: '', operatingSystem: 'linux' },
      capacity: { cpu: '0', memory: '0', pods: '0' }, allocatable: { cpu: '0', memory: '0', pods: '0' },
      conditions: [], images: [], pods: [], proxy: { mode: 'none', services: [] }, heartbeatTime: new Date().toISOString(),
    });
    this.network = new PodNetwork(o.runtime, o.networkExec);
    this.kubelet = new Kubelet({
      runtime: o.runtime, stateDir: o.stateDir, log: o.log, backoff: o.backoff, pollMs: o.pollMs,
      network: () => this.network.network ?? 'coxswain',
      sandboxStarted: () => this.network.pinBridge(),
      runtimeName: () => this.runtimeName,
      onPodStatus: (pod) => this.stream.setPod(pod),
      onPodDeleted: (uid) => this.stream.deletePod(uid),
    });
  }

  async start(): Promise<void> {
    this.stream.state.info.osImage = await osImage();
    try {
      const v = await this.o.runtime.version();
      this.stream.state.info.containerRuntimeVersion = v.runtimeVersion;
      this.runtimeName = v.runtimeVersion.split(':')[0];
      this.o.log(`runtime ${v.runtimeVersion}, Docker API ${v.apiVersion}`);
    } catch (err) {
      this.runtimeError = describeError(err);
      this.o.log(`runtime: ${this.runtimeError}`);
    }
    const desired = await this.store.load();
    if (desired) this.o.log(`loaded desired generation ${desired.generation} (${desired.pods.length} pods) from ${this.store.file}`);
    await this.refreshNode();
    this.kubelet.start();
    // Converging what was persisted may take long (many pods): the API is served meanwhile, and a PUT queues behind it.
    if (desired) void this.converge(desired);
    const every = (ms: number, fn: () => Promise<void> | void) => { const t = setInterval(() => void Promise.resolve(fn()).catch((e) => this.o.log(describeError(e))), ms); t.unref(); this.timers.push(t); };
    every(this.o.heartbeatMs ?? 10_000, () => this.stream.heartbeat());
    every(this.o.statsMs ?? 15_000, () => this.refreshNode());
    // The full desired state is re-applied now and then, the pod network checked against the kernel: a route or nft table removed by hand comes back.
    every(60_000, () => { const d = this.store.get(); if (d) return this.converge(d, true); });
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.kubelet.stop();
  }

  /** PUT /v1/desired: fenced by generation, durable before it answers, converged in the background. */
  async accept(desired: NodeDesiredState): Promise<number> {
    try {
      await this.store.accept(desired);
    } catch (err) {
      this.counters.desiredRefused += 1;
      throw err;
    }
    this.counters.desiredAccepted += 1;
    void this.converge(desired);
    return desired.generation;
  }

  /** With `resync`, the pod network is read back from the kernel and repaired where it differs, even when the desired state did not change. */
  private converge(desired: NodeDesiredState, resync = false): Promise<void> {
    const run = this.converging.then(async () => {
      const started = Date.now();
      this.stream.state.node = desired.node;
      try {
        await this.network.sync(desired, { resync });
        this.networkError = undefined;
      } catch (err) {
        this.networkError = describeError(err);
        this.o.log(this.networkError);
      }
      // The proxy first: its endpoints come from the engine, not from the pods here, so it never waits for
      // the kubelet (a pull, a restart's grace period); an endpoint that left stops taking traffic before its pod stops.
      await this.syncProxy(desired);
      await this.kubelet.setDesired(desired);
      this.convergedGeneration = desired.generation;
      this.counters.lastConvergeMs = Date.now() - started;
      await this.refreshNode(false);
    }).catch((err) => {
      this.counters.convergeErrors += 1;
      this.o.log(`converge generation ${desired.generation}: ${describeError(err)}`);
    });
    this.converging = run;
    return run;
  }

  private async syncProxy(desired: NodeDesiredState): Promise<void> {
    let table: ProxyTable;
    try {
      if (!this.proxier || this.proxierMode !== desired.proxyMode) {
        if (this.proxier) await this.proxier.cleanup();
        this.proxier = await (this.o.proxierFactory ?? defaultProxier)(desired.proxyMode);
        this.proxierMode = desired.proxyMode;
      }
      table = await this.proxier.sync(desired.services, { nodeAddress: desired.nodeAddress, podCIDR: desired.podCIDR, clusterCIDR: desired.clusterCIDR });
    } catch (err) {
      this.o.log(`proxy: ${describeError(err)}`);
      return;
    }
    this.stream.setProxy(table);
  }

  /** Node usage, conditions and images; with `sample` also per-container usage. */
  async refreshNode(sample = true): Promise<void> {
    const t = this.o.thresholds ?? DEFAULT_THRESHOLDS;
    if (sample || !this.usage) {
      this.usage = await readNodeUsage(this.o.diskPath ?? '/var/lib/containers').catch(() => this.usage);
      if (sample) this.containerUsage = await this.kubelet.sampleUsage().catch(() => this.containerUsage);
    }
    let images = this.stream.state.images;
    try {
      images = (await this.o.runtime.listImages()).flatMap((i) => i.tags).sort();
      this.runtimeError = undefined;
    } catch (err) {
      this.runtimeError = describeError(err);
    }
    const now = new Date().toISOString();
    const prev = new Map(this.stream.state.conditions.map((c) => [c.type, c]));
    const mk = (c: NodeCondition): NodeCondition => ({ ...c, lastTransitionTime: prev.get(c.type)?.status === c.status ? prev.get(c.type)!.lastTransitionTime : now });
    const ready: NodeCondition = this.runtimeError
      ? { type: 'Ready', status: 'False', reason: 'ContainerRuntimeNotReady', message: this.runtimeError }
      : { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'cox-agent is posting ready status' };
    const network: NodeCondition = this.networkError
      ? { type: 'NetworkUnavailable', status: 'True', reason: 'NetworkSetupFailed', message: this.networkError }
      : { type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated', message: 'pod network and routes are in place' };
    const conditions = [ready, ...(this.usage ? pressureConditions(this.usage, t) : []), network].map(mk);
    this.stream.setNode({
      generation: this.convergedGeneration,
      conditions,
      capacity: this.usage ? capacityOf(this.usage) : this.stream.state.capacity,
      allocatable: this.usage ? allocatableOf(this.usage, t) : this.stream.state.allocatable,
      images,
    });
    // Usage is live data: it is updated in place and never makes a change on its own.
    for (const { pod, status } of this.kubelet.statuses()) {
      const observed = this.stream.state.pods.find((p) => p.uid === pod.uid);
      if (observed && status) {
        const u = [...this.containerUsage.values()].filter((c) => c.namespace === pod.namespace && c.pod === pod.name);
        observed.usage = { cpuNanoCores: u.reduce((s, c) => s + c.cpuNanoCores, 0), memoryBytes: u.reduce((s, c) => s + c.memoryBytes, 0) };
      }
    }
  }
}

async function defaultProxier(mode: NodeDesiredState['proxyMode']): Promise<Proxier> {
  const { createProxier } = await import('./proxy/index.ts');
  return createProxier(mode);
}

async function osImage(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
}
