/**
 * The kubelet loop: converges the containers of this node to the desired
 * pods. It lists the runtime's containers by label (cheaply, every
 * `pollMs`), syncs a pod when its containers changed, a back-off ended, a
 * probe result changed or the desired state changed, and executes the pure
 * decisions of sync.ts. One pod is never synced twice at once. Pods that are
 * no longer desired are torn down in the background: a teardown waits out
 * the pod's grace period, and nothing else (the other pods, the proxy, the
 * next desired state) waits for it. Unlabelled containers are never touched.
 */
import type { Container } from '../../schemas/types.generated.ts';
import { LABELS, type DesiredPod, type NodeDesiredState, type ObservedPod, type PodStatus } from '../../common/agent-api.ts';
import { RuntimeError, describeError } from '../../common/errors.ts';
import type { ContainerInfo, ContainerRuntime } from '../runtime/types.ts';
import { ensurePauseImage } from '../runtime/pause-image.ts';
import { BackOff, DEFAULT_BACKOFF, type BackOffOptions } from './backoff.ts';
import { GRACE_LABEL, INFRA_IMAGE, containerBody, containerName, infraBody } from './container-spec.ts';
import { EnvError } from './env.ts';
import { verifyRunAsNonRoot } from './security-context.ts';
import { decide, teardown, type PodAction, type Waiting } from './sync.ts';
import { applyVolumes, planVolumes, removePodDir } from './volumes.ts';
import { podStatus } from '../status/pod-status.ts';
import { ProbeTracker, timingOf, type ProbeKind } from '../probes/tracker.ts';
import { check } from '../probes/check.ts';
import { cpuRate } from '../stats/index.ts';

export interface KubeletOptions {
  runtime: ContainerRuntime;
  stateDir: string;
  /** Called with every pod status (changed or not: the stream drops no-ops). */
  onPodStatus: (pod: ObservedPod) => void;
  onPodDeleted: (uid: string) => void;
  log: (line: string) => void;
  backoff?: BackOffOptions;
  /** How often the runtime's container list is read to notice exits. */
  pollMs?: number;
  /** The runtime network pods join (from the pod network). */
  network: () => string;
  /** Called once a sandbox runs, before any of its containers start (the pod network pins its bridge). */
  sandboxStarted?: () => Promise<void>;
  runtimeName: () => string;
}

interface PodRecord {
  pod: DesiredPod;
  waiting: Record<string, Waiting>;
  /** Failed pulls by container name: the runtime's message and when. */
  pullErrors: Map<string, { message: string; atMs: number }>;
  /** Containers that cannot be created as specified (a missing secret, an image that may not be pulled). */
  configErrors: Map<string, Waiting>;
  runErrors: Map<string, string>;
  status?: PodStatus;
  requeueAtMs?: number;
  volumesReady: string;
  usage?: { cpuNanoCores: number; memoryBytes: number };
}

interface ProbeEntry {
  tracker: ProbeTracker;
  podUid: string;
  containerId: string;
  container: Container;
  probe: NonNullable<Container['readinessProbe']>;
}

export function imagePullPolicy(c: Container): 'Always' | 'IfNotPresent' | 'Never' {
  if (c.imagePullPolicy) return c.imagePullPolicy;
  const ref = c.image ?? '';
  const tagged = /:[^/]+$/.test(ref.split('@')[0]) || ref.includes('@');
  return !tagged || ref.endsWith(':latest') ? 'Always' : 'IfNotPresent';
}

export class Kubelet {
  private desired: NodeDesiredState | undefined;
  private readonly records = new Map<string, PodRecord>();
  private readonly busy = new Map<string, Promise<void>>();
  /** Work asked for a pod while its work ran: runs once more after it (the newest ask wins). */
  private readonly again = new Map<string, () => Promise<void>>();
  /** Teardowns under way by pod uid: at most one per pod; an error ends it, and the next poll starts another. */
  private readonly teardowns = new Map<string, Promise<void>>();
  private readonly inspected = new Map<string, { state: string; info: ContainerInfo }>();
  private readonly probes = new Map<string, ProbeEntry>();
  private readonly prevStats = new Map<string, { cpuTotalNs: number; readAtMs: number }>();
  private listed = new Map<string, string[]>();
  private lastListKey = new Map<string, string>();
  private readonly backoff: BackOff;
  private readonly pullBackoff: BackOff;
  private timers: NodeJS.Timeout[] = [];
  /** One import of the pause image per agent, however many pods start at once. */
  private pauseImage: Promise<void> | undefined;
  private stopped = false;
  private polling = false;
  readonly counters = { syncs: 0, syncErrors: 0, containerStarts: 0, containerStops: 0, probeChecks: 0, probeFailures: 0, teardownErrors: 0 };

