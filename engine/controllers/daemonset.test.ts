import assert from 'node:assert/strict';
import type { DaemonSet, Node } from '../../schemas/types.generated.ts';
import { reconcile } from './index.ts';
import { barePod, dropDeleted, emptyObserved, markReady, node, store } from './testing.ts';
import type { NodeObject, ObservedState, PodObject } from '../model.ts';
import { targetNodeOf } from './daemonset.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);
const KEY = 'DaemonSet/default/agent';

/** A node as its agent reports it: Ready (unless "NotReady" follows the cpu), with this much cpu allocatable. */
function observedNode(name: string, cpuAndReadiness: string): NodeObject {
  const [cpu, readiness] = cpuAndReadiness.split(' ');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: {},
    status: { addresses: [], allocatable: { cpu, memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: readiness === 'NotReady' ? 'False' : 'True', lastTransitionTime: at(0).toISOString() }], lastHeartbeatTime: at(0).toISOString() },
  };
}

function observedWith(nodes: Record<string, string>): ObservedState {
  const observed = emptyObserved();
  for (const [name, cpu] of Object.entries(nodes)) observed.nodes.set(name, observedNode(name, cpu));
  return observed;
}

function daemonSet(options: { cpu?: string; hostPort?: number } = {}): DaemonSet {
  const container = {
    name: 'agent',
    image: 'agent:1',
    ...(options.cpu ? { resources: { requests: { cpu: options.cpu } } } : {}),
    ...(options.hostPort ? { ports: [{ containerPort: options.hostPort, hostPort: options.hostPort }] } : {}),
  };
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [container] } } } } as DaemonSet;
}

/** A bare pod already bound to a node, requesting cpu or holding a host port. */
function boundPod(name: string, nodeName: string, options: { cpu?: string; hostPort?: number }) {
  const container = {
    name: 'app',
    image: 'app:1',
    ...(options.cpu ? { resources: { requests: { cpu: options.cpu } } } : {}),
    ...(options.hostPort ? { ports: [{ containerPort: options.hostPort, hostPort: options.hostPort }] } : {}),
  };
  return barePod(name, { nodeName, containers: [container] } as never);
}

const daemonPods = (o: ObservedState): PodObject[] => [...o.pods.values()].filter((p) => !p.metadata.deletionTimestamp && p.metadata.ownerReferences?.[0]?.kind === 'DaemonSet');

/** Per node: "bound" or the PodScheduled=False message of its Pending daemon pod. */
function outcomes(o: ObservedState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pod of daemonPods(o)) {
    const scheduled = pod.status.conditions.find((c) => c.type === 'PodScheduled');
    out[targetNodeOf(pod)!] = pod.spec.nodeName ? 'bound' : `${pod.status.phase}: ${scheduled?.message}`;
  }
  return out;
}

const statusOf = (o: ObservedState) => o.workloads.get(KEY)!.status as Record<string, unknown>;

