import assert from 'node:assert/strict';
import { StaleGeneration } from '../../common/errors.ts';
import type { NodeDesiredState, NodeObservedState, WatchResponse } from '../../common/agent-api.ts';
import { emptyObserved, type ObservedState, type PodObject } from '../model.ts';
import { silentLogger } from '../log.ts';
import { EngineMetrics } from '../metrics.ts';
import { Engine, type PassSummary } from './index.ts';
import type { DesiredFeed, DesiredObject, DesiredView, FleetEvent, HostFleet, ReconcileFn, StatusCause, StatusSink } from './ports.ts';

// ---- fakes: the loop's wiring is what is under test, not the layers ----------

function nodeManifest(name: string): DesiredObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { ssh: { address: `198.18.5.${10 + Number(name.slice(1))}` }, podCIDR: `100.64.${name.slice(1)}.0/24` } };
}
function podManifest(name: string, node: string): DesiredObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: node, containers: [{ name: 'c', image: 'coxswain/busybox:1' }] } };
}
function store(objects: DesiredObject[]) {
  return { list: (kind: string) => objects.filter((o) => o.kind === kind), all: () => objects };
}

class FakeFeed implements DesiredFeed {
  view: DesiredView = {};
  restored?: { appliedCommit?: string };
  private changed: () => void = () => {};
  async start(changed: () => void, restored?: { appliedCommit?: string }) {
    this.changed = changed;
    this.restored = restored;
  }
  current() {
    return this.view;
  }
  async stop() {}
  commit(view: DesiredView) {
    this.view = view;
    this.changed();
  }
}

class FakeFleet implements HostFleet {
  listener: (event: FleetEvent) => void = () => {};
  synced: string[][] = [];
  puts: NodeDesiredState[] = [];
  accepted = new Map<string, number>();
  sync(nodes: DesiredObject[]) {
    this.synced.push(nodes.map((n) => n.metadata.name));
  }
  subscribe(listener: (event: FleetEvent) => void) {
    this.listener = listener;
  }
  async putDesired(node: string, state: NodeDesiredState) {
    const accepted = this.accepted.get(node) ?? 0;
    if (state.generation <= accepted) throw new StaleGeneration(state.generation, accepted);
    this.accepted.set(node, state.generation);
    this.puts.push(state);
    return state.generation;
  }
  async close() {}
  connect(node: string, accepted?: NodeDesiredState, pods: NodeObservedState['pods'] = []) {
    if (accepted) this.accepted.set(node, accepted.generation);
    this.listener({ type: 'connected', node, accepted });
    this.listener({ type: 'watch', node, response: snapshot(node, accepted?.generation ?? 0, pods) });
  }
}

function snapshot(node: string, generation: number, pods: NodeObservedState['pods']): WatchResponse {
  const state: NodeObservedState = {
    node,
    generation,
    agent: { version: '0.1.0', apiVersion: 'v1', build: 'test' },
    info: { hostname: node, osImage: 'Debian', kernelVersion: '6.18', architecture: 'amd64', containerRuntimeVersion: 'podman', operatingSystem: 'linux' },
    capacity: { cpu: '2', memory: '4Gi', pods: '110' },
    allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
    conditions: [{ type: 'Ready', status: 'True' }],
    images: [],
    pods,
    proxy: { mode: 'nftables', services: [] },
    heartbeatTime: new Date().toISOString(),
  };
  return { seq: 1, snapshot: state, changes: [] };
}

class FakeStatus implements StatusSink {
  updates: Array<{ observed: ObservedState; cause: StatusCause }> = [];
  update(observed: ObservedState, cause: StatusCause) {
    this.updates.push({ observed, cause });
  }
  async flush() {
    return undefined;
  }
  async close() {}
}

/** Bare pods bound where their manifest says; pods no longer in Git marked deleted. */
const podsReconcile: ReconcileFn = ({ desired, observed, now }) => {
  const next: ObservedState = { ...observed, pods: new Map(observed.pods) };
  const wanted = new Set<string>();
  for (const manifest of desired.list('Pod')) {
    const uid = `uid-${manifest.metadata.name}`;
    wanted.add(uid);
    if (!next.pods.has(uid)) {
      const pod: PodObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: manifest.metadata.name, namespace: 'default', uid }, spec: manifest.spec as PodObject['spec'], status: { phase: 'Pending', conditions: [], containerStatuses: [] } };
      next.pods.set(uid, pod);
    }
  }
  for (const [uid, pod] of next.pods) if (!wanted.has(uid) && !pod.metadata.deletionTimestamp) next.pods.set(uid, { ...pod, metadata: { ...pod.metadata, deletionTimestamp: now.toISOString() } });
  const nodeStates = new Map<string, Omit<NodeDesiredState, 'generation'>>();
  for (const node of desired.list('Node')) {
    const pods = [...next.pods.values()].filter((p) => p.spec.nodeName === node.metadata.name && !p.metadata.deletionTimestamp);
    nodeStates.set(node.metadata.name, { node: node.metadata.name, nodeAddress: '', podCIDR: '', clusterCIDR: '100.64.0.0/16', serviceCIDR: '100.127.0.0/24', proxyMode: 'nftables', services: [], routes: [], pods: pods.map((p) => ({ uid: p.metadata.uid, name: p.metadata.name, namespace: p.metadata.namespace, labels: p.metadata.labels, spec: p.spec })) });
  }
  return { actions: [], observed: next, nodeStates };
};