  constructor(private readonly o: KubeletOptions) {
    this.backoff = new BackOff(o.backoff ?? DEFAULT_BACKOFF);
    this.pullBackoff = new BackOff(o.backoff ?? DEFAULT_BACKOFF);
  }

  start(): void {
    this.timers.push(setInterval(() => void this.poll(), this.o.pollMs ?? 2000));
    this.timers.push(setInterval(() => this.runProbes(), 250));
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([...this.busy.values()]);
  }

  /**
   * Takes a new desired state and syncs every desired pod; resolves once those
   * syncs ran. The pods that left are torn down in the background (see
   * `terminating` and `settled`): their grace periods delay nothing here.
   */
  async setDesired(desired: NodeDesiredState): Promise<void> {
    this.desired = desired;
    const uids = new Set(desired.pods.map((p) => p.uid));
    for (const pod of desired.pods) {
      const rec = this.records.get(pod.uid);
      if (rec) rec.pod = pod;
      else this.records.set(pod.uid, { pod, waiting: {}, pullErrors: new Map(), configErrors: new Map(), runErrors: new Map(), volumesReady: '' });
    }
    for (const uid of [...this.records.keys()]) if (!uids.has(uid)) this.records.delete(uid);
    await this.poll(true);
  }

  /** Uids of the pods being torn down now. */
  terminating(): string[] {
    return [...this.teardowns.keys()];
  }

  /** Resolves when the teardowns under way (and those they started) ended, done or failed. */
  async settled(): Promise<void> {
    while (this.teardowns.size > 0) await Promise.allSettled([...this.teardowns.values()]);
  }

  /** Pods as last computed, for the observed snapshot and metrics. */
  statuses(): { pod: DesiredPod; status?: PodStatus }[] {
    return [...this.records.values()].map((r) => ({ pod: r.pod, status: r.status }));
  }

  /** Reads the container list; syncs pods whose containers changed or that are due, removes undesired ones. */
  async poll(all = false): Promise<void> {
    // Before the first desired state (persisted or PUT) nothing is known to be unwanted: touch nothing.
    if (!this.desired || this.stopped || (this.polling && !all)) return;
    this.polling = true;
    try {
      const rows = await this.o.runtime.listContainers(`${LABELS.managed}=true`);
      const byPod = new Map<string, string[]>();
      const stateKey = new Map<string, string>();
      for (const r of rows) {
        const uid = r.labels[LABELS.podUid];
        if (!uid) continue;
        byPod.set(uid, [...(byPod.get(uid) ?? []), r.id]);
        stateKey.set(uid, `${stateKey.get(uid) ?? ''}${r.id}:${r.state};`);
      }
      for (const id of [...this.inspected.keys()]) if (!rows.some((r) => r.id === id)) this.inspected.delete(id);
      for (const r of rows) { const cached = this.inspected.get(r.id); if (cached && cached.state !== r.state) this.inspected.delete(r.id); }
      this.listed = byPod;
      const now = Date.now();
      const work: Promise<void>[] = [];
      for (const [uid, rec] of this.records) {
        const key = stateKey.get(uid) ?? '';
        const changed = this.lastListKey.get(uid) !== key;
        const due = rec.requeueAtMs !== undefined && rec.requeueAtMs <= now;
        if (all || changed || due || !rec.status) { this.lastListKey.set(uid, key); work.push(this.syncPod(uid)); }
      }
      for (const uid of byPod.keys()) if (!this.records.has(uid)) this.teardownPod(uid);
      await Promise.all(work);
    } catch (err) {
      this.counters.syncErrors += 1;
      this.o.log(`kubelet: ${describeError(err)}`);
    } finally {
      this.polling = false;
    }
  }

  /** Serialises work per pod: a sync requested while one runs runs once more after it. */
  private syncPod(uid: string): Promise<void> {
    return this.exclusive(uid, () => this.syncPodNow(uid));
  }

  private exclusive(uid: string, fn: () => Promise<void>): Promise<void> {
    const running = this.busy.get(uid);
    if (running) { this.again.set(uid, fn); return running; }
    const p = (async () => {
      try {
        let next: (() => Promise<void>) | undefined = fn;
        while (next) {
          this.again.delete(uid);
          await next();
          next = this.stopped ? undefined : this.again.get(uid);
        }
      } finally {
        this.busy.delete(uid);
      }
    })();
    this.busy.set(uid, p);
    return p;
  }

