/** NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory use stay in step. */
import { MAX_NODE_SCORE, type ScorePlugin } from '../framework.ts';

export const balancedAllocation = {
  name: 'NodeResourcesBalancedAllocation',
  score(_state, pod, node) {
    const a = node.allocatable;
    const cpu = a.milliCPU > 0 ? Math.min((node.nonZeroRequested.milliCPU + pod.nonZeroRequested.milliCPU) / a.milliCPU, 1) : 1;
    const mem = a.memory > 0 ? Math.min((node.nonZeroRequested.memory + pod.nonZeroRequested.memory) / a.memory, 1) : 1;
    const std = Math.abs(cpu - mem) / 2;
    return Math.floor((1 - std) * MAX_NODE_SCORE);
  },
  scoreNodes(state, pod, nodes, out) {
    for (let i = 0; i < nodes.length; i++) out[i] = balancedAllocation.score(state, pod, nodes[i]);
  },
} satisfies ScorePlugin;
