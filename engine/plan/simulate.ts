/**
 * A rollout's later steps, for the plan: reconcile again and again, each
 * time assuming every pod created so far became ready and every deleted pod
 * is gone, until the rolling workloads take no more steps (bounded).
 */
import { reconcile, type DesiredObjects, type ReconcileResult } from '../controllers/index.ts';
import type { ObservedState } from '../model.ts';

const MAX_STEPS = 100;

function settle(observed: ObservedState, now: Date): ObservedState {
  const pods = new Map();
  let n = 0;
  for (const [uid, pod] of observed.pods) {
    n++;
    if (pod.metadata.deletionTimestamp) continue;
    if (!pod.spec.nodeName) {
      pods.set(uid, pod);
      continue;
    }
    const ready = pod.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
    pods.set(uid, ready ? pod : {
      ...pod,
      status: { ...pod.status, phase: 'Running', podIP: pod.status.podIP ?? `0.0.${n >> 8}.${n & 255}`, conditions: [...pod.status.conditions.filter((c) => c.type !== 'Ready'), { type: 'Ready', status: 'True', lastTransitionTime: now.toISOString() }] },
    });
  }
  return { ...observed, pods };
}

export function simulateRollout(desired: DesiredObjects, commit: string, first: ReconcileResult, start: Date, workloads: Set<string>): Array<{ workload: string; steps: string[]; complete: boolean }> {
  const steps = new Map<string, string[]>([...workloads].map((w) => [w, []]));
  for (const a of first.actions) if (a.type === 'rolloutStep' && steps.has(a.workload)) steps.get(a.workload)!.push(a.step);
  const done = new Set<string>();
  let observed = first.observed;
  let now = start;
  for (let i = 0; i < MAX_STEPS && done.size < workloads.size; i++) {
    // Past any minReadySeconds and well inside any progress deadline.
    now = new Date(now.getTime() + 60_000);
    const result = reconcile({ desired, commit, observed: settle(observed, now), now });
    const stepped = new Set<string>();
    for (const a of result.actions) {
      if (a.type === 'rolloutStep' && steps.has(a.workload)) {
        steps.get(a.workload)!.push(a.step);
        stepped.add(a.workload);
      }
    }
    for (const w of workloads) if (!stepped.has(w)) done.add(w);
    observed = result.observed;
  }
  return [...steps].sort(([a], [b]) => (a < b ? -1 : 1)).map(([workload, s]) => ({ workload, steps: s, complete: done.has(workload) }));
}
