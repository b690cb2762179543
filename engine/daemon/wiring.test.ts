/**
 * The loop wired to the real source (a real git repository), the real
 * controllers and the real status writer, with simulated agents in place of
 * hosts (they report every pod they are sent as Running and Ready). What the
 * lab adds — SSH, Podman, nftables — is covered by test/integration/e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NodeDesiredState, NodeObservedState, ObservedPod, WatchResponse } from '../../common/agent-api.ts';
import { silentLogger } from '../log.ts';
import { EngineMetrics } from '../metrics.ts';
import { StatusWriter } from '../status/writer.ts';
import { readStatusSnapshot } from '../status/read.ts';
import { gitCli, tempRepo } from '../status/testing.ts';
import { Engine, type PassSummary } from './index.ts';
import { statusSink } from './adapters.ts';
import { openDesiredFeed } from './source-feed.ts';
import { reconcileFn } from './adapters.ts';
import type { DesiredObject, FleetEvent, HostFleet } from './ports.ts';

/** Agents that run whatever they are sent, instantly: pods Ready with an IP from the node's pod subnet. */
class SimulatedFleet implements HostFleet {
  private listener: (e: FleetEvent) => void = () => {};
  readonly accepted = new Map<string, NodeDesiredState>();
  private seq = 0;
  readonly puts: NodeDesiredState[] = [];
  sync(nodes: DesiredObject[]) {
    for (const node of nodes) {
      const name = node.metadata.name;
      if (this.accepted.has(name)) continue;
      setImmediate(() => {
        this.listener({ type: 'connected', node: name, accepted: undefined });
        this.listener({ type: 'watch', node: name, response: this.snapshot(name, 0, []) });
      });
    }
  }
  subscribe(listener: (e: FleetEvent) => void) {
    this.listener = listener;
  }
  async putDesired(node: string, state: NodeDesiredState) {
    this.accepted.set(node, state);
    this.puts.push(state);
    const third = state.podCIDR.split('.').slice(0, 3).join('.');
    const pods: ObservedPod[] = state.pods.map((p, i) => ({
      uid: p.uid, name: p.name, namespace: p.namespace,
      status: { phase: 'Running', podIP: `${third}.${10 + i}`, conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }], containerStatuses: [{ name: 'web', ready: true, restartCount: 0, image: 'coxswain/busybox:1', state: { running: { startedAt: new Date().toISOString() } } }] },
    }));
    setImmediate(() => this.listener({ type: 'watch', node, response: this.snapshot(node, state.generation, pods) }));
    return state.generation;
  }
  async close() {}
  private snapshot(node: string, generation: number, pods: ObservedPod[]): WatchResponse {
    const state: NodeObservedState = {
      node, generation, agent: { version: '0.1.0', apiVersion: 'v1', build: 'sim' },
      info: { hostname: node, osImage: 'Debian', kernelVersion: '6.18', architecture: 'amd64', containerRuntimeVersion: 'podman', operatingSystem: 'linux' },
      capacity: { cpu: '2', memory: '4Gi', pods: '110' }, allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }], images: ['coxswain/busybox:1'], pods, proxy: { mode: 'nftables', services: [] },
      heartbeatTime: new Date().toISOString(),
    };
    return { seq: ++this.seq, snapshot: state, changes: [] };
  }
}

