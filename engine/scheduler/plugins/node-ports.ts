/** NodePorts: two pods cannot bind the same hostPort on one node. */
import { SKIP, unschedulable, type FilterPlugin } from '../framework.ts';

export const nodePorts = {
  name: 'NodePorts',
  preFilter(_state, pod) {
    return pod.hostPorts.length > 0 ? null : SKIP;
  },
  filter(_state, pod, node) {
    for (const p of pod.hostPorts) {
      if (node.hostPorts.has(p)) return unschedulable('NodePorts', "node(s) didn't have free ports for the requested pod ports");
    }
    return null;
  },
} satisfies FilterPlugin;
