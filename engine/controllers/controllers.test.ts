import assert from 'node:assert/strict';
import type { Cluster, DaemonSet, ReplicaSet, ReplicationController, Service } from '../../schemas/types.generated.ts';
import { reconcile } from './index.ts';
import { CLUSTER, barePod, deployment, dropDeleted, emptyObserved, markReady, node, service, store } from './testing.ts';
import type { NodeObject, ObservedState, PodObject } from '../model.ts';
import { allocateIP, resolveTargetPort } from './service.ts';
import { parseCidr } from './ip.ts';
import { assignPodCIDRs, evictionTime } from './node-lifecycle.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);
const nodes = [node('h1'), node('h2'), node('h3')];
const active = (o: ObservedState): PodObject[] => [...o.pods.values()].filter((p) => !p.metadata.deletionTimestamp);

function observedNode(name: string, heartbeatSecondsAgo: number, now: number, ready: 'True' | 'False' | 'Unknown' = 'True', since = T0): NodeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: {},
    status: { addresses: [], allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, conditions: [{ type: 'Ready', status: ready, lastTransitionTime: new Date(since).toISOString() }], lastHeartbeatTime: new Date(now - heartbeatSecondsAgo * 1000).toISOString() },
  };
}

function daemonSet(name: string, extra: Partial<DaemonSet['spec']> = {}, image = 'agent:1'): DaemonSet {
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace: 'default' }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image }] } }, ...extra } } as DaemonSet;
}

describe('Service controller', () => {
  it('allocates a ClusterIP from namespace/name and keeps it across passes', () => {
    const desired = store([...nodes, service('web')]);
    const first = reconcile({ desired, commit: 'c', observed: emptyObserved(), now: at(0) });
    const ip = first.observed.services.get('default/web')!.spec.clusterIP;
    assert.match(ip, /^100\.127\.0\.\d+$/);
    const again = reconcile({ desired, commit: 'c', observed: first.observed, now: at(1) });
    assert.equal(again.observed.services.get('default/web')!.spec.clusterIP, ip);
    assert.deepEqual(again.actions, []);
  });

  it('takes spec.clusterIP as given and probes past it for a colliding name', () => {
    const used = new Set<string>();
    const cidr = parseCidr('100.127.0.0/24');
    const first = allocateIP(cidr, 'default/a', used);
    const second = allocateIP(cidr, 'default/a', used);
    assert.notEqual(first, second);
    const r = reconcile({ desired: store([...nodes, service('web', { clusterIP: '100.127.0.10' })]), commit: 'c', observed: emptyObserved(), now: at(0) });
    assert.equal(r.observed.services.get('default/web')!.spec.clusterIP, '100.127.0.10');
  });

  it('a Service that finds its CIDR full waits with a config error naming the range, and every other Service and pod is reconciled', () => {
    const small: Cluster = { ...CLUSTER, spec: { ...CLUSTER.spec, serviceCIDR: '100.127.0.0/29' } };
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const r = reconcile({ desired: store([...nodes, deployment('web', { replicas: 2 }), ...names.map((n) => service(n))], small), commit: 'c', observed: emptyObserved(), now: at(0) });
    const errors = r.actions.filter((a) => a.type === 'configError') as Array<{ workload: string; message: string }>;
    assert.equal(r.observed.services.size, 5, 'a /29 has 5 usable service addresses');
    assert.equal(errors.length, 2);
    for (const e of errors) assert.match(e.message, /service CIDR 100\.127\.0\.0\/29 is full \(5 addresses\)/);
    assert.equal(r.actions.filter((a) => a.type === 'createPod').length, 2);
  });

  it('sends a ClientIP Service to the proxies with its sessionAffinityConfig timeout', () => {
    const sticky = { ...service('web'), spec: { ...service('web').spec, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } } } as Service;
    const r = reconcile({ desired: store([...nodes, sticky]), commit: 'c', observed: emptyObserved(), now: at(0) });
    const sent = r.nodeStates.get('h1')!.services.find((s) => s.name === 'web')!;
    assert.equal(sent.sessionAffinity, 'ClientIP');
    assert.equal(sent.sessionAffinityTimeoutSeconds, 60);
  });

  it('a headless service gets endpoints and no VIP, and is not sent to the proxies', () => {
    let o = reconcile({ desired: store([...nodes, deployment('db', { replicas: 2 }), service('db', { clusterIP: 'None' })]), commit: 'c', observed: emptyObserved(), now: at(0) }).observed;
    o = markReady(o);
    const r = reconcile({ desired: store([...nodes, deployment('db', { replicas: 2 }), service('db', { clusterIP: 'None' })]), commit: 'c', observed: o, now: at(1) });
    const svc = r.observed.services.get('default/db')!;
    assert.equal(svc.spec.clusterIP, 'None');
    assert.equal(svc.status.endpoints[0].addresses.length, 2);
    assert.deepEqual(r.nodeStates.get('h1')!.services, []);
  });

  it('NodePort services get a port in the cluster range that stays the same', () => {
    const desired = store([...nodes, service('web', { type: 'NodePort' })]);
    const first = reconcile({ desired, commit: 'c', observed: emptyObserved(), now: at(0) });
    const port = first.observed.services.get('default/web')!.spec.ports[0].nodePort!;
    assert.ok(port >= 30000 && port <= 32767);
    assert.equal(reconcile({ desired, commit: 'c', observed: first.observed, now: at(1) }).observed.services.get('default/web')!.spec.ports[0].nodePort, port);
  });

  it('endpoints are the ready pods only, with targetPort resolved by container port name', () => {
    const objects = [...nodes, deployment('web', { replicas: 3 }), service('web', { targetPort: 'http' })];
    let o = reconcile({ desired: store(objects), commit: 'c', observed: emptyObserved(), now: at(0) }).observed;
    const [first] = active(o);
    o = markReady(o, (p) => p !== first);
    const r = reconcile({ desired: store(objects), commit: 'c', observed: o, now: at(1) });
    const addresses = r.observed.services.get('default/web')!.status.endpoints[0].addresses;
    assert.equal(addresses.length, 2);
    assert.ok(addresses.every((a) => a.port === 8080));
    const proxied = r.nodeStates.get('h2')!.services[0];
    assert.equal(proxied.ports[0].endpoints.length, 2);
    assert.equal(r.actions.filter((a) => a.type === 'endpoints').length, 1);
  });

  it('a targetPort name the pod does not declare gives no endpoint for that pod', () => {
    const pod = { spec: { containers: [{ name: 'c', image: 'i', ports: [{ name: 'web', containerPort: 80 }] }] } } as unknown as PodObject;
    assert.equal(resolveTargetPort(pod, 'http', 'TCP'), undefined);
    assert.equal(resolveTargetPort(pod, 'web', 'TCP'), 80);
    assert.equal(resolveTargetPort(pod, 9000, 'TCP'), 9000);
  });

  it('a removed Service is released', () => {
    const first = reconcile({ desired: store([...nodes, service('web')]), commit: 'c', observed: emptyObserved(), now: at(0) });
    const r = reconcile({ desired: store([...nodes]), commit: 'c2', observed: first.observed, now: at(1) });
    assert.equal(r.observed.services.size, 0);
    assert.equal(r.actions[0].type, 'releaseService');
  });

  it('pods get <NAME>_SERVICE_HOST and _PORT for services that existed when they were created', () => {
    const r = reconcile({ desired: store([...nodes, service('my-db', { port: 5432 }), deployment('web', { replicas: 1 })]), commit: 'c', observed: emptyObserved(), now: at(0) });
    const pod = [...r.nodeStates.values()].flatMap((s) => s.pods)[0];
    const ip = r.observed.services.get('default/my-db')!.spec.clusterIP;
    assert.equal(pod.serviceEnv?.MY_DB_SERVICE_HOST, ip);
    assert.equal(pod.serviceEnv?.MY_DB_SERVICE_PORT, '5432');
  });
});

