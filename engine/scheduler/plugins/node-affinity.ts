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

/**
 * The nodes a pod's required node affinity pins it to by name (every term has
 * matchFields metadata.name In ...), as the DaemonSet controller pins its
 * pods; undefined when any term does not.
 */
export function pinnedNodeNames(pod: Pick<PodInfo, 'spec'>): Set<string> | undefined {
  const terms = (pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) as NodeSelectorTerm[];
  if (terms.length === 0) return undefined;
  const names = new Set<string>();
  for (const term of terms) {
    const byName = (term.matchFields ?? []).find((f) => f.key === 'metadata.name' && f.operator === 'In');
    if (!byName) return undefined;
    for (const name of byName.values ?? []) names.add(name);
  }
  return names;
}

const PINNED_KEY = 'NodeAffinity/pinned';

export const nodeAffinityFilter = {
  name: 'NodeAffinity',
  preFilter(state, pod) {
    if (!hasNodeConstraints(pod)) return SKIP;
    const pinned = pinnedNodeNames(pod);
    if (pinned) state.set(PINNED_KEY, pinned);
    return null;
  },
  filter(state, pod, node) {
    // kube-scheduler's PreFilterResult: the nodes a pod is not pinned to are refused in these words.
    const pinned = state.get(PINNED_KEY) as Set<string> | undefined;
    if (pinned && !pinned.has(node.name)) return unresolvable('NodeAffinity', "node(s) didn't satisfy plugin(s) [NodeAffinity]");
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