  private async containersOf(uid: string): Promise<ContainerInfo[]> {
    const rows = await this.o.runtime.listContainers(`${LABELS.podUid}=${uid}`);
    const infos: ContainerInfo[] = [];
    for (const r of rows) {
      const cached = this.inspected.get(r.id);
      if (cached && cached.state === r.state) { infos.push(cached.info); continue; }
      const info = await this.o.runtime.inspectContainer(r.id);
      if (!info) continue;
      this.inspected.set(r.id, { state: r.state, info });
      infos.push(info);
    }
    return infos;
  }

  private async syncPodNow(uid: string): Promise<void> {
    const rec = this.records.get(uid);
    if (!rec) return;
    this.counters.syncs += 1;
    try {
      for (let round = 0; round < 8; round++) {
        const containers = await this.containersOf(uid);
        const now = Date.now();
        if (round === 0) rec.configErrors.clear();
        const decision = decide({ pod: rec.pod, containers, backoff: this.backoff, nowMs: now, unhealthy: this.unhealthy(uid), blocked: this.blocked(rec, now) });
        rec.waiting = { ...decision.waiting };
        for (const [name, msg] of rec.runErrors) if (!rec.waiting[name] && decision.waiting[name] === undefined) rec.waiting[name] = { reason: 'RunContainerError', message: msg };
        rec.requeueAtMs = decision.requeueAfterMs !== undefined ? now + decision.requeueAfterMs : undefined;
        const blockedFor = this.blockedRequeueMs(rec, now);
        if (blockedFor !== undefined) rec.requeueAtMs = Math.min(rec.requeueAtMs ?? Infinity, now + blockedFor);
        if (decision.actions.length === 0) {
          this.publish(rec, containers);
          return;
        }
        await this.execute(rec, decision.actions, containers);
        if (this.stopped || !this.records.has(uid)) return;
      }
      this.publish(rec, await this.containersOf(uid));
    } catch (err) {
      this.counters.syncErrors += 1;
      this.o.log(`pod ${rec.pod.namespace}/${rec.pod.name}: ${describeError(err)}`);
      rec.requeueAtMs = Date.now() + 2000;
      await this.containersOf(uid).then((containers) => this.publish(rec, containers), () => undefined);
    }
  }

  private blocked(rec: PodRecord, now: number): Map<string, Waiting> {
    const blocked = new Map<string, Waiting>();
    for (const c of [...(rec.pod.spec.initContainers ?? []), ...rec.pod.spec.containers]) {
      const pull = rec.pullErrors.get(c.name);
      if (pull && this.pullBackoff.remaining(`${rec.pod.uid}/${c.name}`, pull.atMs, now) > 0) {
        // Right after a failed pull kubelet shows ErrImagePull; while it waits to retry, ImagePullBackOff.
        blocked.set(c.name, now - pull.atMs < 2000
          ? { reason: 'ErrImagePull', message: pull.message }
          : { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}": ${pull.message}` });
      }
      const config = rec.configErrors.get(c.name);
      if (config) blocked.set(c.name, config);
    }
    return blocked;
  }

  /** When a blocked container should be looked at again: its pull back-off ending, or a config error retried. */
  private blockedRequeueMs(rec: PodRecord, now: number): number | undefined {
    let ms: number | undefined;
    for (const [name, pull] of rec.pullErrors) {
      const age = now - pull.atMs;
      const left = age < 2000 ? 2000 - age : this.pullBackoff.remaining(`${rec.pod.uid}/${name}`, pull.atMs, now);
      ms = Math.min(ms ?? Infinity, Math.max(left, 100));
    }
    if (rec.configErrors.size > 0) ms = Math.min(ms ?? Infinity, 5000);
    return ms;
  }

  private unhealthy(uid: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const e of this.probes.values()) {
      if (e.podUid !== uid) continue;
      if ((e.tracker.kind === 'liveness' || e.tracker.kind === 'startup') && e.tracker.result === 'failure') {
        out.set(e.containerId, `${e.tracker.kind === 'liveness' ? 'Liveness' : 'Startup'} probe failed: ${e.tracker.message}`);
      }
    }
    return out;
  }

