import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PodSpec, TopologySpreadConstraint } from '../../../schemas/types.generated.ts';
import { Scheduler, Snapshot, podInfo, type NodeInput, type PodInfo } from '../index.ts';
import { podTopologySpreadScore, ZONE_LABEL } from './pod-topology-spread.ts';

const GiB = 1024 ** 3;
const ZONE = ZONE_LABEL;
const HOSTNAME = 'kubernetes.io/hostname';

/** A ready node in a zone (none: no zone label). */
function nodeIn(name: string, zone: string | undefined, extra: Partial<NodeInput> = {}): NodeInput {
  const { labels, ...rest } = extra;
  return {
    name,
    allocatable: { milliCPU: 4000, memory: 8 * GiB, pods: 110 },
    conditions: [{ type: 'Ready', status: 'True' }],
    ...rest,
    labels: { ...(zone ? { [ZONE]: zone } : {}), ...labels },
  };
}

function spread(key: string, maxSkew: number, extra: Partial<TopologySpreadConstraint> = {}): TopologySpreadConstraint {
  return { maxSkew, topologyKey: key, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } }, ...extra };
}

function pod(name: string, labels: Record<string, string>, spec: Partial<PodSpec> = {}, namespace = 'default'): PodInfo {
  return podInfo({ namespace, name, labels, spec: { containers: [{ name: 'c', image: 'img:1' }], ...spec } as PodSpec });
}
const web = (name: string, extra: Record<string, string> = {}) => pod(name, { app: 'web', ...extra });
const podWithSpread = (name: string, constraints: TopologySpreadConstraint[], spec: Partial<PodSpec> = {}, labels: Record<string, string> = { app: 'web' }) =>
  pod(name, labels, { ...spec, topologySpreadConstraints: constraints });
const filler = (name: string) => pod(name, { app: 'filler' }, { containers: [{ name: 'c', image: 'img:1', resources: { requests: { cpu: '1', memory: '2Gi' } } }] } as Partial<PodSpec>);

function scheduleOne(nodes: NodeInput[], p: PodInfo, bound: Array<[PodInfo, string]> = []) {
  const snapshot = new Snapshot(nodes);
  for (const [b, n] of bound) snapshot.assume(b, n);
  return new Scheduler(snapshot).schedule(p);
}

