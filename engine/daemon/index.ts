/**
 * The engine loop. Events (a new desired commit, an agent's report, a host
 * connecting or failing) only trigger a pass; a pass re-reads everything by
 * level: the last valid desired commit, what agents report folded into
 * observed, the controllers' next observed state and per-node desired
 * states. Changed node states are PUT with a generation that is monotonic per
 * node (above what the agent already accepted and above the wall clock in
 * milliseconds, so it survives engine restarts); observed changes go to the
 * status branch.
 */
import { StaleGeneration, describeError } from '../../common/errors.ts';
import type { DesiredPod, NodeDesiredState } from '../../common/agent-api.ts';
import type { ObservedState } from '../model.ts';
import type { Logger } from '../log.ts';
import type { EngineMetrics } from '../metrics.ts';
import { BoundedFrequencyRunner } from './runner.ts';
import { applyWatch, foldAgents, stateKey, withAdoptionAnnotations, type NodeRuntime } from './agent-view.ts';
import type { DesiredFeed, DesiredObject, FleetEvent, HostFleet, ReconcileFn, StatusSink } from './ports.ts';

export interface EngineOptions {
  feed: DesiredFeed;
  fleet: HostFleet;
  status: StatusSink;
  reconcile: ReconcileFn;
  /** Observed state restored from the status branch. */
  initialObserved: ObservedState;
  log: Logger;
  metrics: EngineMetrics;
  now?: () => Date;
  /** Minimum time between two passes. */
  minIntervalMs?: number;
  /** How long the first pass waits for every Node to be reached (so adoption sees every agent's pods). */
  connectGraceMs?: number;
}

export interface PassSummary {
  commit?: string;
  refusedCommit?: string;
  actions: number;
  puts: number;
  observed: ObservedState;
}

/** How long a deleted pod may keep running while proxies drop its endpoints, at most. */
const DRAIN_MAX_MS = 10_000;
/** How long a node's next state waits for the previous one to converge, at most. */
const CONVERGE_WAIT_MS = 5_000;

interface Draining {
  node: string;
  since: number;
  pod: DesiredPod;
  /** Per node, the generation whose convergence means its proxy no longer routes to the pod (set after the PUTs). */
  waitFor?: Map<string, number>;
}

export class Engine {
  private observed: ObservedState;
  private readonly runtimes = new Map<string, NodeRuntime>();
  private readonly generations = new Map<string, number>();
  private readonly runner: BoundedFrequencyRunner;
  private readonly now: () => Date;
  private nodesKey = '';
  private startedAt = 0;
  private settled = false;
  private reasons = new Set<string>();
  private lastRefused: string | undefined;
  private lastApplied: string | undefined;
  private readonly listeners: Array<(pass: PassSummary) => void> = [];
  /** The pod as last sent to its node, by uid (what a draining pod is re-sent as). */
  private readonly lastSentPods = new Map<string, DesiredPod>();
  /** Deleted pods kept running on their node until every node's proxy has dropped their endpoints. */
  private readonly draining = new Map<string, Draining>();
  /** Deleted pods whose draining is over: never sent again. */
  private readonly drained = new Set<string>();

  constructor(private readonly options: EngineOptions) {
    this.observed = options.initialObserved;
    this.now = options.now ?? (() => new Date());
    this.runner = new BoundedFrequencyRunner(() => this.pass(), {
      minIntervalMs: options.minIntervalMs ?? 100,
      maxBackoffMs: 10_000,
      onError: (err, attempt, retryInMs) => {
        options.metrics.reconcileErrors.inc();
        options.log.error('reconcile.failed', { error: err, attempt, retryInMs });
      },
    });
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.options.fleet.subscribe((event) => this.onFleetEvent(event));
    await this.options.feed.start(() => this.trigger('desired commit'), { appliedCommit: this.options.initialObserved.appliedCommit });
    this.trigger('start');
  }

  async stop(): Promise<void> {
    this.runner.stop();
    await this.options.feed.stop();
    await this.options.fleet.close();
    await this.options.status.flush().catch((err) => this.options.log.error('status.flush-failed', { error: err }));
    await this.options.status.close();
  }

  /** Called after every completed pass (for --once, tests and progress). */
  onPass(listener: (pass: PassSummary) => void): void {
    this.listeners.push(listener);
  }

  current(): ObservedState {
    return this.observed;
  }

  connections(): Map<string, NodeRuntime['connection']> {
    return new Map([...this.runtimes].map(([name, runtime]) => [name, runtime.connection]));
  }

  trigger(reason: string): void {
    this.reasons.add(reason);
    this.runner.trigger();
    this.options.metrics.queueDepth.set(this.runner.pending);
  }

