/** Plugin names to plugins, and the default profile with kube-scheduler's default weights. */
import type { FilterPlugin, ScorePlugin } from './framework.ts';
import { nodeUnschedulable } from './plugins/node-unschedulable.ts';
import { nodeConditions } from './plugins/node-conditions.ts';
import { nodeName } from './plugins/node-name.ts';
import { nodeAffinityFilter, nodeAffinityScore } from './plugins/node-affinity.ts';
import { taintTolerationFilter, taintTolerationScore } from './plugins/taint-toleration.ts';
import { nodeResourcesFitFilter, nodeResourcesFitScore } from './plugins/node-resources-fit.ts';
import { balancedAllocation } from './plugins/balanced-allocation.ts';
import { nodePorts } from './plugins/node-ports.ts';
import { interPodAffinityFilter, interPodAffinityScore } from './plugins/inter-pod-affinity.ts';
import { podTopologySpreadFilter, podTopologySpreadScore } from './plugins/pod-topology-spread.ts';
import { imageLocality } from './plugins/image-locality.ts';

export const filterRegistry: Record<string, () => FilterPlugin> = {
  NodeUnschedulable: () => nodeUnschedulable,
  NodeConditions: () => nodeConditions,
  NodeName: () => nodeName,
  TaintToleration: () => taintTolerationFilter,
  NodeAffinity: () => nodeAffinityFilter,
  NodePorts: () => nodePorts,
  NodeResourcesFit: () => nodeResourcesFitFilter,
  PodTopologySpread: () => podTopologySpreadFilter,
  InterPodAffinity: () => interPodAffinityFilter,
};

export const scoreRegistry: Record<string, () => ScorePlugin> = {
  TaintToleration: () => taintTolerationScore,
  NodeAffinity: () => nodeAffinityScore,
  PodTopologySpread: () => podTopologySpreadScore,
  InterPodAffinity: () => interPodAffinityScore,
  NodeResourcesFit: () => nodeResourcesFitScore,
  NodeResourcesBalancedAllocation: () => balancedAllocation,
  ImageLocality: () => imageLocality,
};

export interface Profile {
  /** In the order they run; the first failing filter decides a node's reason. */
  filters: string[];
  scores: Array<{ name: string; weight: number }>;
}

/** kube-scheduler's default plugin order and score weights. */
export const DEFAULT_PROFILE: Profile = {
  filters: ['NodeUnschedulable', 'NodeConditions', 'NodeName', 'TaintToleration', 'NodeAffinity', 'NodePorts', 'NodeResourcesFit', 'PodTopologySpread', 'InterPodAffinity'],
  scores: [
    { name: 'TaintToleration', weight: 3 },
    { name: 'NodeAffinity', weight: 2 },
    { name: 'PodTopologySpread', weight: 2 },
    { name: 'InterPodAffinity', weight: 2 },
    { name: 'NodeResourcesFit', weight: 1 },
    { name: 'NodeResourcesBalancedAllocation', weight: 1 },
    { name: 'ImageLocality', weight: 1 },
  ],
};

export function buildProfile(profile: Profile = DEFAULT_PROFILE): { filters: FilterPlugin[]; scores: Array<{ plugin: ScorePlugin; weight: number }> } {
  return {
    filters: profile.filters.map((name) => {
      const make = filterRegistry[name];
      if (!make) throw new Error(`scheduler profile: unknown filter plugin ${name}`);
      return make();
    }),
    scores: profile.scores.map(({ name, weight }) => {
      const make = scoreRegistry[name];
      if (!make) throw new Error(`scheduler profile: unknown score plugin ${name}`);
      return { plugin: make(), weight };
    }),
  };
}