describe('PodTopologySpread filter (DoNotSchedule)', () => {
  const gpuTaint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' as const };
  const cases: Array<{ name: string; nodes: NodeInput[]; pod: PodInfo; bound?: Array<[PodInfo, string]>; expect: string }> = [
    {
      name: 'maxSkew 1 over zones sends the pod to the zone with fewer matching pods',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z1'), nodeIn('c', 'z2')],
      pod: podWithSpread('p', [spread(ZONE, 1)]),
      bound: [[web('w1'), 'a']],
      expect: 'c',
    },
    {
      name: 'a pod that would exceed maxSkew everywhere it fits is refused in kube-scheduler words',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z2', { taints: [gpuTaint] })],
      pod: podWithSpread('p', [spread(ZONE, 1)]),
      bound: [[web('w1'), 'a']],
      expect: "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) had untolerated taint {dedicated: gpu}.",
    },
    {
      name: 'nodeTaintsPolicy Honor leaves a zone the pod cannot tolerate out of the minimum',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z2', { taints: [gpuTaint] })],
      pod: podWithSpread('p', [spread(ZONE, 1, { nodeTaintsPolicy: 'Honor' })]),
      bound: [[web('w1'), 'a']],
      expect: 'a',
    },
    {
      name: 'nodeAffinityPolicy Honor (the default) measures the skew only over domains the pod may run in',
      nodes: [nodeIn('a', 'z1', { labels: { disk: 'ssd' } }), nodeIn('b', 'z2')],
      pod: podWithSpread('p', [spread(ZONE, 1)], { nodeSelector: { disk: 'ssd' } }),
      bound: [[web('w1'), 'a']],
      expect: 'a',
    },
    {
      name: 'nodeAffinityPolicy Ignore counts the empty zone the pod may not run in, so the pod fits nowhere',
      nodes: [nodeIn('a', 'z1', { labels: { disk: 'ssd' } }), nodeIn('b', 'z2')],
      pod: podWithSpread('p', [spread(ZONE, 1, { nodeAffinityPolicy: 'Ignore' })], { nodeSelector: { disk: 'ssd' } }),
      bound: [[web('w1'), 'a']],
      expect: "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't match pod topology spread constraints.",
    },
    {
      name: 'a node without the topology key is refused as unresolvable',
      nodes: [nodeIn('a', undefined), nodeIn('b', undefined)],
      pod: podWithSpread('p', [spread(ZONE, 1)]),
      expect: "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints (missing required label).",
    },
    {
      name: 'with fewer domains than minDomains the minimum is zero, so a second pod per zone is refused',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z2')],
      pod: podWithSpread('p', [spread(ZONE, 1, { minDomains: 3 })]),
      bound: [[web('w1'), 'a'], [web('w2'), 'b']],
      expect: "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints.",
    },
    {
      name: 'with as many domains as minDomains the minimum is the real one',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z2')],
      pod: podWithSpread('p', [spread(ZONE, 1, { minDomains: 2 })]),
      bound: [[web('w1'), 'a'], [web('w2'), 'b'], [web('w3'), 'b']],
      expect: 'a',
    },
    {
      name: 'a pod its own selector does not match adds nothing to the skew',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z2', { unschedulable: true })],
      pod: podWithSpread('p', [spread(ZONE, 1)], {}, { app: 'other' }),
      bound: [[web('w1'), 'a']],
      expect: 'a',
    },
    {
      name: 'matching pods in another namespace do not count',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z2', { unschedulable: true })],
      pod: podWithSpread('p', [spread(ZONE, 1)]),
      bound: [[pod('w1', { app: 'web' }, {}, 'other'), 'a']],
      expect: 'a',
    },
    {
      name: 'matchLabelKeys counts only the pods of the same pod-template-hash',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z2', { unschedulable: true })],
      pod: podWithSpread('p', [spread(ZONE, 1, { matchLabelKeys: ['pod-template-hash'] })], {}, { app: 'web', 'pod-template-hash': 'new' }),
      bound: [[web('w1', { 'pod-template-hash': 'old' }), 'a']],
      expect: 'a',
    },
    {
      name: 'without matchLabelKeys the old pods count and the pod is refused',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z2', { unschedulable: true })],
      pod: podWithSpread('p', [spread(ZONE, 1)], {}, { app: 'web', 'pod-template-hash': 'new' }),
      bound: [[web('w1', { 'pod-template-hash': 'old' }), 'a']],
      expect: "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) were unschedulable.",
    },
    {
      name: 'two constraints must both hold: hostname maxSkew 1 and zone maxSkew 1',
      nodes: [nodeIn('a', 'z1'), nodeIn('b', 'z1'), nodeIn('c', 'z2'), nodeIn('d', 'z2')],
      pod: podWithSpread('p', [spread(ZONE, 1), spread(HOSTNAME, 1)]),
      bound: [[web('w1'), 'a'], [web('w2'), 'c'], [web('w3'), 'b']],
      expect: 'd',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = scheduleOne(c.nodes, c.pod, c.bound);
      assert.equal(result.ok ? result.binding.node : result.error.message, c.expect);
    });
  }

  it('hostname spreading with maxSkew 1 fills every node once before any node gets a second pod', () => {
    const snapshot = new Snapshot(['a', 'b', 'c', 'd'].map((n) => nodeIn(n, 'z1')));
    const scheduler = new Scheduler(snapshot);
    const nodes = Array.from({ length: 8 }, (_, i) => {
      const r = scheduler.schedule(podWithSpread(`p${i}`, [spread(HOSTNAME, 1)]));
      return r.ok ? r.binding.node : r.error.message;
    });
    assert.deepEqual(nodes.slice(0, 4).sort(), ['a', 'b', 'c', 'd']);
    assert.deepEqual(nodes.slice(4).sort(), ['a', 'b', 'c', 'd']);
  });
});

/** Matching pods per domain over the nodes that carry the key. */
function skewOf(snapshot: Snapshot, key: string): number {
  const counts = new Map<string, number>();
  for (const node of snapshot.nodes) {
    const value = node.labels[key];
    if (value === undefined) continue;
    counts.set(value, (counts.get(value) ?? 0) + node.pods.filter((p) => p.labels.app === 'web').length);
  }
  const values = [...counts.values()];
  return Math.max(...values) - Math.min(...values);
}