  private runtime(node: string): NodeRuntime {
    let runtime = this.runtimes.get(node);
    if (!runtime) {
      runtime = { connection: { state: 'connecting' } };
      this.runtimes.set(node, runtime);
    }
    return runtime;
  }

  private onFleetEvent(event: FleetEvent): void {
    const runtime = this.runtime(event.node);
    const log = this.options.log.with({ node: event.node });
    switch (event.type) {
      case 'connection': {
        const before = runtime.connection.state;
        runtime.connection = event.connection;
        if (event.connection.state !== 'connected') runtime.sent = undefined;
        if (before !== event.connection.state) {
          const fields = 'reason' in event.connection ? { reason: event.connection.reason } : {};
          (event.connection.state === 'refused' ? log.error : log.info)(`host.${event.connection.state}`, fields);
        }
        this.updateConnectionMetrics();
        this.trigger(`${event.node} ${event.connection.state}`);
        break;
      }
      case 'connected': {
        runtime.connection = { state: 'connected' };
        runtime.accepted = event.accepted;
        runtime.sent = undefined;
        if (event.accepted) {
          this.generations.set(event.node, Math.max(this.generations.get(event.node) ?? 0, event.accepted.generation));
          const { generation, ...state } = event.accepted;
          runtime.sent = sentRecord(generation, stateKey(state), state);
        }
        log.info('agent.connected', { acceptedGeneration: event.accepted?.generation ?? 0, pods: event.accepted?.pods.length ?? 0 });
        this.updateConnectionMetrics();
        this.trigger(`${event.node} connected`);
        break;
      }
      case 'watch': {
        runtime.view = applyWatch(runtime.view, event.response);
        runtime.lastSeen = this.now().toISOString();
        if (runtime.view) this.generations.set(event.node, Math.max(this.generations.get(event.node) ?? 0, runtime.view.generation));
        const onlyHeartbeats = !event.response.snapshot && event.response.changes.every((c) => c.type === 'heartbeat');
        this.trigger(onlyHeartbeats ? 'heartbeat' : `${event.node} reported`);
        break;
      }
    }
  }

  private updateConnectionMetrics(): void {
    const counts = new Map<string, number>();
    for (const runtime of this.runtimes.values()) counts.set(runtime.connection.state, (counts.get(runtime.connection.state) ?? 0) + 1);
    this.options.metrics.sshConnections.replace([...counts].map(([state, n]) => [{ state }, n]));
  }

  /**
   * Before the first pass, every Node in Git answered (its agent's pods are
   * then adopted and the scheduler sees every node) or was refused, or the
   * grace time is over: scheduling onto the first node that happens to
   * connect would pile every pod there.
   */
  private everyNodeSettled(nodes: DesiredObject[]): boolean {
    if (this.settled) return true;
    const waiting = nodes.filter((node) => {
      const runtime = this.runtimes.get(node.metadata.name);
      if (!runtime) return true;
      if (runtime.connection.state === 'refused') return false;
      return !(runtime.connection.state === 'connected' && runtime.view);
    });
    this.settled = waiting.length === 0 || Date.now() - this.startedAt >= (this.options.connectGraceMs ?? 15_000);
    if (this.settled && waiting.length > 0) this.options.log.warn('engine.start-without', { nodes: waiting.map((n) => n.metadata.name).join(',') });
    return this.settled;
  }

