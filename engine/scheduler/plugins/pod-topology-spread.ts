/**
 * PodTopologySpread, with kube-scheduler's semantics.
 *
 * A constraint counts the pods its selector matches (in the pod's namespace)
 * per domain, a domain being one value of its topology key. Only nodes that
 * carry every topology key of the pod's constraints and pass the node
 * inclusion policies count — nodeAffinityPolicy (default Honor: the pod's
 * nodeSelector and required node affinity) and nodeTaintsPolicy (default
 * Ignore: untolerated NoSchedule/NoExecute taints) — and their values are the
 * eligible domains.
 *
 * DoNotSchedule constraints filter: a node is refused when the count in its
 * domain, plus one if the pod matches its own selector, minus the minimum over
 * the eligible domains (zero while there are fewer than minDomains) exceeds
 * maxSkew. ScheduleAnyway constraints score: fewer matching pods in a node's
 * domain is better, each constraint weighted by log(domains + 2).
 *
 * A pod without constraints that has an owner gets the system defaults
 * (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway), counted over the pods
 * of that one owner — what SelectorSpread used to do.
 */
import type { LabelSelector, TopologySpreadConstraint } from '../../../schemas/types.generated.ts';
import { MAX_NODE_SCORE, SKIP, unresolvable, unschedulable, type CycleState, type FilterPlugin, type NodeInfo, type PodInfo, type ScorePlugin, type SnapshotView } from '../framework.ts';
import { matchesSelector } from '../labels.ts';
import { nodeMatchesPod } from './node-affinity.ts';
import { untoleratedTaint } from './taint-toleration.ts';
import { HOSTNAME_LABEL } from '../snapshot.ts';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export const MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)";
export const SKEW_EXCEEDED = "node(s) didn't match pod topology spread constraints";

/** One of the pod's constraints: matchLabelKeys folded into the selector, policies defaulted. */
export interface Spread {
  key: string;
  maxSkew: number;
  /** Undefined matches no pod, as in Kubernetes. */
  selector: LabelSelector | undefined;
  minDomains: number;
  honorNodeAffinity: boolean;
  honorNodeTaints: boolean;
}

function selectorOf(c: TopologySpreadConstraint, pod: PodInfo): LabelSelector | undefined {
  if (!c.labelSelector || !c.matchLabelKeys?.length) return c.labelSelector;
  const matchLabels = { ...(c.labelSelector.matchLabels ?? {}) };
  for (const key of c.matchLabelKeys) if (pod.labels[key] !== undefined) matchLabels[key] = pod.labels[key];
  return { ...c.labelSelector, matchLabels };
}

export function spreadsOf(pod: PodInfo, when: TopologySpreadConstraint['whenUnsatisfiable']): Spread[] {
  const spreads: Spread[] = [];
  for (const c of pod.spec.topologySpreadConstraints ?? []) {
    if (c.whenUnsatisfiable !== when) continue;
    spreads.push({
      key: c.topologyKey,
      maxSkew: c.maxSkew,
      selector: selectorOf(c, pod),
      minDomains: c.minDomains ?? 1,
      honorNodeAffinity: c.nodeAffinityPolicy !== 'Ignore',
      honorNodeTaints: c.nodeTaintsPolicy === 'Honor',
    });
  }
  return spreads;
}

function hasEveryKey(spreads: readonly Spread[], node: NodeInfo): boolean {
  for (const s of spreads) if (node.labels[s.key] === undefined) return false;
  return true;
}

function included(s: Spread, pod: PodInfo, node: NodeInfo): boolean {
  if (s.honorNodeAffinity && !nodeMatchesPod(pod, node)) return false;
  if (s.honorNodeTaints && untoleratedTaint(node.taints, pod.tolerations) !== undefined) return false;
  return true;
}

