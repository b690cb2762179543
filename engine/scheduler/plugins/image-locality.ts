/** ImageLocality: prefer nodes that already hold the pod's images (no pull, no load). */
import { MAX_NODE_SCORE, type ScorePlugin } from '../framework.ts';

export const imageLocality = {
  name: 'ImageLocality',
  score(_state, pod, node) {
    const containers = pod.spec.containers ?? [];
    if (containers.length === 0 || node.images.size === 0) return 0;
    let present = 0;
    for (const c of containers) if (c.image && node.images.has(c.image)) present++;
    return Math.floor((present * MAX_NODE_SCORE) / containers.length);
  },
  scoreNodes(_state, pod, nodes, out) {
    const images = (pod.spec.containers ?? []).map((c) => c.image).filter((i): i is string => !!i);
    const total = (pod.spec.containers ?? []).length;
    if (total === 0) return;
    for (let i = 0; i < nodes.length; i++) {
      const held = nodes[i].images;
      if (held.size === 0) continue;
      let present = 0;
      for (const image of images) if (held.has(image)) present++;
      out[i] = Math.floor((present * MAX_NODE_SCORE) / total);
    }
  },
} satisfies ScorePlugin;