  private async pass(): Promise<number | undefined> {
    const started = performance.now();
    const reason = [...this.reasons].filter((r) => r !== 'heartbeat').join(', ') || 'heartbeat';
    this.reasons.clear();
    const { metrics, log } = this.options;
    const view = this.options.feed.current();

    if (view.refused && view.refused.commit !== this.lastRefused) {
      this.lastRefused = view.refused.commit;
      metrics.refusedCommits.inc();
      log.error('desired.refused', { commit: view.refused.commit, errors: view.refused.errors.length, first: view.refused.errors[0] ? `${view.refused.errors[0].file}:${view.refused.errors[0].line}:${view.refused.errors[0].column}: ${view.refused.errors[0].message}` : undefined });
    }
    const errors = view.refused?.errors ?? [];
    if (!view.applied) {
      // The commit applied before a restart that could not be applied again (not in this repository, or no
      // longer valid) stays named as the desired one: hosts still run it, and the next restart tries it again.
      // Never the refused commit (an older status branch may have recorded it as applied).
      const kept = this.observed.appliedCommit !== view.refused?.commit ? this.observed.appliedCommit : undefined;
      this.observed = { ...this.observed, appliedCommit: kept, errors };
      this.options.status.update(this.observed, { desiredCommit: kept, refusedCommit: view.refused?.commit, reason: 'no valid desired commit' });
      this.emit({ refusedCommit: view.refused?.commit, actions: 0, puts: 0, observed: this.observed });
      return undefined;
    }
    const { commit, store } = view.applied;
    if (commit !== this.lastApplied) {
      this.lastApplied = commit;
      metrics.appliedCommit.replace([[{ commit }, 1]]);
      log.info('desired.applied', { commit });
    }

    const nodes = store.list('Node');
    const nodesKey = JSON.stringify(nodes.map((n) => [n.metadata.name, n.spec]));
    if (nodesKey !== this.nodesKey) {
      this.nodesKey = nodesKey;
      for (const name of [...this.runtimes.keys()]) if (!nodes.some((n) => n.metadata.name === name)) this.runtimes.delete(name);
      for (const node of nodes) this.runtime(node.metadata.name);
      this.options.fleet.sync(nodes);
    }
    if (!this.everyNodeSettled(nodes)) return 200;

    const folded = foldAgents(this.observed, nodes, this.runtimes);
    // What an agent had accepted at connect is adopted once; later it is stale (it still lists pods since deleted).
    for (const runtime of this.runtimes.values()) if (runtime.view) runtime.accepted = undefined;
    const result = this.options.reconcile({ desired: store, commit, observed: { ...folded, appliedCommit: commit, errors }, now: this.now() });
    this.observed = { ...result.observed, appliedCommit: commit, errors };
    for (const action of result.actions) log.debug('reconcile.action', { action: describeAction(action) });

    this.updateDraining(result.nodeStates);
    const puts = await this.putChanged(this.withDraining(result.nodeStates), commit);
    this.recordDrainGenerations();
    this.options.status.update(this.observed, { desiredCommit: commit, reason, refusedCommit: view.refused?.commit });

    const phases = new Map<string, number>();
    for (const pod of this.observed.pods.values()) {
      const phase = pod.metadata.deletionTimestamp ? 'Terminating' : pod.status.phase;
      phases.set(phase, (phases.get(phase) ?? 0) + 1);
    }
    metrics.podsByPhase.replace([...phases].map(([phase, n]) => [{ phase }, n]));
    metrics.reconcileDuration.observe((performance.now() - started) / 1000);
    metrics.queueDepth.set(this.runner.pending);
    if (result.actions.length > 0 || puts > 0) log.info('reconcile.done', { commit, reason, actions: result.actions.length, puts, ms: Math.round(performance.now() - started) });
    this.emit({ commit, refusedCommit: view.refused?.commit, actions: result.actions.length, puts, observed: this.observed });
    if (this.draining.size > 0) return Math.min(result.requeueAfterMs ?? Infinity, 200);
    return result.requeueAfterMs;
  }

  private emit(pass: PassSummary): void {
    for (const listener of this.listeners) listener(pass);
  }