  private async execute(rec: PodRecord, actions: PodAction[], containers: ContainerInfo[]): Promise<void> {
    const pod = rec.pod;
    // Consecutive stops run together, so a pod's containers share one grace period.
    for (let i = 0; i < actions.length;) {
      const a = actions[i];
      if (a.type === 'stopContainer') {
        const stops: PodAction[] = [];
        while (i < actions.length && actions[i].type === 'stopContainer') stops.push(actions[i++]);
        await Promise.all(stops.map(async (s) => {
          if (s.type !== 'stopContainer') return;
          this.o.log(`pod ${pod.namespace}/${pod.name}: stopping ${s.container} (${s.reason}, grace ${s.graceSeconds}s)`);
          this.counters.containerStops += 1;
          await this.o.runtime.stopContainer(s.id, s.graceSeconds);
          this.inspected.delete(s.id);
          this.dropProbes(s.id);
        }));
        continue;
      }
      i += 1;
      if (a.type === 'removeContainer') {
        await this.o.runtime.removeContainer(a.id);
        this.inspected.delete(a.id);
        this.dropProbes(a.id);
      } else if (a.type === 'createInfra') {
        await this.createInfra(rec);
      } else if (a.type === 'startContainer') {
        await this.startContainer(rec, a, containers);
      }
    }
  }

  private async createInfra(rec: PodRecord): Promise<void> {
    const pod = rec.pod;
    this.pauseImage ??= ensurePauseImage(this.o.runtime, INFRA_IMAGE).catch((err) => { this.pauseImage = undefined; throw err; });
    await this.pauseImage;
    const name = `cox_${pod.namespace}_${pod.name}_infra_${pod.uid.slice(0, 8)}_${Date.now().toString(36)}`;
    const id = await this.o.runtime.createContainer(name, infraBody(pod, this.o.network()));
    await this.o.runtime.startContainer(id);
    this.o.log(`pod ${pod.namespace}/${pod.name}: sandbox ${id.slice(0, 12)} started`);
    await this.o.sandboxStarted?.().catch((err) => this.o.log(`pod ${pod.namespace}/${pod.name}: after the sandbox started: ${describeError(err)}`));
  }