function harness(initial: ObservedState = emptyObserved()) {
  const feed = new FakeFeed();
  const fleet = new FakeFleet();
  const status = new FakeStatus();
  const engine = new Engine({ feed, fleet, status, reconcile: podsReconcile, initialObserved: initial, log: silentLogger, metrics: new EngineMetrics(), minIntervalMs: 5, connectGraceMs: 2000 });
  const passes: PassSummary[] = [];
  engine.onPass((p) => passes.push(p));
  return { feed, fleet, status, engine, passes };
}

async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('engine loop', () => {
  let stopEngine: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stopEngine?.();
    stopEngine = undefined;
  });

  it('sends each node its pods with a generation above what the agent accepted and above the clock, and records the desired commit in status', async () => {
    const h = harness();
    stopEngine = () => h.engine.stop();
    h.feed.view = { applied: { commit: 'c1', store: store([nodeManifest('h1'), nodeManifest('h2'), podManifest('a', 'h1'), podManifest('b', 'h2')]) } };
    await h.engine.start();
    await until(() => h.fleet.synced.length > 0, 'the fleet to be told the nodes');
    assert.deepEqual(h.fleet.synced[0], ['h1', 'h2']);
    h.fleet.connect('h1', { generation: 7, node: 'h1', nodeAddress: '', podCIDR: '', clusterCIDR: '', serviceCIDR: '', proxyMode: 'nftables', pods: [], services: [], routes: [] });
    h.fleet.connect('h2');
    await until(() => h.fleet.puts.length === 2, 'two PUTs');
    const byNode = new Map(h.fleet.puts.map((p) => [p.node, p]));
    assert.ok(byNode.get('h1')!.generation >= Date.now() - 60_000, 'generations follow the clock');
    assert.ok(byNode.get('h2')!.generation > 0);
    assert.deepEqual(byNode.get('h1')!.pods.map((p) => p.name), ['a']);
    assert.equal(byNode.get('h1')!.desiredCommit, 'c1');
    assert.equal(h.status.updates.at(-1)!.cause.desiredCommit, 'c1');
  });

  it('does not send a node the same state twice', async () => {
    const h = harness();
    stopEngine = () => h.engine.stop();
    h.feed.view = { applied: { commit: 'c1', store: store([nodeManifest('h1'), podManifest('a', 'h1')]) } };
    await h.engine.start();
    h.fleet.connect('h1');
    await until(() => h.fleet.puts.length === 1, 'the first PUT');
    h.feed.commit({ applied: { commit: 'c2', store: store([nodeManifest('h1'), podManifest('a', 'h1')]) } });
    await until(() => h.passes.some((p) => p.commit === 'c2'), 'a pass over c2');
    assert.equal(h.fleet.puts.length, 1);
  });

  it('adopts the pods an agent already runs instead of creating them again after a restart', async () => {
    const h = harness();
    stopEngine = () => h.engine.stop();
    h.feed.view = { applied: { commit: 'c1', store: store([nodeManifest('h1'), podManifest('a', 'h1')]) } };
    await h.engine.start();
    const running = { uid: 'uid-a', name: 'a', namespace: 'default', spec: { nodeName: 'h1', containers: [{ name: 'c', image: 'coxswain/busybox:1' }] }, annotations: { 'coxswain.io/owner-references': '[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","controller":true}]' } };
    h.fleet.connect('h1', { generation: 3, node: 'h1', nodeAddress: '', podCIDR: '', clusterCIDR: '', serviceCIDR: '', proxyMode: 'nftables', pods: [running as never], services: [], routes: [] }, [
      { uid: 'uid-a', name: 'a', namespace: 'default', status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [] } },
    ]);
    await until(() => h.passes.some((p) => p.commit === 'c1'), 'a pass');
    const pods = [...h.engine.current().pods.values()];
    assert.equal(pods.length, 1);
    assert.equal(pods[0].status.phase, 'Running');
    assert.deepEqual(pods[0].metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', controller: true }]);
    // Deleted later, and gone from the agent: what it had accepted at connect must not bring it back.
    h.feed.commit({ applied: { commit: 'c2', store: store([nodeManifest('h1')]) } });
    await until(() => h.fleet.puts.length >= 1 && h.engine.current().pods.get('uid-a')?.metadata.deletionTimestamp !== undefined, 'the pod marked deleted');
    h.fleet.listener({ type: 'watch', node: 'h1', response: snapshot('h1', h.fleet.puts.at(-1)!.generation, []) });
    await until(() => h.fleet.puts.at(-1)!.pods.length === 0, 'the PUT that stops it');
    h.fleet.listener({ type: 'watch', node: 'h1', response: snapshot('h1', h.fleet.puts.at(-1)!.generation, []) });
    await until(() => !h.engine.current().pods.has('uid-a'), 'the pod forgotten');
    h.engine.trigger('test');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.engine.current().pods.has('uid-a'), false, 'not adopted again');
  });

  it('keeps reconciling the last valid commit when a newer one is refused, and puts its errors in status', async () => {
    const h = harness();
    stopEngine = () => h.engine.stop();
    const good = store([nodeManifest('h1'), podManifest('a', 'h1')]);
    h.feed.view = { applied: { commit: 'c1', store: good } };
    await h.engine.start();
    h.fleet.connect('h1');
    await until(() => h.fleet.puts.length === 1, 'the first PUT');
    h.feed.commit({ applied: { commit: 'c1', store: good }, refused: { commit: 'c2', errors: [{ file: 'bad.yaml', line: 3, column: 5, message: 'spec.replicas: must be integer' }] } });
    await until(() => h.passes.some((p) => p.refusedCommit === 'c2'), 'a pass that saw c2 refused');
    const last = h.status.updates.at(-1)!;
    assert.equal(last.cause.desiredCommit, 'c1');
    assert.equal(last.observed.errors[0].file, 'bad.yaml');
    assert.equal(h.fleet.puts.length, 1);
  });

  it('hands the feed the commit the restored status says was applied, so a refused tip at start does not stop reconciling it', async () => {
    const h = harness({ ...emptyObserved(), appliedCommit: 'c1' });
    stopEngine = () => h.engine.stop();
    h.feed.view = { applied: { commit: 'c1', store: store([nodeManifest('h1'), podManifest('a', 'h1')]) }, refused: { commit: 'c2', errors: [{ file: 'bad.yaml', line: 3, column: 5, message: 'spec.replicas: must be integer' }] } };
    await h.engine.start();
    assert.deepEqual(h.feed.restored, { appliedCommit: 'c1' });
    h.fleet.connect('h1');
    await until(() => h.fleet.puts.length === 1, 'the PUT of c1');
    assert.equal(h.fleet.puts[0].desiredCommit, 'c1');
    assert.deepEqual(h.status.updates.at(-1)!.cause, { desiredCommit: 'c1', reason: h.status.updates.at(-1)!.cause.reason, refusedCommit: 'c2' });
  });

  const noValidCommit: Array<{ name: string; restored?: string; desired?: string }> = [
    { name: 'names no desired commit when there is no status branch', restored: undefined, desired: undefined },
    { name: 'names the commit applied before the restart that could not be loaded again (hosts still run it)', restored: 'c1', desired: 'c1' },
    { name: 'never names the refused commit, even when an older status branch recorded it as applied', restored: 'c2', desired: undefined },
  ];
  for (const c of noValidCommit) {
    it(`with no valid desired commit at all, sends nothing, records the errors and ${c.name}`, async () => {
      const h = harness({ ...emptyObserved(), appliedCommit: c.restored });
      stopEngine = () => h.engine.stop();
      h.feed.view = { refused: { commit: 'c2', errors: [{ file: 'bad.yaml', line: 3, column: 5, message: 'spec.replicas: must be integer' }] } };
      await h.engine.start();
      await until(() => h.passes.some((p) => p.refusedCommit === 'c2'), 'a pass that saw c2 refused');
      const last = h.status.updates.at(-1)!;
      assert.equal(last.cause.desiredCommit, c.desired);
      assert.equal(last.cause.refusedCommit, 'c2');
      assert.equal(last.observed.appliedCommit, c.desired);
      assert.deepEqual(last.observed.errors.map((e) => `${e.file}:${e.line}:${e.column}`), ['bad.yaml:3:5']);
      assert.equal(h.fleet.puts.length, 0);
    });
  }

  it('continues above the generation of an agent that refuses a stale one', async () => {
    const h = harness();
    stopEngine = () => h.engine.stop();
    h.feed.view = { applied: { commit: 'c1', store: store([nodeManifest('h1'), podManifest('a', 'h1')]) } };
    await h.engine.start();
    h.fleet.connect('h1');
    const ahead = Date.now() + 3_600_000; // another engine (or a clock ahead) got there first
    h.fleet.accepted.set('h1', ahead);
    await until(() => h.fleet.puts.length === 1, 'a PUT after the stale refusal');
    assert.equal(h.fleet.puts[0].generation, ahead + 1);
  });

  it('keeps a deleted pod running until every node dropped its endpoints, then stops it and forgets it once its agent converged', async () => {
    const h = harness();
    stopEngine = () => h.engine.stop();
    h.feed.view = { applied: { commit: 'c1', store: store([nodeManifest('h1'), nodeManifest('h2'), podManifest('a', 'h1')]) } };
    await h.engine.start();
    h.fleet.connect('h1');
    h.fleet.connect('h2');
    await until(() => h.fleet.puts.length === 2, 'the first PUTs');
    const running = [{ uid: 'uid-a', name: 'a', namespace: 'default', status: { phase: 'Running' as const, conditions: [], containerStatuses: [] } }];
    const report = (node: string, pods: typeof running) => h.fleet.listener({ type: 'watch', node, response: snapshot(node, h.fleet.accepted.get(node)!, pods) });
    report('h1', running);
    report('h2', []);
    h.feed.commit({ applied: { commit: 'c2', store: store([nodeManifest('h1'), nodeManifest('h2')]) } });
    await until(() => h.engine.current().pods.get('uid-a')?.metadata.deletionTimestamp !== undefined, 'the pod marked deleted');
    await new Promise((r) => setTimeout(r, 50));
    const h1Puts = () => h.fleet.puts.filter((p) => p.node === 'h1');
    assert.ok(h1Puts().at(-1)!.pods.some((p) => p.uid === 'uid-a'), 'still sent to h1 while nodes have not converged');
    report('h1', running);
    report('h2', []);
    await until(() => !h1Puts().at(-1)!.pods.some((p) => p.uid === 'uid-a'), 'the PUT that stops the pod');
    assert.ok(h.engine.current().pods.get('uid-a')?.metadata.deletionTimestamp, 'still known while its agent runs it');
    const putsBefore = h1Puts().length;
    report('h2', []);
    h.engine.trigger('test');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(h1Puts().slice(putsBefore).every((p) => !p.pods.some((pod) => pod.uid === 'uid-a')), 'a drained pod is never sent again');
    report('h1', []);
    await until(() => !h.engine.current().pods.has('uid-a'), 'the pod to be forgotten');
  });

  it('sends a node its next state only once it converged the last one, with every change since in one PUT', async () => {
    const h = harness();
    stopEngine = () => h.engine.stop();
    h.feed.view = { applied: { commit: 'c1', store: store([nodeManifest('h1'), podManifest('a', 'h1')]) } };
    await h.engine.start();
    h.fleet.connect('h1');
    await until(() => h.fleet.puts.length === 1, 'the first PUT');
    h.feed.commit({ applied: { commit: 'c2', store: store([nodeManifest('h1'), podManifest('a', 'h1'), podManifest('b', 'h1')]) } });
    await until(() => h.passes.some((p) => p.commit === 'c2'), 'a pass over c2');
    h.feed.commit({ applied: { commit: 'c3', store: store([nodeManifest('h1'), podManifest('a', 'h1'), podManifest('b', 'h1'), podManifest('c', 'h1')]) } });
    await until(() => h.passes.some((p) => p.commit === 'c3'), 'a pass over c3');
    assert.equal(h.fleet.puts.length, 1, 'nothing more while h1 works on the first state');
    h.fleet.listener({ type: 'watch', node: 'h1', response: snapshot('h1', h.fleet.puts[0].generation, []) });
    await until(() => h.fleet.puts.length === 2, 'the next PUT');
    assert.deepEqual(h.fleet.puts[1].pods.map((p) => p.name).sort(), ['a', 'b', 'c']);
  });

  it('names a refused host in its Ready condition', async () => {
    const h = harness();
    stopEngine = () => h.engine.stop();
    h.feed.view = { applied: { commit: 'c1', store: store([nodeManifest('h1')]) } };
    await h.engine.start();
    const reason = 'host key mismatch for h1: expected SHA256:aaa, got SHA256:bbb';
    h.fleet.listener({ type: 'connection', node: 'h1', connection: { state: 'refused', code: 'HostKeyMismatch', reason } });
    await until(() => h.passes.some((p) => p.commit === 'c1'), 'a pass');
    const ready = h.engine.current().nodes.get('h1')!.status.conditions.find((c) => c.type === 'Ready')!;
    assert.equal(ready.reason, 'HostKeyMismatch');
    assert.equal(ready.message, reason);
  });
});