  /**
   * Connection draining: the controllers drop a deleted pod from its node's
   * state and its endpoints from every node's services in the same pass. Were
   * both sent at once, the pod's agent could stop it while another node's
   * proxy still routes to it. So the pod stays in its node's state until
   * every node has converged to a state without its endpoints (or
   * DRAIN_MAX_MS passed), and only then is it stopped.
   */
  private updateDraining(states: Map<string, Omit<NodeDesiredState, 'generation'>>): void {
    for (const uid of this.lastSentPods.keys()) if (!this.observed.pods.has(uid)) this.lastSentPods.delete(uid);
    for (const uid of this.drained) if (!this.observed.pods.has(uid)) this.drained.delete(uid);
    for (const [uid, pod] of this.observed.pods) {
      const node = pod.spec.nodeName;
      const sent = this.lastSentPods.get(uid);
      if (!pod.metadata.deletionTimestamp || !node || !sent || this.draining.has(uid) || this.drained.has(uid)) continue;
      if (states.get(node)?.pods.some((p) => p.uid === uid)) continue;
      if (this.runtimes.get(node)?.connection.state !== 'connected') continue;
      this.draining.set(uid, { node, since: Date.now(), pod: sent });
      this.options.log.debug('pod.draining', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, node });
    }
    for (const [uid, entry] of this.draining) {
      const gone = !this.observed.pods.has(uid);
      const expired = Date.now() - entry.since > DRAIN_MAX_MS;
      const ip = this.observed.pods.get(uid)?.status.podIP;
      const drained = entry.waitFor !== undefined && [...entry.waitFor].every(([node, generation]) => {
        const runtime = this.runtimes.get(node);
        if (!runtime || runtime.connection.state !== 'connected') return true;
        const converged = runtime.view?.generation ?? 0;
        // The generation noted after the PUTs may be an older state a busy node is still working on (flow
        // control held its next PUT back): the state it converged to must also be one without the pod's endpoints.
        const sent = runtime.sent;
        return converged >= generation && (ip === undefined || (sent !== undefined && !sent.endpointIPs.has(ip) && converged >= sent.generation));
      });
      if (gone || expired || drained) {
        this.options.log.debug('pod.drained', { pod: `${entry.pod.namespace}/${entry.pod.name}`, node: entry.node, ms: Date.now() - entry.since, how: gone ? 'gone' : drained ? 'every node converged' : 'timed out' });
        this.draining.delete(uid);
        if (!gone) this.drained.add(uid);
      }
    }
  }

  private withDraining(states: Map<string, Omit<NodeDesiredState, 'generation'>>): Map<string, Omit<NodeDesiredState, 'generation'>> {
    if (this.draining.size === 0) return states;
    const out = new Map(states);
    for (const entry of this.draining.values()) {
      const state = out.get(entry.node);
      if (!state || state.pods.some((p) => p.uid === entry.pod.uid)) continue;
      out.set(entry.node, { ...state, pods: [...state.pods, entry.pod] });
    }
    return out;
  }

  /** After the PUTs that dropped a draining pod's endpoints: the generation each node must reach. */
  private recordDrainGenerations(): void {
    for (const entry of this.draining.values()) {
      if (entry.waitFor) continue;
      entry.waitFor = new Map();
      for (const [node, runtime] of this.runtimes) {
        if (runtime.connection.state === 'connected' && runtime.sent) entry.waitFor.set(node, runtime.sent.generation);
      }
    }
  }

  /** PUTs every connected node's state that differs from what it last accepted; returns how many were sent. */
  private async putChanged(states: Map<string, Omit<NodeDesiredState, 'generation'>>, commit: string): Promise<number> {
    const sends: Array<Promise<void>> = [];
    for (const [node, state] of states) {
      const runtime = this.runtimes.get(node);
      if (!runtime || runtime.connection.state !== 'connected') continue;
      const full = withAdoptionAnnotations({ ...state, desiredCommit: commit }, this.observed);
      const key = stateKey(full);
      if (runtime.sent?.key === key) continue;
      // Flow control: while an agent works through the last state, changes pile up here and go as one
      // state once it has converged (its watch answer triggers the next pass), not as a queue of PUTs.
      const busy = runtime.sent !== undefined && (runtime.view?.generation ?? 0) < runtime.sent.generation && Date.now() - (runtime.sentAt ?? 0) < CONVERGE_WAIT_MS;
      if (busy) continue;
      // Above anything this node accepted and above the clock: monotonic across engine restarts even when an
      // agent cannot tell what it accepted (it is still loading its state), without a counter to persist.
      const generation = Math.max((this.generations.get(node) ?? 0) + 1, Date.now());
      this.generations.set(node, generation);
      sends.push(this.put(node, runtime, { ...full, generation }, key));
    }
    await Promise.all(sends);
    return sends.length;
  }

  private async put(node: string, runtime: NodeRuntime, state: NodeDesiredState, key: string): Promise<void> {
    const log = this.options.log.with({ node });
    try {
      const accepted = await this.options.fleet.putDesired(node, state);
      runtime.sent = sentRecord(accepted, key, state);
      runtime.sentAt = Date.now();
      for (const pod of state.pods) this.lastSentPods.set(pod.uid, pod);
      this.options.metrics.desiredPuts.inc({ node, result: 'accepted' });
      log.info('agent.desired-accepted', { generation: accepted, pods: state.pods.length, services: state.services.length });
    } catch (err) {
      this.options.metrics.desiredPuts.inc({ node, result: 'failed' });
      if (err instanceof StaleGeneration) {
        // Another engine (or our earlier life) got further: continue above its generation.
        this.generations.set(node, Math.max(this.generations.get(node) ?? 0, Number(err.data.accepted)));
        log.warn('agent.stale-generation', { error: err });
        runtime.sent = undefined;
        this.trigger(`${node} stale generation`);
      } else {
        // A failing agent is retried later (or when its connection comes back), not in a tight loop.
        log.warn('agent.desired-failed', { error: describeError(err) });
        runtime.sent = undefined;
        setTimeout(() => this.trigger(`${node} retry`), 1000).unref();
      }
    }
  }
}

/** What the engine remembers of the state a node accepted: enough for flow control and draining. */
function sentRecord(generation: number, key: string, state: Pick<NodeDesiredState, 'pods' | 'services'>): NonNullable<NodeRuntime['sent']> {
  const endpointIPs = new Set(state.services.flatMap((service) => service.ports.flatMap((port) => port.endpoints.map((endpoint) => endpoint.ip))));
  return { generation, key, pods: new Set(state.pods.map((p) => p.uid)), endpointIPs };
}

function describeAction(action: unknown): string {
  if (action && typeof action === 'object') {
    const a = action as Record<string, unknown>;
    const parts = [a.type ?? a.kind ?? a.action, a.pod ?? a.name ?? a.key, a.node ?? a.nodeName].filter((p) => typeof p === 'string');
    if (parts.length) return parts.join(' ');
  }
  return JSON.stringify(action);
}