/** Matching pods per eligible domain, one map per constraint; every eligible domain is present, with 0 when empty. */
export function countPerDomain(spreads: readonly Spread[], pod: PodInfo, snapshot: SnapshotView): Array<Map<string, number>> {
  return spreads.map((s) => {
    const counts = new Map<string, number>();
    const eligible = new Uint8Array(snapshot.nodes.length);
    for (const node of snapshot.nodes) {
      if (!hasEveryKey(spreads, node) || !included(s, pod, node)) continue;
      eligible[node.index] = 1;
      const value = node.labels[s.key];
      if (!counts.has(value)) counts.set(value, 0);
    }
    const matchLabels = s.selector?.matchLabels ?? {};
    const first = Object.keys(matchLabels)[0];
    const candidates = first !== undefined ? snapshot.podsWithLabel(first, matchLabels[first]) : snapshot.allPods();
    for (const p of candidates) {
      if (p.namespace !== pod.namespace || !p.nodeName || !matchesSelector(p.labels, s.selector)) continue;
      const node = snapshot.node(p.nodeName);
      if (!node || !eligible[node.index]) continue;
      const value = node.labels[s.key];
      counts.set(value, counts.get(value)! + 1);
    }
    return counts;
  });
}

interface Counted {
  key: string;
  maxSkew: number;
  counts: Map<string, number>;
  /** The global minimum the skew is measured from. */
  min: number;
  /** 1 when the pod matches its own selector: placing it adds one to the node's domain. */
  selfMatch: number;
}

const FILTER_KEY = 'PodTopologySpread/filter';

export const podTopologySpreadFilter = {
  name: 'PodTopologySpread',
  preFilter(state, pod, snapshot) {
    const spreads = spreadsOf(pod, 'DoNotSchedule');
    if (spreads.length === 0) return SKIP;
    const perDomain = countPerDomain(spreads, pod, snapshot);
    state.set(
      FILTER_KEY,
      spreads.map((s, i): Counted => {
        const counts = perDomain[i];
        let min = counts.size < s.minDomains ? 0 : Infinity;
        for (const n of counts.values()) if (n < min) min = n;
        return { key: s.key, maxSkew: s.maxSkew, counts, min: min === Infinity ? 0 : min, selfMatch: matchesSelector(pod.labels, s.selector) ? 1 : 0 };
      }),
    );
    return null;
  },
  filter(state, _pod, node) {
    for (const c of state.get(FILTER_KEY) as Counted[]) {
      const value = node.labels[c.key];
      if (value === undefined) return unresolvable('PodTopologySpread', MISSING_LABEL);
      if ((c.counts.get(value) ?? 0) + c.selfMatch - c.min > c.maxSkew) return unschedulable('PodTopologySpread', SKEW_EXCEEDED);
    }
    return null;
  },
} satisfies FilterPlugin;

/** Counts per node for one owner (hostname spreading of the system defaults) or per value of a topology label. */
type Scorer = { weight: number; maxSkew: number; key: string; byValue?: ReadonlyMap<string, number>; owner?: string };

interface ScoreState {
  scorers: Scorer[];
  /** The pod's own constraints: a node without one of their keys is left out (scores 0). The system defaults skip a missing key instead. */
  requireAllKeys: boolean;
}

/** Raw score of a node left out; normalize() gives it 0. */
const IGNORED = -1;

const SCORE_KEY = 'PodTopologySpread/score';

/** kube-scheduler's topologyNormalizingWeight: constraints over more domains weigh more. */
function weightFor(domains: number): number {
  return Math.log(domains + 2);
}

/** How many distinct values of a label the nodes have. */
function domainsAmong(nodes: readonly NodeInfo[], key: string, snapshot: SnapshotView): number {
  if (key === HOSTNAME_LABEL) return nodes.length;
  const { values, ofNode } = snapshot.topologyValueIndex(key);
  const seen = new Uint8Array(values.length);
  let count = 0;
  for (const node of nodes) {
    const position = ofNode[node.index];
    if (position >= 0 && !seen[position]) {
      seen[position] = 1;
      count++;
    }
  }
  return count;
}