describe('DaemonSet pods go through the scheduler’s filters for their node', () => {
  const nodes3 = [node('h1'), node('h2'), node('h3')];
  const cases: Array<{ name: string; objects: Array<Node | object>; observed: Record<string, string>; expect: Record<string, string>; status: Record<string, number> }> = [
    {
      name: 'a node without room for the daemon pod keeps it Pending with Insufficient cpu while the others run it',
      objects: [...nodes3, daemonSet({ cpu: '1' })],
      observed: { h1: '4', h2: '4', h3: '500m' },
      expect: { h1: 'bound', h2: 'bound', h3: "Pending: 0/3 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity], 1 Insufficient cpu." },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberAvailable: 0, numberUnavailable: 3 },
    },
    {
      name: 'a node whose cpu other pods already requested keeps the daemon pod Pending',
      objects: [...nodes3, boundPod('big', 'h2', { cpu: '3500m' }), daemonSet({ cpu: '1' })],
      observed: { h1: '4', h2: '4', h3: '4' },
      expect: { h1: 'bound', h2: "Pending: 0/3 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity], 1 Insufficient cpu.", h3: 'bound' },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberMisscheduled: 0 },
    },
    {
      name: 'a host port already taken on a node keeps the daemon pod Pending with the NodePorts reason',
      objects: [...nodes3, boundPod('exporter', 'h1', { hostPort: 9100 }), daemonSet({ hostPort: 9100 })],
      observed: { h1: '4', h2: '4', h3: '4' },
      expect: { h1: "Pending: 0/3 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity], 1 node(s) didn't have free ports for the requested pod ports.", h2: 'bound', h3: 'bound' },
      status: { desiredNumberScheduled: 3, currentNumberScheduled: 3 },
    },
    {
      name: 'a cordoned node still runs its daemon pod, which tolerates node.kubernetes.io/unschedulable',
      objects: [node('h1'), node('h2', { unschedulable: true }), daemonSet({ cpu: '1' })],
      observed: { h1: '4', h2: '4' },
      expect: { h1: 'bound', h2: 'bound' },
      status: { desiredNumberScheduled: 2, currentNumberScheduled: 2 },
    },
    {
      name: 'a node that is not Ready keeps a new daemon pod Pending (it tolerates only the NoExecute not-ready taint, as in Kubernetes)',
      objects: [node('h1'), node('h2'), daemonSet({ cpu: '1' })],
      observed: { h1: '4', h2: '4 NotReady' },
      expect: { h1: 'bound', h2: "Pending: 0/2 nodes are available: 1 node(s) didn't satisfy plugin(s) [NodeAffinity], 1 node(s) were not ready." },
      status: { desiredNumberScheduled: 2, currentNumberScheduled: 2, numberAvailable: 0 },
    },
    {
      name: 'a node whose taint the daemon does not tolerate gets no pod and is not desired',
      objects: [node('h1'), node('h2', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }), daemonSet({ cpu: '1' })],
      observed: { h1: '4', h2: '4' },
      expect: { h1: 'bound' },
      status: { desiredNumberScheduled: 1, currentNumberScheduled: 1, numberMisscheduled: 0 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = reconcile({ desired: store(c.objects), commit: 'c', observed: observedWith(c.observed), now: at(1) });
      assert.deepEqual(outcomes(r.observed), c.expect);
      const status = statusOf(r.observed);
      for (const [field, value] of Object.entries(c.status)) assert.equal(status[field], value, field);
    });
  }

  it('the Pending pod is reported unschedulable in the actions, with the node it was created for', () => {
    const r = reconcile({ desired: store([...nodes3, daemonSet({ cpu: '1' })]), commit: 'c', observed: observedWith({ h1: '4', h2: '4', h3: '500m' }), now: at(1) });
    const created = r.actions.filter((a) => a.type === 'createPod');
    assert.deepEqual(created.map((a) => a.type === 'createPod' && a.node).sort(), ['h1', 'h2', undefined]);
    const unschedulable = r.actions.filter((a) => a.type === 'unschedulable');
    assert.equal(unschedulable.length, 1);
    assert.match(unschedulable[0].type === 'unschedulable' ? unschedulable[0].message : '', /1 Insufficient cpu/);
  });

  it('status counts the Pending pod as scheduled but unavailable, as Kubernetes does, once the others are ready', () => {
    const first = reconcile({ desired: store([...nodes3, daemonSet({ cpu: '1' })]), commit: 'c', observed: observedWith({ h1: '4', h2: '4', h3: '500m' }), now: at(1) });
    const again = reconcile({ desired: store([...nodes3, daemonSet({ cpu: '1' })]), commit: 'c', observed: markReady(first.observed), now: at(2) });
    assert.deepEqual(statusOf(again.observed), {
      observedCommit: 'c',
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberMisscheduled: 0,
      updatedNumberScheduled: 3,
      numberReady: 2,
      numberAvailable: 2,
      numberUnavailable: 1,
    });
    assert.equal(daemonPods(again.observed).length, 3, 'no second pod is created for the node with the Pending one');
    assert.deepEqual(again.actions.filter((a) => a.type === 'createPod' || a.type === 'unschedulable'), [], 'an unchanged reason is not reported again');
  });

  it('the Pending pod is bound on a later pass once the pod that held the cpu is gone', () => {
    const objects = [...nodes3, daemonSet({ cpu: '1' })];
    const first = reconcile({ desired: store([...objects, boundPod('big', 'h2', { cpu: '3500m' })]), commit: 'c', observed: observedWith({ h1: '4', h2: '4', h3: '4' }), now: at(1) });
    assert.match(outcomes(first.observed).h2, /Insufficient cpu/);
    const deleting = reconcile({ desired: store(objects), commit: 'c2', observed: first.observed, now: at(2) });
    assert.match(outcomes(deleting.observed).h2, /Insufficient cpu/, 'a terminating pod holds its cpu until it is gone');
    const gone = reconcile({ desired: store(objects), commit: 'c2', observed: dropDeleted(deleting.observed), now: at(3) });
    assert.equal(outcomes(gone.observed).h2, 'bound');
    assert.ok(gone.actions.some((a) => a.type === 'bindPod' && a.node === 'h2'));
  });

  it('a Pending daemon pod for a node that stops being eligible is deleted at once', () => {
    const first = reconcile({ desired: store([...nodes3, daemonSet({ cpu: '1' })]), commit: 'c', observed: observedWith({ h1: '4', h2: '4', h3: '500m' }), now: at(1) });
    const tainted = node('h3', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] });
    const r = reconcile({ desired: store([node('h1'), node('h2'), tainted, daemonSet({ cpu: '1' })]), commit: 'c2', observed: first.observed, now: at(2) });
    assert.deepEqual(Object.keys(outcomes(r.observed)).sort(), ['h1', 'h2']);
    assert.ok(r.actions.some((a) => a.type === 'deletePod' && a.node === undefined));
    assert.equal(statusOf(r.observed).desiredNumberScheduled, 2);
  });
});
