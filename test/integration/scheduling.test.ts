/**
 * Scheduling against real hosts, in a lab of its own (index 6, 2 hosts): the
 * engine as a real process driving real agents over SSH, pods in Podman.
 * A DaemonSet pod that does not fit its node stays Pending with the
 * scheduler's reason and starts once there is room; a pod that would break a
 * DoNotSchedule topology spread constraint stays Pending with its reason, as
 * `cox plan` predicted. Every check reads the status branch or Podman on the
 * hosts, and waits with a deadline.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { git } from '../../engine/cli/gitcli.ts';
import { cpuMillis } from '../../common/quantity.ts';
import type { PodObject } from '../../engine/model.ts';
import { labIndex, useLab } from './lab-fixture.ts';
import { ClusterRepo, PROJECT_ROOT, isReady, livePods, managedContainers, startEngine, waitFor, type EngineProcess } from './e2e-harness.ts';

const INDEX = labIndex(6);

describe(`scheduling in the lab (index ${INDEX})`, function () {
  this.timeout(240_000);
  const handle = useLab({ index: INDEX, nodes: 2, name: 'sched' });
  let repo: ClusterRepo;
  let engine: EngineProcess | undefined;
  let logFile: string;
  const node = (i: number) => handle.lab.nodes[i].name;

  before(async function () {
    this.timeout(120_000);
    repo = new ClusterRepo(handle.lab.clusterRepo ?? path.join(handle.dir, 'cluster-repo'));
    logFile = path.join(handle.dir, 'engine.log');
    rmSync(logFile, { force: true });
    for (const entry of (await git(repo.dir, ['ls-files'])).stdout.split('\n').filter(Boolean)) {
      if (!entry.startsWith('nodes/') && entry !== 'cluster.yaml') repo.remove(entry);
    }
    await repo.commit('scheduling: start from the nodes and the cluster only');
    engine = startEngine({ repo: repo.dir, sshKey: handle.lab.clientKeyPath, logFile });
    await waitFor('every node Ready with its allocatable in status', async () => {
      const nodes = [...(await repo.status()).nodes.values()];
      return nodes.length === 2 && nodes.every((n) => n.status.allocatable && n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 90_000);
  });

  after(async function () {
    this.timeout(60_000);
    await engine?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && engine) process.stderr.write(`\n--- engine log (tail) ---\n${engine.log().split('\n').slice(-40).join('\n')}\n`);
  });

  const scheduledMessage = (pod: PodObject | undefined) => pod?.status.conditions.find((c) => c.type === 'PodScheduled' && c.status === 'False')?.message;
  const containersOf = async (i: number, prefix: string) => (await managedContainers(handle.lab, node(i))).filter((c) => c.pod.startsWith(prefix) && c.role === 'app');

  it('a DaemonSet pod with no room on its node stays Pending with Insufficient cpu, runs on the other node, and starts once the room is freed', async () => {
    const allocatable = cpuMillis((await repo.status()).nodes.get(node(0))!.status.allocatable!.cpu);
    repo.write('apps/hog.yaml', `apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  nodeName: ${node(0)}
  containers:
    - {name: hog, image: coxswain/busybox:1, command: [sleep, "3600"], resources: {requests: {cpu: "${allocatable - 100}m"}}}
`);
    repo.write('apps/agent.yaml', `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
        - {name: agent, image: coxswain/busybox:1, command: [sleep, "3600"], resources: {requests: {cpu: 500m}}}
`);
    await repo.commit('a hog on the first node, and a daemon that needs 500m everywhere');

    const pending = await waitFor(`the daemon pod for ${node(0)} Pending with Insufficient cpu, the one on ${node(1)} Ready`, async () => {
      const pods = livePods(await repo.status(), 'agent-');
      const first = pods.find((p) => !p.spec.nodeName);
      const second = pods.find((p) => p.spec.nodeName === node(1));
      return pods.length === 2 && first && second && isReady(second) && scheduledMessage(first)?.includes('Insufficient cpu') ? first : false;
    }, 90_000);
    assert.equal(scheduledMessage(pending), "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't satisfy plugin(s) [NodeAffinity].");
    assert.equal((await containersOf(0, 'agent-')).length, 0, `Podman runs no daemon container on ${node(0)}`);
    assert.equal((await containersOf(1, 'agent-')).length, 1, `Podman runs the daemon container on ${node(1)}`);
    const status = (await repo.status()).workloads.get('DaemonSet/default/agent')!.status as Record<string, number>;
    assert.deepEqual([status.desiredNumberScheduled, status.currentNumberScheduled, status.numberAvailable, status.numberUnavailable], [2, 2, 1, 1]);

    repo.remove('apps/hog.yaml');
    await repo.commit('the hog leaves');
    await waitFor(`the daemon pod Ready on ${node(0)} too`, async () => {
      const pods = livePods(await repo.status(), 'agent-');
      return pods.length === 2 && pods.every(isReady) && pods.some((p) => p.spec.nodeName === node(0));
    }, 120_000);
    assert.equal((await containersOf(0, 'agent-')).length, 1, `Podman runs the daemon container on ${node(0)} now`);
    repo.remove('apps/agent.yaml');
    await repo.commit('the daemon leaves');
  });

  it('a replica that would break a DoNotSchedule spread stays Pending with the topology spread reason cox plan predicted', async () => {
    // Pinned to the first node, but with nodeAffinityPolicy Ignore the empty second node is a domain: one replica at most fits.
    repo.write('apps/spread.yaml', `apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 2
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      nodeSelector: {kubernetes.io/hostname: ${node(0)}}
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeAffinityPolicy: Ignore, labelSelector: {matchLabels: {app: spread}}}
      containers:
        - {name: spread, image: coxswain/busybox:1, command: [sleep, "3600"]}
`);
    const commit = await repo.propose('spread: two replicas where one fits');
    const plan = await cox(['plan', '--repo', repo.dir, '--rev', commit, '-o', 'json'], repo.dir);
    assert.equal(plan.code, 0, plan.stderr);
    const planned = (JSON.parse(plan.stdout) as { unschedulable: Array<{ name: string; message: string }> }).unschedulable.filter((u) => u.name.startsWith('spread-'));
    const reason = "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't match pod topology spread constraints.";
    assert.deepEqual(planned.map((u) => u.message), [reason]);
    await repo.advance(commit);

    await waitFor(`one spread replica Ready on ${node(0)} and one Pending with the topology spread reason`, async () => {
      const pods = livePods(await repo.status(), 'spread-');
      const running = pods.filter((p) => p.spec.nodeName === node(0) && isReady(p));
      const waiting = pods.filter((p) => !p.spec.nodeName && scheduledMessage(p) === reason);
      return pods.length === 2 && running.length === 1 && waiting.length === 1;
    }, 90_000);
    assert.equal((await containersOf(0, 'spread-')).length, 1, `Podman runs one spread container on ${node(0)}`);
    assert.equal((await containersOf(1, 'spread-')).length, 0, `and none on ${node(1)}`);
  });
});

async function cox(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/cox.mjs'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
