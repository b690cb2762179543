/** NodeAffinity: nodeSelector and required node affinity filter; preferred node affinity scores. */
import { SKIP, defaultNormalize, unresolvable, type FilterPlugin, type NodeInfo, type PodInfo, type ScorePlugin } from '../framework.ts';
import { matchesMap, matchesNodeSelectorTerm, type NodeSelectorTerm } from '../labels.ts';

/** Whether a pod's nodeSelector and required node affinity admit a node. */
export function nodeMatchesPod(pod: Pick<PodInfo, 'spec'>, node: Pick<NodeInfo, 'name' | 'labels'>): boolean {
  const selector = pod.spec.nodeSelector as Record<string, string> | undefined;
  if (selector && Object.keys(selector).length > 0 && !matchesMap(node.labels, selector)) return false;
  const required = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required) {
    const terms = (required.nodeSelectorTerms ?? []) as NodeSelectorTerm[];
    if (!terms.some((t) => matchesNodeSelectorTerm(node.name, node.labels, t))) return false;
  }
  return true;
}

function hasNodeConstraints(pod: PodInfo): boolean {
  const selector = pod.spec.nodeSelector as Record<string, string> | undefined;
  return (selector !== undefined && Object.keys(selector).length > 0) || pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution !== undefined;
}

export const nodeAffinityFilter = {
  name: 'NodeAffinity',
  preFilter(_state, pod) {
    return hasNodeConstraints(pod) ? null : SKIP;
  },
  filter(_state, pod, node) {
    return nodeMatchesPod(pod, node) ? null : unresolvable('NodeAffinity', "node(s) didn't match Pod's node affinity/selector");
  },
} satisfies FilterPlugin;

interface Preferred {
  weight: number;
  preference: NodeSelectorTerm;
}

export const nodeAffinityScore = {
  name: 'NodeAffinity',
  preScore(_state, pod) {
    const preferred = pod.spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    return preferred && preferred.length > 0 ? undefined : SKIP;
  },
  score(_state, pod, node) {
    let total = 0;
    for (const p of (pod.spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) as Preferred[]) {
      if (p.weight && matchesNodeSelectorTerm(node.name, node.labels, p.preference)) total += p.weight;
    }
    return total;
  },
  normalize(_state, _pod, scores) {
    defaultNormalize(scores, false);
  },
} satisfies ScorePlugin;
