/** TaintToleration: NoSchedule/NoExecute taints filter, PreferNoSchedule taints score. */
import type { Taint } from '../../../schemas/types.generated.ts';
import { SKIP, defaultNormalize, toleratesAll, unresolvable, type FilterPlugin, type ScorePlugin } from '../framework.ts';

/** The first NoSchedule or NoExecute taint the tolerations do not tolerate. */
export function untoleratedTaint(taints: readonly Taint[], tolerations: Parameters<typeof toleratesAll>[0]): Taint | undefined {
  for (const taint of taints) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (!toleratesAll(tolerations, taint)) return taint;
  }
  return undefined;
}

export const taintTolerationFilter = {
  name: 'TaintToleration',
  preFilter(_state, _pod, snapshot) {
    return snapshot.summary.taints ? null : SKIP;
  },
  filter(_state, pod, node) {
    if (node.taints.length === 0) return null;
    const taint = untoleratedTaint(node.taints, pod.tolerations);
    if (!taint) return null;
    return unresolvable('TaintToleration', `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
  },
} satisfies FilterPlugin;

export const taintTolerationScore = {
  name: 'TaintToleration',
  preScore(_state, _pod, _nodes, snapshot) {
    return snapshot.summary.preferNoSchedule ? undefined : SKIP;
  },
  score(_state, pod, node) {
    let count = 0;
    for (const taint of node.taints) {
      if (taint.effect === 'PreferNoSchedule' && !toleratesAll(pod.tolerations, taint)) count++;
    }
    return count;
  },
  normalize(_state, _pod, scores) {
    defaultNormalize(scores, true);
  },
} satisfies ScorePlugin;