const node = (name: string, i: number) => `apiVersion: v1\nkind: Node\nmetadata:\n  name: ${name}\nspec:\n  podCIDR: 100.64.${i}.0/24\n  ssh:\n    address: 198.18.9.${10 + i}\n    port: 22\n    user: root\n    hostKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlxPnHiv8B2BkWfHqX9lz9Sb0G1ol8T5mnvrwhfVwpL"]\n`;
const web = (replicas: number) => `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: ${replicas}\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: "coxswain/busybox:1", ports: [{containerPort: 8080}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n`;

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('engine loop wired to the real source, controllers and status writer', function () {
  this.timeout(30_000);
  let repo: { dir: string; cleanup: () => void };
  let engine: Engine | undefined;

  beforeEach(() => {
    repo = tempRepo();
    writeFileSync(path.join(repo.dir, 'cluster.yaml'), 'apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata: {name: test}\nspec:\n  podCIDR: 100.64.0.0/16\n  serviceCIDR: 100.127.0.0/24\n  proxyMode: nftables\n');
    mkdirSync(path.join(repo.dir, 'nodes'));
    for (const [i, name] of ['h1', 'h2', 'h3'].entries()) writeFileSync(path.join(repo.dir, 'nodes', `${name}.yaml`), node(name, i + 1));
    writeFileSync(path.join(repo.dir, 'web.yaml'), web(3));
    gitCli(repo.dir, ['add', '-A']);
    gitCli(repo.dir, ['commit', '-q', '-m', 'web, 3 replicas']);
  });
  afterEach(async () => {
    await engine?.stop();
    engine = undefined;
    repo.cleanup();
  });

  async function startEngine(fleet: SimulatedFleet, onPass?: (pass: PassSummary) => void) {
    const feed = await openDesiredFeed({ repo: repo.dir, branch: 'main', log: silentLogger, env: process.env });
    const writer = await StatusWriter.open({ repoDir: repo.dir, windowMs: 50 });
    const metrics = new EngineMetrics();
    engine = new Engine({ feed, fleet, status: statusSink(writer, metrics, silentLogger), reconcile: reconcileFn, initialObserved: (await readStatusSnapshot(repo.dir)).observed, log: silentLogger, metrics, minIntervalMs: 20, connectGraceMs: 2000 });
    if (onPass) engine.onPass(onPass);
    await engine.start();
  }

  it('binds 3 pods across the nodes, sends each node its pods and commits Ready pods and endpoints with the desired commit', async () => {
    const fleet = new SimulatedFleet();
    await startEngine(fleet);
    const head = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    const { observed } = await until('3 ready pods and 3 endpoints in status', async () => {
      const snap = await readStatusSnapshot(repo.dir);
      const pods = [...snap.observed.pods.values()];
      const service = snap.observed.services.get('default/web');
      return pods.length === 3 && pods.every((p) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')) && service?.status.endpoints[0]?.addresses.length === 3 ? snap : false;
    });
    assert.deepEqual([...observed.pods.values()].map((p) => p.spec.nodeName).sort(), ['h1', 'h2', 'h3']);
    assert.equal(observed.appliedCommit, head);
    assert.ok(gitCli(repo.dir, ['log', '--format=%B', 'coxswain/status']).includes(`Coxswain-Desired: ${head}`));
    const lastByNode = new Map(fleet.puts.map((p) => [p.node, p]));
    assert.equal(lastByNode.get('h1')!.services[0].ports[0].endpoints.length, 3, 'every node gets the service with all 3 endpoints');
  });

  it('scales down and forgets the removed pods once their agents converge', async () => {
    const fleet = new SimulatedFleet();
    await startEngine(fleet);
    await until('3 pods', async () => (await readStatusSnapshot(repo.dir)).observed.pods.size === 3);
    writeFileSync(path.join(repo.dir, 'web.yaml'), web(1));
    gitCli(repo.dir, ['commit', '-qam', 'web: 1 replica']);
    await until('1 pod left in status', async () => (await readStatusSnapshot(repo.dir)).observed.pods.size === 1);
    const running = [...fleet.accepted.values()].flatMap((s) => s.pods);
    assert.equal(running.length, 1, 'the agents were told to run one pod');
  });

  it('keeps the last valid commit when a newer one does not validate, and records its errors', async () => {
    const fleet = new SimulatedFleet();
    await startEngine(fleet);
    await until('3 pods', async () => (await readStatusSnapshot(repo.dir)).observed.pods.size === 3);
    const good = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    writeFileSync(path.join(repo.dir, 'web.yaml'), web(3).replace('replicas: 3', 'replicas: three'));
    gitCli(repo.dir, ['commit', '-qam', 'broken']);
    const bad = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    const snap = await until('the errors in status', async () => {
      const s = await readStatusSnapshot(repo.dir);
      return s.observed.errors.length > 0 ? s : false;
    });
    assert.equal(snap.observed.errors[0].file, 'web.yaml');
    assert.equal(snap.observed.pods.size, 3);
    assert.equal(snap.observed.appliedCommit, good);
    assert.match(gitCli(repo.dir, ['log', '-n', '1', '--format=%B', 'coxswain/status']), new RegExp(`Coxswain-Refused: ${bad}`));
  });

  it('after a restart onto a refused tip, keeps reconciling the commit the status branch says was applied and records the errors of the refused one', async () => {
    const fleet = new SimulatedFleet();
    await startEngine(fleet);
    await until('3 pods', async () => (await readStatusSnapshot(repo.dir)).observed.pods.size === 3);
    const good = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    await engine!.stop();
    engine = undefined;
    writeFileSync(path.join(repo.dir, 'web.yaml'), web(3).replace('replicas: 3', 'replicas: three'));
    gitCli(repo.dir, ['commit', '-qam', 'broken while the engine was down']);
    const bad = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    // Hosts that lost their state meanwhile: the restarted engine must send them the good commit's pods again.
    const again = new SimulatedFleet();
    const passes: PassSummary[] = [];
    await startEngine(again, (pass) => passes.push(pass));
    await until('3 pods sent to the agents', async () => again.puts.length > 0 && [...again.accepted.values()].flatMap((s) => s.pods).length === 3);
    assert.ok(again.puts.every((p) => p.desiredCommit === good), 'every PUT carries the good commit');
    assert.ok(passes.every((p) => p.commit === good && p.refusedCommit === bad));
    const snap = await until('the refused commit\'s errors in status', async () => {
      const s = await readStatusSnapshot(repo.dir);
      return s.observed.errors.length > 0 ? s : false;
    });
    assert.deepEqual(snap.observed.errors.map((e) => [e.file, typeof e.line, typeof e.column]), [['web.yaml', 'number', 'number']]);
    assert.ok(snap.observed.errors[0].line > 1 && snap.observed.errors[0].column > 1);
    assert.equal(snap.observed.appliedCommit, good, 'cox describe and cox history read the good commit');
    const messages = gitCli(repo.dir, ['log', '--format=%B%x00', `${good}..coxswain/status`]).split('\0').filter((m) => m.trim());
    assert.ok(messages.length > 0);
    for (const message of messages) assert.doesNotMatch(message, new RegExp(`Coxswain-Desired: ${bad}`), 'never the refused commit as the desired one');
    assert.match(gitCli(repo.dir, ['log', '-n', '1', '--format=%B', 'coxswain/status']), new RegExp(`Coxswain-Desired: ${good}\n(.*\n)*Coxswain-Refused: ${bad}`));
  });

  it('after a restart onto a refused tip with no status branch, applies nothing (no older commit is guessed) and records the errors', async () => {
    writeFileSync(path.join(repo.dir, 'web.yaml'), web(3).replace('replicas: 3', 'replicas: three'));
    gitCli(repo.dir, ['commit', '-qam', 'broken']);
    const bad = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    const fleet = new SimulatedFleet();
    const passes: PassSummary[] = [];
    await startEngine(fleet, (pass) => passes.push(pass));
    const snap = await until('the errors in status', async () => {
      const s = await readStatusSnapshot(repo.dir);
      return s.observed.errors.length > 0 ? s : false;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fleet.puts.length, 0);
    assert.ok(passes.length > 0 && passes.every((p) => p.commit === undefined && p.refusedCommit === bad));
    assert.equal(snap.observed.errors[0].file, 'web.yaml');
    assert.equal(snap.observed.appliedCommit, undefined);
    const message = gitCli(repo.dir, ['log', '-n', '1', '--format=%B', 'coxswain/status']);
    assert.doesNotMatch(message, /Coxswain-Desired:/);
    assert.match(message, new RegExp(`Coxswain-Refused: ${bad}`));
  });

  it('adopts what agents run after a restart instead of creating pods again', async () => {
    const fleet = new SimulatedFleet();
    await startEngine(fleet);
    await until('3 pods', async () => (await readStatusSnapshot(repo.dir)).observed.pods.size === 3);
    const uids = [...fleet.accepted.values()].flatMap((s) => s.pods.map((p) => p.uid)).sort();
    await engine!.stop();
    // A restart that lost its status branch entirely: only the agents know what runs.
    gitCli(repo.dir, ['update-ref', '-d', 'refs/heads/coxswain/status']);
    const again = new SimulatedFleet();
    const accepted = fleet.accepted;
    again.sync = (nodes) => {
      for (const n of nodes) setImmediate(() => {
        const state = accepted.get(n.metadata.name);
        (again as unknown as { listener: (e: FleetEvent) => void }).listener({ type: 'connected', node: n.metadata.name, accepted: state });
        void again.putDesired(n.metadata.name, state!);
      });
    };
    await startEngine(again);
    await until('3 pods in the new status branch', async () => (await readStatusSnapshot(repo.dir)).observed.pods.size === 3);
    await new Promise((r) => setTimeout(r, 300));
    const after = [...again.accepted.values()].flatMap((s) => s.pods.map((p) => p.uid)).sort();
    assert.deepEqual(after, uids, 'the same pods, none added');
  });

  it('deploys a preview ref into namespace pr-<n> under the preview policy, and removes it with the ref', async () => {
    const fleet = new SimulatedFleet();
    await startEngine(fleet);
    await until('3 pods', async () => (await readStatusSnapshot(repo.dir)).observed.pods.size === 3);
    writeFileSync(path.join(repo.dir, 'web.yaml'), web(4));
    gitCli(repo.dir, ['add', '-A']);
    const tree = gitCli(repo.dir, ['write-tree']);
    const head = gitCli(repo.dir, ['commit-tree', tree, '-p', 'HEAD', '-m', 'PR 7: web, 4 replicas']);
    gitCli(repo.dir, ['update-ref', 'refs/coxswain/previews/pr-7', head]);
    const preview = await until('the preview pod in status', async () => {
      const pods = [...(await readStatusSnapshot(repo.dir)).observed.pods.values()].filter((p) => p.metadata.namespace === 'pr-7');
      return pods.length > 0 ? pods : false;
    });
    assert.equal(preview.length, 1, 'replicas capped at the default maxReplicas of 1');
    const services = (await readStatusSnapshot(repo.dir)).observed.services;
    assert.ok(services.has('pr-7/web'), 'the preview has its own Service');
    assert.notEqual(services.get('pr-7/web')!.spec.clusterIP, services.get('default/web')!.spec.clusterIP);
    assert.equal([...(await readStatusSnapshot(repo.dir)).observed.pods.values()].filter((p) => p.metadata.namespace === 'default').length, 3, 'main is untouched');
    gitCli(repo.dir, ['update-ref', '-d', 'refs/coxswain/previews/pr-7']);
    await until('the preview gone from status', async () => [...(await readStatusSnapshot(repo.dir)).observed.pods.values()].every((p) => p.metadata.namespace !== 'pr-7'));
  });
});
