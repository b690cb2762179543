/** NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new pods unless they tolerate it. */
import type { Taint } from '../../../schemas/types.generated.ts';
import { SKIP, toleratesAll, unresolvable, type FilterPlugin } from '../framework.ts';

export const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export const nodeUnschedulable = {
  name: 'NodeUnschedulable',
  preFilter(_state, _pod, snapshot) {
    return snapshot.summary.unschedulable ? null : SKIP;
  },
  filter(_state, pod, node) {
    if (!node.unschedulable || toleratesAll(pod.tolerations, UNSCHEDULABLE_TAINT)) return null;
    return unresolvable('NodeUnschedulable', 'node(s) were unschedulable');
  },
} satisfies FilterPlugin;
