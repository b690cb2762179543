/**
 * InterPodAffinity: required pod affinity and anti-affinity (the pod's own
 * terms and existing pods' anti-affinity against it) filter; preferred terms
 * score. Any node label works as topology key; counts come from the
 * snapshot's label index, so a pass costs what the matching pods cost.
 */
import type { LabelSelector } from '../../../schemas/types.generated.ts';
import { MAX_NODE_SCORE, SKIP, unresolvable, unschedulable, type CycleState, type FilterPlugin, type PodInfo, type ScorePlugin, type SnapshotView } from '../framework.ts';
import { matchesSelector } from '../labels.ts';

export interface PodAffinityTerm {
  labelSelector?: LabelSelector;
  namespaces?: string[];
  namespaceSelector?: LabelSelector;
  topologyKey: string;
}

function termNamespaces(term: PodAffinityTerm, owner: PodInfo): Set<string> | 'all' {
  if (term.namespaceSelector && Object.keys(term.namespaceSelector).length === 0) return 'all';
  return new Set(term.namespaces && term.namespaces.length > 0 ? term.namespaces : [owner.namespace]);
}

/** Bound pods that a term (written by `owner`) selects. */
export function podsMatchingTerm(term: PodAffinityTerm, owner: PodInfo, snapshot: SnapshotView): PodInfo[] {
  const namespaces = termNamespaces(term, owner);
  const matchLabels = term.labelSelector?.matchLabels ?? {};
  const first = Object.keys(matchLabels)[0];
  const candidates = first !== undefined ? snapshot.podsWithLabel(first, matchLabels[first]) : snapshot.allPods();
  const out: PodInfo[] = [];
  for (const p of candidates) {
    if (namespaces !== 'all' && !namespaces.has(p.namespace)) continue;
    if (matchesSelector(p.labels, term.labelSelector)) out.push(p);
  }
  return out;
}

/** Whether `pod` is selected by a term written by `owner`. */
export function termSelects(term: PodAffinityTerm, owner: PodInfo, pod: PodInfo): boolean {
  const namespaces = termNamespaces(term, owner);
  if (namespaces !== 'all' && !namespaces.has(pod.namespace)) return false;
  return matchesSelector(pod.labels, term.labelSelector);
}

function topologyValues(pods: PodInfo[], key: string, snapshot: SnapshotView): Set<string> {
  const values = new Set<string>();
  for (const p of pods) {
    const v = p.nodeName ? snapshot.node(p.nodeName)?.labels[key] : undefined;
    if (v !== undefined) values.add(v);
  }
  return values;
}

interface FilterState {
  /** Per required affinity term: topology values holding a matching pod (undefined: the term is waived). */
  affinity: Array<{ key: string; allowed: Set<string> }>;
  anti: Array<{ key: string; forbidden: Set<string> }>;
  existingAnti: Array<{ key: string; forbidden: Set<string> }>;
}

const STATE_KEY = 'InterPodAffinity/filter';

export const interPodAffinityFilter = {
  name: 'InterPodAffinity',
  preFilter(state, pod, snapshot) {
    const affinityTerms = (pod.spec.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) as PodAffinityTerm[];
    const antiTerms = (pod.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) as PodAffinityTerm[];
    const s: FilterState = { affinity: [], anti: [], existingAnti: [] };
    if (affinityTerms.length > 0) {
      const perTerm = affinityTerms.map((t) => ({ key: t.topologyKey, allowed: topologyValues(podsMatchingTerm(t, pod, snapshot), t.topologyKey, snapshot) }));
      // Kubernetes waives the terms for the first pod of a group that selects itself.
      const noneAnywhere = perTerm.every((t) => t.allowed.size === 0);
      const selectsItself = affinityTerms.every((t) => termSelects(t, pod, pod));
      if (!(noneAnywhere && selectsItself)) s.affinity = perTerm;
    }
    for (const t of antiTerms) {
      const forbidden = topologyValues(podsMatchingTerm(t, pod, snapshot), t.topologyKey, snapshot);
      if (forbidden.size > 0) s.anti.push({ key: t.topologyKey, forbidden });
    }
    const seen = new Set<PodInfo>();
    for (const existing of snapshot.antiAffinityCandidates(pod)) {
      if (seen.has(existing)) continue;
      seen.add(existing);
      const node = existing.nodeName ? snapshot.node(existing.nodeName) : undefined;
      if (!node) continue;
      for (const t of (existing.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) as PodAffinityTerm[]) {
        const value = node.labels[t.topologyKey];
        if (value !== undefined && termSelects(t, existing, pod)) s.existingAnti.push({ key: t.topologyKey, forbidden: new Set([value]) });
      }
    }
    if (s.affinity.length === 0 && s.anti.length === 0 && s.existingAnti.length === 0) return SKIP;
    state.set(STATE_KEY, s);
    return null;
  },
  filter(state, _pod, node) {
    const s = state.get(STATE_KEY) as FilterState;
    for (const t of s.existingAnti) {
      const v = node.labels[t.key];
      if (v !== undefined && t.forbidden.has(v)) return unschedulable('InterPodAffinity', "node(s) didn't satisfy existing pods anti-affinity rules");
    }
    for (const t of s.affinity) {
      const v = node.labels[t.key];
      if (v === undefined || !t.allowed.has(v)) return unresolvable('InterPodAffinity', "node(s) didn't match pod affinity rules");
    }
    for (const t of s.anti) {
      const v = node.labels[t.key];
      if (v !== undefined && t.forbidden.has(v)) return unschedulable('InterPodAffinity', "node(s) didn't match pod anti-affinity rules");
    }
    return null;
  },
} satisfies FilterPlugin;

interface WeightedTerm {
  weight: number;
  podAffinityTerm: PodAffinityTerm;
}

const SCORE_KEY = 'InterPodAffinity/score';

export const interPodAffinityScore = {
  name: 'InterPodAffinity',
  preScore(state: CycleState, pod: PodInfo, _nodes, snapshot: SnapshotView) {
    const preferred = (pod.spec.affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) as WeightedTerm[];
    const preferredAnti = (pod.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) as WeightedTerm[];
    if (preferred.length === 0 && preferredAnti.length === 0) return SKIP;
    const weights: Array<{ key: string; byValue: Map<string, number> }> = [];
    const add = (terms: WeightedTerm[], sign: number) => {
      for (const w of terms) {
        const byValue = new Map<string, number>();
        for (const p of podsMatchingTerm(w.podAffinityTerm, pod, snapshot)) {
          const v = p.nodeName ? snapshot.node(p.nodeName)?.labels[w.podAffinityTerm.topologyKey] : undefined;
          if (v !== undefined) byValue.set(v, (byValue.get(v) ?? 0) + sign * w.weight);
        }
        weights.push({ key: w.podAffinityTerm.topologyKey, byValue });
      }
    };
    add(preferred, 1);
    add(preferredAnti, -1);
    state.set(SCORE_KEY, weights);
  },
  score(state, _pod, node) {
    let total = 0;
    for (const w of state.get(SCORE_KEY) as Array<{ key: string; byValue: Map<string, number> }>) {
      const v = node.labels[w.key];
      if (v !== undefined) total += w.byValue.get(v) ?? 0;
    }
    return total;
  },
  normalize(_state, _pod, scores) {
    let min = Infinity;
    let max = -Infinity;
    for (const s of scores) {
      if (s < min) min = s;
      if (s > max) max = s;
    }
    for (let i = 0; i < scores.length; i++) scores[i] = max === min ? 0 : ((scores[i] - min) * MAX_NODE_SCORE) / (max - min);
  },
} satisfies ScorePlugin;
