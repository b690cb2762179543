/**
 * ImageLocality: prefer nodes that already hold the pod's images (no pull,
 * no load). kube-scheduler weighs each present image by its size and by the
 * share of nodes holding it (so one node does not attract every pod); image
 * sizes are not known here, so each present image counts as a mid-size one
 * (half the maximum) times that share.
 */
import { MAX_NODE_SCORE, type NodeInfo, type PodInfo, type ScorePlugin, type SnapshotView } from '../framework.ts';

const PRESENT_IMAGE_SCORE = MAX_NODE_SCORE / 2;

/** What each of the pod's containers adds on a node that holds its image (the same on every node). */
function imageWeights(pod: PodInfo, snapshot: SnapshotView): Array<{ image: string | undefined; weight: number }> {
  return (pod.spec.containers ?? []).map((c) => ({ image: c.image, weight: c.image ? (PRESENT_IMAGE_SCORE * snapshot.nodesWithImage(c.image)) / snapshot.nodes.length : 0 }));
}

function scoreNode(weights: ReturnType<typeof imageWeights>, node: NodeInfo): number {
  if (weights.length === 0 || node.images.size === 0) return 0;
  let sum = 0;
  for (const { image, weight } of weights) {
    if (image && node.images.has(image)) sum += weight;
  }
  return Math.floor(sum / weights.length);
}

export const imageLocality = {
  name: 'ImageLocality',
  score(_state, pod, node, snapshot) {
    return scoreNode(imageWeights(pod, snapshot), node);
  },
  scoreNodes(_state, pod, nodes, out, snapshot) {
    const weights = imageWeights(pod, snapshot);
    for (let i = 0; i < nodes.length; i++) out[i] = scoreNode(weights, nodes[i]);
  },
} satisfies ScorePlugin;