describe('Node lifecycle', () => {
  it('a node whose heartbeat is older than the grace period becomes Ready=Unknown', () => {
    const now = T0 + 60_000;
    const observed = { ...emptyObserved(), nodes: new Map([['h1', observedNode('h1', 30, now)]]) };
    const r = reconcile({ desired: store([node('h1')]), commit: 'c', observed, now: new Date(now) });
    const ready = r.observed.nodes.get('h1')!.status.conditions.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'Unknown');
    assert.equal(ready?.reason, 'NodeStatusUnknown');
  });

  it('a fresh heartbeat asks to be checked again when the grace period would run out', () => {
    const now = T0 + 60_000;
    const observed = { ...emptyObserved(), nodes: new Map([['h1', observedNode('h1', 2, now)]]) };
    const r = reconcile({ desired: store([node('h1')]), commit: 'c', observed, now: new Date(now) });
    assert.equal(r.requeueAfterMs, 6_001);
  });

  it('pods on an unreachable node are evicted after the timeout and replaced elsewhere', () => {
    const objects = [...nodes, deployment('web', { replicas: 3 })];
    const o = markReady(reconcile({ desired: store(objects), commit: 'c', observed: emptyObserved(), now: at(0) }).observed);
    const lost = observedNode('h1', 100, T0 + 100_000, 'Unknown', T0 + 50_000);
    const observed = { ...o, nodes: new Map([...o.nodes, ['h1', lost]]) };
    const early = reconcile({ desired: store(objects), commit: 'c', observed, now: at(60) });
    assert.equal(early.actions.filter((a) => a.type === 'deletePod').length, 0);
    const late = reconcile({ desired: store(objects), commit: 'c', observed, now: at(70) });
    const deleted = late.actions.filter((a) => a.type === 'deletePod');
    assert.equal(deleted.length, 1);
    assert.equal((deleted[0] as { node?: string }).node, 'h1');
    const replacement = late.actions.find((a) => a.type === 'createPod') as { node?: string };
    assert.ok(replacement && replacement.node !== 'h1', 'the replacement avoids the unreachable node');
  });

  const tolerationCases: Array<[string, PodObject['spec']['tolerations'], number | undefined]> = [
    ['without a toleration a pod is evicted after the cluster timeout', [], 15_000],
    ['tolerationSeconds shortens or lengthens the wait', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 120 }], 120_000],
    ['a toleration without seconds is never evicted', [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' }], undefined],
  ];
  for (const [name, tolerations, expected] of tolerationCases) {
    it(name, () => {
      const pod = { spec: { containers: [], tolerations } } as unknown as PodObject;
      assert.equal(evictionTime(pod, 'node.kubernetes.io/unreachable', 0, 15_000), expected);
    });
  }

  it('a cordoned node gets no new pods', () => {
    const r = reconcile({ desired: store([node('h1', { unschedulable: true }), node('h2'), deployment('web', { replicas: 2 })]), commit: 'c', observed: emptyObserved(), now: at(0) });
    assert.ok(active(r.observed).every((p) => p.spec.nodeName === 'h2'));
  });

  it('podCIDRs come from Git, else from status, else the lowest free /24', () => {
    const observed = new Map([['b', { spec: { podCIDR: '100.64.7.0/24' } } as NodeObject]]);
    const cidrs = assignPodCIDRs([node('a'), node('b'), { ...node('c'), spec: { ...node('c').spec, podCIDR: '100.64.0.0/24' } }], observed, '100.64.0.0/16');
    assert.deepEqual(Object.fromEntries(cidrs), { c: '100.64.0.0/24', b: '100.64.7.0/24', a: '100.64.1.0/24' });
  });

  it('node states route to every other node and carry the cluster ranges', () => {
    const r = reconcile({ desired: store(nodes), commit: 'c', observed: emptyObserved(), now: at(0) });
    const h1 = r.nodeStates.get('h1')!;
    assert.deepEqual(h1.routes, [{ cidr: '100.64.1.0/24', via: '198.18.9.12' }, { cidr: '100.64.2.0/24', via: '198.18.9.13' }]);
    assert.equal(h1.clusterCIDR, '100.64.0.0/16');
    assert.equal(h1.serviceCIDR, '100.127.0.0/24');
  });
});

