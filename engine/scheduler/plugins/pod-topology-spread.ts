/**
 * PodTopologySpread: `topologySpreadConstraints` with DoNotSchedule filter,
 * ScheduleAnyway ones score. A pod without constraints that has an owner gets
 * kube-scheduler's system defaults (hostname maxSkew 3, zone maxSkew 5),
 * counted over the pods of that one owner — what SelectorSpread used to do.
 */
import type { LabelSelector } from '../../../schemas/types.generated.ts';
import { MAX_NODE_SCORE, SKIP, unresolvable, unschedulable, type CycleState, type FilterPlugin, type NodeInfo, type PodInfo, type ScorePlugin, type SnapshotView } from '../framework.ts';
import { matchesSelector } from '../labels.ts';
import { nodeMatchesPod } from './node-affinity.ts';
import { HOSTNAME_LABEL } from '../snapshot.ts';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

interface Constraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  labelSelector?: LabelSelector;
  minDomains?: number;
}

interface Counted {
  key: string;
  maxSkew: number;
  counts: Map<string, number>;
  min: number;
  selfMatch: number;
}

function constraintsOf(pod: PodInfo): Constraint[] {
  // Not in the Pod schema yet; read defensively so the plugin is ready when it is.
  return ((pod.spec as { topologySpreadConstraints?: Constraint[] }).topologySpreadConstraints ?? []);
}

function countConstraint(c: Constraint, pod: PodInfo, snapshot: SnapshotView): Counted {
  const counts = new Map<string, number>();
  const matchLabels = c.labelSelector?.matchLabels ?? {};
  const first = Object.keys(matchLabels)[0];
  const candidates = first !== undefined ? snapshot.podsWithLabel(first, matchLabels[first]) : snapshot.allPods();
  for (const p of candidates) {
    if (p.namespace !== pod.namespace || !matchesSelector(p.labels, c.labelSelector)) continue;
    const v = p.nodeName ? snapshot.node(p.nodeName)?.labels[c.topologyKey] : undefined;
    if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  let domains: Iterable<string>;
  let domainCount: number;
  const selector = pod.spec.nodeSelector as Record<string, string> | undefined;
  if (pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution || (selector && Object.keys(selector).length > 0)) {
    const eligible = new Set<string>();
    for (const n of snapshot.nodes) if (nodeMatchesPod(pod, n) && n.labels[c.topologyKey] !== undefined) eligible.add(n.labels[c.topologyKey]);
    domains = eligible;
    domainCount = eligible.size;
  } else {
    const all = snapshot.topologyDomains(c.topologyKey);
    domains = all.keys();
    domainCount = all.size;
  }
  let min = Infinity;
  for (const d of domains) {
    const n = counts.get(d) ?? 0;
    if (n < min) min = n;
  }
  if (min === Infinity) min = 0;
  if (c.minDomains && domainCount < c.minDomains) min = 0;
  return { key: c.topologyKey, maxSkew: c.maxSkew, counts, min, selfMatch: matchesSelector(pod.labels, c.labelSelector) ? 1 : 0 };
}

const FILTER_KEY = 'PodTopologySpread/filter';

export const podTopologySpreadFilter = {
  name: 'PodTopologySpread',
  preFilter(state, pod, snapshot) {
    const hard = constraintsOf(pod).filter((c) => c.whenUnsatisfiable === 'DoNotSchedule');
    if (hard.length === 0) return SKIP;
    state.set(FILTER_KEY, hard.map((c) => countConstraint(c, pod, snapshot)));
    return null;
  },
  filter(state, _pod, node) {
    for (const c of state.get(FILTER_KEY) as Counted[]) {
      const v = node.labels[c.key];
      if (v === undefined) return unresolvable('PodTopologySpread', "node(s) didn't match pod topology spread constraints (missing required label)");
      if ((c.counts.get(v) ?? 0) + c.selfMatch - c.min > c.maxSkew) return unschedulable('PodTopologySpread', "node(s) didn't match pod topology spread constraints");
    }
    return null;
  },
} satisfies FilterPlugin;

/** Counts per node name (hostname spreading of one owner) or per value of a topology label. */
type Scorer = { weight: number; maxSkew: number; key: string; byValue?: ReadonlyMap<string, number>; owner?: string };

function countFor(s: Scorer, node: NodeInfo): number {
  if (s.owner !== undefined) return node.ownerCounts.get(s.owner) ?? 0;
  const v = node.labels[s.key];
  return v === undefined ? 0 : (s.byValue!.get(v) ?? 0);
}

const SCORE_KEY = 'PodTopologySpread/score';

export const podTopologySpreadScore = {
  name: 'PodTopologySpread',
  preScore(state: CycleState, pod: PodInfo, _nodes, snapshot: SnapshotView) {
    const scorers: Scorer[] = [];
    const constraints = constraintsOf(pod);
    if (constraints.length > 0) {
      for (const c of constraints) {
        if (c.whenUnsatisfiable !== 'ScheduleAnyway') continue;
        const counted = countConstraint(c, pod, snapshot);
        const weight = Math.log(snapshot.topologyDomains(c.topologyKey).size + 2);
        scorers.push({ weight, maxSkew: c.maxSkew, key: c.topologyKey, byValue: counted.counts });
      }
    } else if (pod.owner) {
      const owner = pod.owner;
      scorers.push({ weight: Math.log(snapshot.nodes.length + 2), maxSkew: 3, key: HOSTNAME_LABEL, owner });
      if (snapshot.topologyDomains(ZONE_LABEL).size > 1) {
        const zones = snapshot.ownerDomainCounts(owner, ZONE_LABEL);
        scorers.push({ weight: Math.log(snapshot.topologyDomains(ZONE_LABEL).size + 2), maxSkew: 5, key: ZONE_LABEL, byValue: zones });
      }
    }
    if (scorers.length === 0) return SKIP;
    state.set(SCORE_KEY, scorers);
  },
  score(state, _pod, node) {
    let total = 0;
    for (const s of state.get(SCORE_KEY) as Scorer[]) total += (countFor(s, node) + s.maxSkew - 1) * s.weight;
    return total;
  },
  scoreNodes(state, _pod, nodes, out, snapshot) {
    const scorers = state.get(SCORE_KEY) as Scorer[];
    for (const s of scorers) {
      const base = (s.maxSkew - 1) * s.weight;
      if (s.owner !== undefined) {
        const counts = snapshot.ownerNodeCounts(s.owner);
        for (let i = 0; i < nodes.length; i++) out[i] += counts[nodes[i].index] * s.weight + base;
      } else {
        const { values, ofNode } = snapshot.topologyValueIndex(s.key);
        const counts = values.map((v) => s.byValue!.get(v) ?? 0);
        for (let i = 0; i < nodes.length; i++) {
          const position = ofNode[nodes[i].index];
          out[i] += (position < 0 ? 0 : counts[position]) * s.weight + base;
        }
      }
    }
  },
  normalize(_state, _pod, scores) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (s < min) min = s;
      if (s > max) max = s;
    }
    if (max === min) {
      scores.fill(MAX_NODE_SCORE);
      return;
    }
    const range = max - min;
    for (let i = 0; i < scores.length; i++) scores[i] = Math.round(((max - scores[i]) * MAX_NODE_SCORE) / range);
  },
} satisfies ScorePlugin;
