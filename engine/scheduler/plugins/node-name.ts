/** NodeName: a pod that names its node runs there or nowhere. */
import { SKIP, unresolvable, type FilterPlugin } from '../framework.ts';

export const nodeName = {
  name: 'NodeName',
  preFilter(_state, pod) {
    return pod.spec.nodeName ? null : SKIP;
  },
  filter(_state, pod, node) {
    if (!pod.spec.nodeName || pod.spec.nodeName === node.name) return null;
    return unresolvable('NodeName', "node(s) didn't match the requested node name");
  },
} satisfies FilterPlugin;