describe('PodTopologySpread property', () => {
  it('DoNotSchedule never produces a skew above maxSkew, whatever the nodes, capacities and pod mix', () => {
    const scenario = fc.record({
      zones: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
      capacity: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 8, maxLength: 8 }),
      key: fc.constantFrom(ZONE, HOSTNAME),
      maxSkew: fc.integer({ min: 1, max: 3 }),
      minDomains: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      pods: fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
    });
    fc.assert(
      fc.property(scenario, ({ zones, capacity, key, maxSkew, minDomains, pods }) => {
        const snapshot = new Snapshot(zones.map((z, i) => ({ ...nodeIn(`n${i}`, `z${z}`), allocatable: { milliCPU: 4000, memory: 8 * GiB, pods: capacity[i] } })));
        const scheduler = new Scheduler(snapshot);
        pods.forEach((matching, i) => {
          const constraint = spread(key, maxSkew, minDomains === undefined ? {} : { minDomains });
          scheduler.schedule(matching ? podWithSpread(`p${i}`, [constraint]) : pod(`q${i}`, { app: 'other' }));
          assert.ok(skewOf(snapshot, key) <= maxSkew, `skew ${skewOf(snapshot, key)} > maxSkew ${maxSkew} after pod ${i}`);
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('PodTopologySpread score (ScheduleAnyway)', () => {
  const soft = (key: string, maxSkew: number) => spread(key, maxSkew, { whenUnsatisfiable: 'ScheduleAnyway' });

  it('prefers the zone with fewer matching pods over the emptier node LeastAllocated would pick', () => {
    const nodes = [nodeIn('a', 'z1'), nodeIn('b', 'z2')];
    const bound: Array<[PodInfo, string]> = [[web('w1'), 'a'], [filler('f1'), 'b']];
    const without = scheduleOne(nodes, web('p'), bound);
    const withSpread = scheduleOne(nodes, podWithSpread('p', [soft(ZONE, 1)]), bound);
    assert.ok(without.ok && without.binding.node === 'a', 'LeastAllocated alone picks the emptier node');
    assert.ok(withSpread.ok && withSpread.binding.node === 'b');
    assert.equal(withSpread.binding.scores.PodTopologySpread, 200, 'the best node gets 100, weighted 2 as in kube-scheduler');
  });

  it('never refuses a node: the only node left takes the pod however skewed', () => {
    const r = scheduleOne([nodeIn('a', 'z1'), nodeIn('b', 'z2', { unschedulable: true })], podWithSpread('p', [soft(ZONE, 1)]), [[web('w1'), 'a'], [web('w2'), 'a']]);
    assert.ok(r.ok && r.binding.node === 'a');
  });

  it('normalizes as kube-scheduler: 100 × (max + min − score) / max, and 0 for a node without the key', () => {
    const snapshot = new Snapshot([nodeIn('a', 'z1'), nodeIn('b', 'z1'), nodeIn('c', 'z2'), nodeIn('d', undefined)]);
    for (const [p, n] of [[web('w1'), 'a'], [web('w2'), 'b'], [web('w3'), 'b']] as const) snapshot.assume(p, n);
    const p = podWithSpread('p', [soft(ZONE, 2)]);
    const state = new Map<string, unknown>();
    podTopologySpreadScore.preScore(state, p, snapshot.nodes, snapshot);
    const scores = new Float64Array(snapshot.nodes.length);
    podTopologySpreadScore.scoreNodes(state, p, snapshot.nodes, scores, snapshot);
    // Two domains among the scored nodes: weight ln 4; z1 holds 3 pods, z2 none; maxSkew 2 adds one weight.
    const w = Math.log(4);
    assert.deepEqual([...scores], [Math.round(4 * w), Math.round(4 * w), Math.round(w), -1]);
    podTopologySpreadScore.normalize(state, p, scores);
    const max = Math.round(4 * w);
    const min = Math.round(w);
    assert.deepEqual([...scores], [Math.floor((100 * min) / max), Math.floor((100 * min) / max), 100, 0]);
  });

  it('score() and scoreNodes() agree for owner spreading and for the pod’s own constraints', () => {
    const scenario = fc.record({
      zones: fc.array(fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), { minLength: 1, maxLength: 8 }),
      bound: fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 20 }),
      own: fc.boolean(),
      maxSkew: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(scenario, ({ zones, bound, own, maxSkew }) => {
        const snapshot = new Snapshot(zones.map((z, i) => nodeIn(`n${i}`, z === undefined ? undefined : `z${z}`)));
        const owner = 'ReplicaSet/default/web';
        bound.forEach(([n, mine], i) => snapshot.assume(podInfo({ namespace: 'default', name: `b${i}`, labels: { app: mine ? 'web' : 'x' }, owner: mine ? owner : undefined, spec: { containers: [{ name: 'c', image: 'i' }] } }), `n${n % zones.length}`));
        const p = podInfo({ namespace: 'default', name: 'p', labels: { app: 'web' }, owner, spec: { containers: [{ name: 'c', image: 'i' }], ...(own ? { topologySpreadConstraints: [soft(ZONE, maxSkew), soft(HOSTNAME, maxSkew)] } : {}) } });
        const state = new Map<string, unknown>();
        if (podTopologySpreadScore.preScore(state, p, snapshot.nodes, snapshot) === 'skip') return;
        const batch = new Float64Array(snapshot.nodes.length);
        podTopologySpreadScore.scoreNodes(state, p, snapshot.nodes, batch, snapshot);
        assert.deepEqual([...batch], snapshot.nodes.map((n) => podTopologySpreadScore.score(state, p, n)));
      }),
      { numRuns: 200 },
    );
  });
});
