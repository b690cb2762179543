/**
 * NodeResourcesFit: cpu, memory and pod count requested against allocatable
 * minus what is bound; scores LeastAllocated or MostAllocated (cluster.yaml).
 */
import { MAX_NODE_SCORE, unschedulable, type FilterPlugin, type NodeInfo, type PodInfo, type ScorePlugin } from '../framework.ts';

export type Insufficient = 'Insufficient cpu' | 'Insufficient memory' | 'Too many pods';

/** What the node lacks for the pod; empty when it fits. */
export function fits(pod: PodInfo, node: NodeInfo): Insufficient[] {
  const missing: Insufficient[] = [];
  if (node.requested.pods + 1 > node.allocatable.pods) missing.push('Too many pods');
  if (pod.requested.milliCPU > 0 && node.requested.milliCPU + pod.requested.milliCPU > node.allocatable.milliCPU) missing.push('Insufficient cpu');
  if (pod.requested.memory > 0 && node.requested.memory + pod.requested.memory > node.allocatable.memory) missing.push('Insufficient memory');
  return missing;
}

export const nodeResourcesFitFilter = {
  name: 'NodeResourcesFit',
  filter(_state, pod, node) {
    const r = node.requested;
    const a = node.allocatable;
    const p = pod.requested;
    if (r.pods + 1 <= a.pods && r.milliCPU + p.milliCPU <= a.milliCPU && r.memory + p.memory <= a.memory) return null;
    const missing = fits(pod, node);
    return missing.length === 0 ? null : unschedulable('NodeResourcesFit', ...missing);
  },
} satisfies FilterPlugin;

function fraction(requested: number, allocatable: number): number {
  if (allocatable <= 0) return 1;
  return Math.min(requested / allocatable, 1);
}

export const nodeResourcesFitScore = {
  name: 'NodeResourcesFit',
  score(_state, pod, node, snapshot) {
    const cpu = fraction(node.nonZeroRequested.milliCPU + pod.nonZeroRequested.milliCPU, node.allocatable.milliCPU);
    const mem = fraction(node.nonZeroRequested.memory + pod.nonZeroRequested.memory, node.allocatable.memory);
    const used = (cpu + mem) / 2;
    return Math.floor((snapshot.scoringStrategy === 'MostAllocated' ? used : 1 - used) * MAX_NODE_SCORE);
  },
  scoreNodes(_state, pod, nodes, out, snapshot) {
    const most = snapshot.scoringStrategy === 'MostAllocated';
    const pc = pod.nonZeroRequested.milliCPU;
    const pm = pod.nonZeroRequested.memory;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      const used = (fraction(n.nonZeroRequested.milliCPU + pc, n.allocatable.milliCPU) + fraction(n.nonZeroRequested.memory + pm, n.allocatable.memory)) / 2;
      out[i] = Math.floor((most ? used : 1 - used) * MAX_NODE_SCORE);
    }
  },
} satisfies ScorePlugin;
