/**
 * Node conditions: a node that is not Ready, unreachable, or under memory,
 * disk or PID pressure takes no new pods, unless the pod tolerates the taint
 * Kubernetes' node lifecycle controller would put there (DaemonSet pods do).
 */
import type { Taint } from '../../../schemas/types.generated.ts';
import type { NodeCondition } from '../../../common/agent-api.ts';
import { SKIP, toleratesAll, unresolvable, type FilterPlugin, type NodeInfo } from '../framework.ts';

export interface ConditionProblem {
  taint: Taint;
  reason: string;
}

/** What is wrong with a node's conditions, as taint and kube-scheduler sentence; empty when healthy. */
export function conditionProblems(conditions: readonly NodeCondition[]): ConditionProblem[] {
  const problems: ConditionProblem[] = [];
  for (const c of conditions) {
    if (c.type === 'Ready' && c.status === 'False') problems.push({ taint: { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }, reason: 'node(s) were not ready' });
    else if (c.type === 'Ready' && c.status === 'Unknown') problems.push({ taint: { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }, reason: 'node(s) were unreachable' });
    else if (c.type === 'MemoryPressure' && c.status === 'True') problems.push({ taint: { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }, reason: 'node(s) had memory pressure' });
    else if (c.type === 'DiskPressure' && c.status === 'True') problems.push({ taint: { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }, reason: 'node(s) had disk pressure' });
    else if (c.type === 'PIDPressure' && c.status === 'True') problems.push({ taint: { key: 'node.kubernetes.io/pid-pressure', effect: 'NoSchedule' }, reason: 'node(s) had pid pressure' });
    else if (c.type === 'NetworkUnavailable' && c.status === 'True') problems.push({ taint: { key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }, reason: 'node(s) had unavailable network' });
  }
  return problems;
}

export function nodeHealthy(node: NodeInfo): boolean {
  return conditionProblems(node.conditions).length === 0;
}

const cache = new WeakMap<readonly NodeCondition[], ConditionProblem[]>();

export const nodeConditions = {
  name: 'NodeConditions',
  preFilter(_state, _pod, snapshot) {
    return snapshot.summary.unhealthy ? null : SKIP;
  },
  filter(_state, pod, node) {
    if (node.conditions.length === 0) return null;
    let problems = cache.get(node.conditions);
    if (!problems) cache.set(node.conditions, (problems = conditionProblems(node.conditions)));
    for (const p of problems) {
      if (!toleratesAll(pod.tolerations, p.taint)) return unresolvable('NodeConditions', p.reason);
    }
    return null;
  },
} satisfies FilterPlugin;
