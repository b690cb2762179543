/**
 * ImageLocality: prefer nodes that already hold the pod's images (no pull,
 * no load). kube-scheduler weighs each present image by its size and by the
 * share of nodes holding it (so one node does not attract every pod); image
 * sizes are not known here, so each present image counts as a mid-size one
 * (half the maximum) times that share.
 */
import { MAX_NODE_SCORE, type NodeInfo, type PodInfo, type ScorePlugin, type SnapshotView } from '../framework.ts';

const PRESENT_IMAGE_SCORE = MAX_NODE_SCORE / 2;

function scoreNode(pod: PodInfo, node: NodeInfo, snapshot: SnapshotView): number {
  const containers = pod.spec.containers ?? [];
  if (containers.length === 0 || node.images.size === 0) return 0;
  let sum = 0;
  for (const c of containers) {
    if (c.image && node.images.has(c.image)) sum += (PRESENT_IMAGE_SCORE * snapshot.nodesWithImage(c.image)) / snapshot.nodes.length;
  }
  return Math.floor(sum / containers.length);
}

export const imageLocality = {
  name: 'ImageLocality',
  score(_state, pod, node, snapshot) {
    return scoreNode(pod, node, snapshot);
  },
  scoreNodes(_state, pod, nodes, out, snapshot) {
    for (let i = 0; i < nodes.length; i++) out[i] = nodes[i].images.size === 0 ? 0 : scoreNode(pod, nodes[i], snapshot);
  },
} satisfies ScorePlugin;
