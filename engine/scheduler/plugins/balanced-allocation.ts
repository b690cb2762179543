/** NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory use stay in step. */
import { MAX_NODE_SCORE, type ScorePlugin } from '../framework.ts';
import type { Resources } from '../resources.ts';

function balance(podCPU: number, podMemory: number, requested: Resources, allocatable: Resources): number {
  const cpu = allocatable.milliCPU > 0 ? Math.min((requested.milliCPU + podCPU) / allocatable.milliCPU, 1) : 1;
  const mem = allocatable.memory > 0 ? Math.min((requested.memory + podMemory) / allocatable.memory, 1) : 1;
  const std = Math.abs(cpu - mem) / 2;
  return Math.floor((1 - std) * MAX_NODE_SCORE);
}

export const balancedAllocation = {
  name: 'NodeResourcesBalancedAllocation',
  score(_state, pod, node) {
    return balance(pod.nonZeroRequested.milliCPU, pod.nonZeroRequested.memory, node.nonZeroRequested, node.allocatable);
  },
  scoreNodes(_state, pod, nodes, out) {
    const podCPU = pod.nonZeroRequested.milliCPU;
    const podMemory = pod.nonZeroRequested.memory;
    for (let i = 0; i < nodes.length; i++) out[i] = balance(podCPU, podMemory, nodes[i].nonZeroRequested, nodes[i].allocatable);
  },
} satisfies ScorePlugin;