describe('DaemonSet, ReplicaSet, bare Pod and garbage collection', () => {
  it('a DaemonSet runs one pod on every node that tolerates it, including nodes added later', () => {
    const tainted = node('h3', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] });
    const first = reconcile({ desired: store([node('h1'), node('h2'), tainted, daemonSet('agent')]), commit: 'c', observed: emptyObserved(), now: at(0) });
    assert.deepEqual(active(first.observed).map((p) => p.spec.nodeName).sort(), ['h1', 'h2']);
    const later = reconcile({ desired: store([node('h1'), node('h2'), tainted, node('h4'), daemonSet('agent')]), commit: 'c2', observed: first.observed, now: at(1) });
    assert.deepEqual(active(later.observed).map((p) => p.spec.nodeName).sort(), ['h1', 'h2', 'h4']);
  });

  it('a DaemonSet rolling update replaces at most maxUnavailable pods at a time', () => {
    const o = markReady(reconcile({ desired: store([...nodes, daemonSet('agent')]), commit: 'c', observed: emptyObserved(), now: at(0) }).observed);
    const r = reconcile({ desired: store([...nodes, daemonSet('agent', {}, 'agent:2')]), commit: 'c2', observed: o, now: at(1) });
    assert.equal(r.actions.filter((a) => a.type === 'deletePod').length, 1);
  });

  it('a DaemonSet maxUnavailable percentage rounds up, as Kubernetes rounds it for DaemonSets (30% of 5 nodes is 2)', () => {
    const five = [...nodes, node('h4'), node('h5')];
    const strategy = { updateStrategy: { type: 'RollingUpdate' as const, rollingUpdate: { maxUnavailable: '30%' } } };
    const o = markReady(reconcile({ desired: store([...five, daemonSet('agent', strategy)]), commit: 'c', observed: emptyObserved(), now: at(0) }).observed);
    const r = reconcile({ desired: store([...five, daemonSet('agent', strategy, 'agent:2')]), commit: 'c2', observed: o, now: at(1) });
    assert.equal(r.actions.filter((a) => a.type === 'deletePod').length, 2);
  });

  it('an OnDelete DaemonSet leaves old pods alone', () => {
    const o = markReady(reconcile({ desired: store([...nodes, daemonSet('agent')]), commit: 'c', observed: emptyObserved(), now: at(0) }).observed);
    const r = reconcile({ desired: store([...nodes, daemonSet('agent', { updateStrategy: { type: 'OnDelete' } }, 'agent:2')]), commit: 'c2', observed: o, now: at(1) });
    assert.equal(r.actions.filter((a) => a.type === 'deletePod').length, 0);
  });

  it('a ReplicaSet and a ReplicationController keep their replica counts without rolling', () => {
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'rs', namespace: 'default' }, spec: { replicas: 2, selector: { matchLabels: { app: 'rs' } }, template: { metadata: { labels: { app: 'rs' } }, spec: { containers: [{ name: 'c', image: 'a:1' }] } } } } as ReplicaSet;
    const rc = { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'rc', namespace: 'default' }, spec: { replicas: 3, selector: { app: 'rc' }, template: { metadata: { labels: { app: 'rc' } }, spec: { containers: [{ name: 'c', image: 'a:1' }] } } } } as ReplicationController;
    const first = reconcile({ desired: store([...nodes, rs, rc]), commit: 'c', observed: emptyObserved(), now: at(0) });
    assert.equal(active(first.observed).length, 5);
    const changed = { ...rs, spec: { ...rs.spec, template: { ...rs.spec.template, spec: { containers: [{ name: 'c', image: 'a:2' }] } } } } as ReplicaSet;
    const again = reconcile({ desired: store([...nodes, changed, rc]), commit: 'c2', observed: first.observed, now: at(1) });
    assert.equal(again.actions.filter((a) => a.type === 'createPod' || a.type === 'deletePod').length, 0);
  });

  it('a bare pod is bound once and never moved', () => {
    const first = reconcile({ desired: store([...nodes, barePod('solo')]), commit: 'c', observed: emptyObserved(), now: at(0) });
    const bound = active(first.observed)[0];
    assert.equal(bound.metadata.name, 'solo');
    const again = reconcile({ desired: store([node('h4'), ...nodes, barePod('solo')]), commit: 'c2', observed: first.observed, now: at(1) });
    assert.equal(active(again.observed)[0].spec.nodeName, bound.spec.nodeName);
    assert.deepEqual(again.actions, []);
  });

  it('a bare pod evicted from an unreachable node is not made again while the evicted one is still terminating (one name, one pod)', () => {
    const first = markReady(reconcile({ desired: store([...nodes, barePod('solo')]), commit: 'c', observed: emptyObserved(), now: at(0) }).observed);
    const where = active(first)[0].spec.nodeName!;
    const lost = observedNode(where, 100, T0 + 100_000, 'Unknown', T0 + 50_000);
    const observed = { ...first, nodes: new Map([...first.nodes, [where, lost]]) };
    const late = reconcile({ desired: store([...nodes, barePod('solo')]), commit: 'c', observed, now: at(70) });
    assert.equal(late.actions.filter((a) => a.type === 'deletePod').length, 1);
    assert.equal(late.actions.filter((a) => a.type === 'createPod').length, 0);
    assert.deepEqual([...late.observed.pods.values()].map((p) => p.metadata.name), ['solo']);
  });

  it('objects removed from Git have their pods deleted gracefully', () => {
    const first = reconcile({ desired: store([...nodes, deployment('web', { replicas: 2 }), barePod('solo')]), commit: 'c', observed: emptyObserved(), now: at(0) });
    const r = reconcile({ desired: store(nodes), commit: 'c2', observed: first.observed, now: at(1) });
    assert.equal(r.actions.filter((a) => a.type === 'deletePod').length, 3);
    assert.equal([...r.observed.pods.values()].filter((p) => p.metadata.deletionTimestamp).length, 3);
    assert.deepEqual([...r.nodeStates.values()].flatMap((s) => s.pods), [], 'no node runs them any more');
    assert.equal(r.observed.workloads.size, 0);
    assert.equal(dropDeleted(r.observed).pods.size, 0);
  });

  it('an unschedulable pod keeps PodScheduled=False with kube-scheduler’s sentence', () => {
    const r = reconcile({ desired: store([node('h1', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }), deployment('web', { replicas: 1 })]), commit: 'c', observed: emptyObserved(), now: at(0) });
    const pod = active(r.observed)[0];
    const condition = pod.status.conditions.find((c) => c.type === 'PodScheduled');
    assert.equal(condition?.message, '0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.');
    assert.ok(r.requeueAfterMs !== undefined);
  });
});