  private async startContainer(rec: PodRecord, a: Extract<PodAction, { type: 'startContainer' }>, containers: ContainerInfo[]): Promise<void> {
    const pod = rec.pod;
    const spec = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === a.container)!;
    const now = Date.now();
    // Image, by pull policy.
    const policy = imagePullPolicy(spec);
    let present = await this.o.runtime.inspectImage(spec.image);
    if (policy === 'Never' && !present) {
      rec.configErrors.set(spec.name, { reason: 'ErrImageNeverPull', message: `Container image "${spec.image}" is not present with pull policy of Never` });
      return;
    }
    if (policy === 'Always' || !present) {
      try {
        await this.o.runtime.pullImage(spec.image);
        rec.pullErrors.delete(spec.name);
        present = await this.o.runtime.inspectImage(spec.image);
      } catch (err) {
        this.pullBackoff.next(`${pod.uid}/${spec.name}`, now);
        rec.pullErrors.set(spec.name, { message: describeError(err), atMs: now });
        this.o.log(`pod ${pod.namespace}/${pod.name}: pulling ${spec.image} failed: ${describeError(err)}`);
        return;
      }
    }
    // kubelet refuses such a container before creating it: CreateContainerConfigError, looked at again like the others.
    const nonRoot = verifyRunAsNonRoot(pod, spec, present?.user);
    if (nonRoot) {
      rec.configErrors.set(spec.name, { reason: 'CreateContainerConfigError', message: nonRoot });
      return;
    }
    // Volumes and the create body.
    const plan = planVolumes(pod, this.o.stateDir);
    const infra = containers.find((c) => c.id === a.infraId);
    const podIP = pod.spec.hostNetwork ? this.desired?.nodeAddress : infra ? Object.values(infra.ipAddresses)[0] : undefined;
    let body;
    try {
      if (plan.error) throw new EnvError(plan.error);
      const volumesKey = JSON.stringify(plan.files.map((f) => [f.path, f.content, f.mode]));
      if (rec.volumesReady !== volumesKey) { await applyVolumes(plan); rec.volumesReady = volumesKey; }
      body = containerBody(pod, spec, a.role, a.attempt, a.infraId, plan, { podIP, hostIP: this.desired?.nodeAddress, nodeName: this.desired?.node, shareHostname: this.o.runtimeName() === 'podman', imageUser: present?.user });
      rec.configErrors.delete(spec.name);
    } catch (err) {
      if (!(err instanceof EnvError)) throw err;
      rec.configErrors.set(spec.name, { reason: 'CreateContainerConfigError', message: err.message });
      return;
    }
    const name = containerName(pod, spec.name, a.attempt);
    let id: string;
    try {
      id = await this.o.runtime.createContainer(name, body);
    } catch (err) {
      if (!(err instanceof RuntimeError && err.data.status === 409)) throw err;
      // A container of that name survived a crash of ours: it is our own (same pod uid and attempt), replace it.
      await this.o.runtime.removeContainer(name);
      id = await this.o.runtime.createContainer(name, body);
    }
    try {
      await this.o.runtime.startContainer(id);
      rec.runErrors.delete(spec.name);
      this.counters.containerStarts += 1;
      this.o.log(`pod ${pod.namespace}/${pod.name}: ${a.role} container ${spec.name} attempt ${a.attempt} started (${id.slice(0, 12)})`);
    } catch (err) {
      rec.runErrors.set(spec.name, describeError(err));
      this.o.log(`pod ${pod.namespace}/${pod.name}: starting ${spec.name} failed: ${describeError(err)}`);
    }
  }

  private publish(rec: PodRecord, containers: ContainerInfo[]): void {
    // Trackers first: a running container whose probe has no tracker yet would count as ready (and started).
    this.trackProbes(rec, containers);
    const status = podStatus({
      pod: rec.pod, containers, waiting: rec.waiting, hostIP: this.desired?.nodeAddress ?? '',
      runtimeName: this.o.runtimeName(), nowIso: new Date().toISOString(), previous: rec.status,
      probes: {
        ready: (id) => this.probeResult(id, 'readiness'),
        started: (id) => this.probeResult(id, 'startup'),
      },
    });
    rec.status = status;
    this.o.onPodStatus({ uid: rec.pod.uid, name: rec.pod.name, namespace: rec.pod.namespace, status, ...(rec.usage ? { usage: rec.usage } : {}) });
  }

  private probeResult(containerId: string, kind: ProbeKind): boolean | undefined {
    const e = this.probes.get(`${containerId}/${kind}`);
    return e ? e.tracker.result === 'success' : undefined;
  }

  // ---- probes ---------------------------------------------------------------

  private trackProbes(rec: PodRecord, containers: ContainerInfo[]): void {
    for (const c of containers) {
      if (!c.state.running || c.labels[LABELS.containerRole] !== 'app') continue;
      const spec = rec.pod.spec.containers.find((s) => s.name === c.labels[LABELS.containerName]);
      if (!spec) continue;
      const started = Date.parse(c.state.startedAt ?? '') || Date.now();
      for (const [kind, probe] of [['startup', spec.startupProbe], ['liveness', spec.livenessProbe], ['readiness', spec.readinessProbe]] as const) {
        const key = `${c.id}/${kind}`;
        if (!probe || this.probes.has(key)) continue;
        this.probes.set(key, { tracker: new ProbeTracker(kind, timingOf(probe), started), podUid: rec.pod.uid, containerId: c.id, container: spec, probe });
      }
    }
  }

  private dropProbes(containerId: string): void {
    for (const k of ['startup', 'liveness', 'readiness']) this.probes.delete(`${containerId}/${k}`);
  }

  private runProbes(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const e of this.probes.values()) {
      const t = e.tracker;
      // A startup probe gates the others until it succeeds.
      if (t.kind !== 'startup') {
        const startup = this.probes.get(`${e.containerId}/startup`);
        if (startup && startup.tracker.result !== 'success') continue;
      } else if (t.result === 'success') continue;
      if (!t.due(now)) continue;
      const rec = this.records.get(e.podUid);
      const podIP = rec?.status?.podIP;
      if (!rec || !podIP) continue;
      t.started(now);
      this.counters.probeChecks += 1;
      void check(e.probe, { podIP, containerId: e.containerId, container: e.container, runtime: this.o.runtime, timeoutMs: t.timing.timeoutMs }).then((r) => {
        if (!r.ok) this.counters.probeFailures += 1;
        if (t.record(r.ok, r.message) && this.probes.get(`${e.containerId}/${t.kind}`) === e) {
          this.o.log(`pod ${rec.pod.namespace}/${rec.pod.name}: ${t.kind} probe of ${e.container.name} is now ${t.result}${r.message ? `: ${r.message}` : ''}`);
          void this.syncPod(e.podUid);
        }
      });
    }
  }

  // ---- teardown -------------------------------------------------------------

  /**
   * Starts tearing down a pod no longer desired, unless its teardown is under
   * way. Runs in the background, serialised with the pod's other work; until
   * its containers are gone the pod stays in observed state (with its last
   * status: Kubernetes' terminating pod), then onPodDeleted drops it. A
   * failure is logged and the next poll, which still lists the pod's
   * containers, tries again.
   */
  private teardownPod(uid: string): void {
    if (this.teardowns.has(uid) || this.stopped) return;
    const run = this.exclusive(uid, () => this.teardownNow(uid))
      .catch((err) => {
        this.counters.teardownErrors += 1;
        this.o.log(`pod ${uid}: teardown failed, retried on the next sync: ${describeError(err)}`);
      })
      .finally(() => { if (this.teardowns.get(uid) === run) this.teardowns.delete(uid); });
    this.teardowns.set(uid, run);
  }

  private async teardownNow(uid: string): Promise<void> {
    if (this.records.has(uid)) return;
    const containers = await this.containersOf(uid);
    const grace = Number(containers.find((c) => c.labels[GRACE_LABEL])?.labels[GRACE_LABEL] ?? 30);
    const name = containers[0] ? `${containers[0].labels[LABELS.podNamespace]}/${containers[0].labels[LABELS.podName]}` : uid;
    this.o.log(`pod ${name}: no longer desired, stopping ${containers.length} container(s)`);
    await this.execute({ pod: { uid, name, namespace: '', spec: { containers: [] } } as unknown as DesiredPod, waiting: {}, pullErrors: new Map(), configErrors: new Map(), runErrors: new Map(), volumesReady: '' }, teardown(containers, grace), containers);
    await removePodDir(this.o.stateDir, uid);
    this.backoff.forget(`${uid}/`);
    this.pullBackoff.forget(`${uid}/`);
    this.lastListKey.delete(uid);
    this.o.onPodDeleted(uid);
  }

  // ---- usage ----------------------------------------------------------------

  /** Samples CPU and memory of every running app container (cAdvisor-style) into each pod's usage. */
  async sampleUsage(): Promise<Map<string, { namespace: string; pod: string; container: string; cpuNanoCores: number; cpuSeconds: number; memoryBytes: number }>> {
    const perContainer = new Map<string, { namespace: string; pod: string; container: string; cpuNanoCores: number; cpuSeconds: number; memoryBytes: number }>();
    for (const rec of this.records.values()) {
      let cpu = 0;
      let mem = 0;
      const ids = (this.listed.get(rec.pod.uid) ?? []).map((id) => this.inspected.get(id)?.info).filter((c): c is ContainerInfo => !!c && c.state.running && c.labels[LABELS.containerRole] === 'app');
      for (const c of ids) {
        const s = await this.o.runtime.stats(c.id).catch(() => undefined);
        if (!s) continue;
        const rate = cpuRate(this.prevStats.get(c.id), s);
        this.prevStats.set(c.id, s);
        cpu += rate;
        mem += s.memoryWorkingSetBytes;
        perContainer.set(c.id, { namespace: rec.pod.namespace, pod: rec.pod.name, container: c.labels[LABELS.containerName] ?? '', cpuNanoCores: rate, cpuSeconds: s.cpuTotalNs / 1e9, memoryBytes: s.memoryWorkingSetBytes });
      }
      rec.usage = { cpuNanoCores: cpu, memoryBytes: mem };
    }
    for (const id of [...this.prevStats.keys()]) if (!perContainer.has(id)) this.prevStats.delete(id);
    return perContainer;
  }

  /** The container to read logs from: `previous` is the attempt before the newest. */
  async logTarget(namespace: string, name: string, container: string | undefined, previous: boolean): Promise<ContainerInfo | undefined> {
    const rec = [...this.records.values()].find((r) => r.pod.namespace === namespace && r.pod.name === name);
    const uid = rec?.pod.uid;
    if (!uid) return undefined;
    const wanted = container ?? rec.pod.spec.containers[0]?.name;
    const list = (await this.containersOf(uid)).filter((c) => c.labels[LABELS.containerName] === wanted && c.labels[LABELS.containerRole] !== 'infra')
      .sort((a, b) => Number(b.labels['io.coxswain.container.restart-count'] ?? 0) - Number(a.labels['io.coxswain.container.restart-count'] ?? 0));
    return previous ? list[1] : list[0];
  }
}