export const podTopologySpreadScore = {
  name: 'PodTopologySpread',
  preScore(state: CycleState, pod: PodInfo, nodes, snapshot: SnapshotView) {
    const scorers: Scorer[] = [];
    const own = pod.spec.topologySpreadConstraints ?? [];
    if (own.length > 0) {
      const spreads = spreadsOf(pod, 'ScheduleAnyway');
      if (spreads.length === 0) return SKIP;
      const counted = countPerDomain(spreads, pod, snapshot);
      const scored = nodes.filter((n) => hasEveryKey(spreads, n));
      spreads.forEach((s, i) => scorers.push({ weight: weightFor(domainsAmong(scored, s.key, snapshot)), maxSkew: s.maxSkew, key: s.key, byValue: counted[i] }));
    } else if (pod.owner) {
      const owner = pod.owner;
      scorers.push({ weight: weightFor(nodes.length), maxSkew: 3, key: HOSTNAME_LABEL, owner });
      if (snapshot.topologyDomains(ZONE_LABEL).size > 0) {
        scorers.push({ weight: weightFor(domainsAmong(nodes, ZONE_LABEL, snapshot)), maxSkew: 5, key: ZONE_LABEL, byValue: snapshot.ownerDomainCounts(owner, ZONE_LABEL) });
      }
    }
    if (scorers.length === 0) return SKIP;
    state.set(SCORE_KEY, { scorers, requireAllKeys: own.length > 0 } satisfies ScoreState);
  },
  score(state, _pod, node) {
    const { scorers, requireAllKeys } = state.get(SCORE_KEY) as ScoreState;
    let total = 0;
    for (const s of scorers) {
      const value = node.labels[s.key];
      if (value === undefined) {
        if (requireAllKeys) return IGNORED;
        continue;
      }
      const count = s.owner !== undefined ? (node.ownerCounts.get(s.owner) ?? 0) : (s.byValue!.get(value) ?? 0);
      total += (count + s.maxSkew - 1) * s.weight;
    }
    return Math.round(total);
  },
  /** score() for every node at once, from per-node arrays (the hot path of owner spreading). */
  scoreNodes(state, _pod, nodes, out, snapshot) {
    const { scorers, requireAllKeys } = state.get(SCORE_KEY) as ScoreState;
    for (const s of scorers) {
      const base = (s.maxSkew - 1) * s.weight;
      if (s.owner !== undefined) {
        const counts = snapshot.ownerNodeCounts(s.owner);
        for (let i = 0; i < nodes.length; i++) out[i] += counts[nodes[i].index] * s.weight + base;
        continue;
      }
      const { values, ofNode } = snapshot.topologyValueIndex(s.key);
      const counts = values.map((v) => s.byValue!.get(v) ?? 0);
      // A node without the key: -Infinity stays so through the sums and marks it left out.
      const missing = requireAllKeys ? -Infinity : 0;
      for (let i = 0; i < nodes.length; i++) {
        const position = ofNode[nodes[i].index];
        out[i] += position < 0 ? missing : counts[position] * s.weight + base;
      }
    }
    for (let i = 0; i < nodes.length; i++) out[i] = out[i] === -Infinity ? IGNORED : Math.round(out[i]);
  },
  /** kube-scheduler's: 100 × (max + min − score) / max over the nodes not left out. */
  normalize(_state, _pod, scores) {
    let min = Infinity;
    let max = 0;
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (s === IGNORED) continue;
      if (s < min) min = s;
      if (s > max) max = s;
    }
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (s === IGNORED) scores[i] = 0;
      else scores[i] = max === 0 ? MAX_NODE_SCORE : Math.floor((MAX_NODE_SCORE * (max + min - s)) / max);
    }
  },
} satisfies ScorePlugin;
