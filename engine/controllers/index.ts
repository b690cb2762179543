/**
 * reconcile(): one level-based pass over desired (Git at a commit) and
 * observed state. Pure and deterministic: the same inputs give the same
 * actions, the same next observed state and the same per-node desired
 * states, which is what lets `cox plan` show what the engine will do.
 *
 * Order: nodes (merge, heartbeats) -> group pods by owner -> evictions ->
 * garbage collection -> workloads (Deployment, ReplicaSet,
 * ReplicationController, DaemonSet, bare Pod) -> scheduling -> services and
 * endpoints -> node states.
 */
import type { NodeDesiredState } from '../../common/agent-api.ts';
import type { ObservedState } from '../model.ts';
import type { Action } from './actions.ts';
import { clusterSettings, type DesiredObjects, type Pass } from './context.ts';
import { reconcileDeployment } from './deployment.ts';
import { reconcileReplicaSet } from './replicaset.ts';
import { reconcileDaemonSet } from './daemonset.ts';
import { reconcileBarePod } from './pod.ts';
import { indexPodsByLabel, reconcileServices } from './service.ts';
import { evictPods, reconcileNodes } from './node-lifecycle.ts';
import { groupPodsByOwner } from './owner-groups.ts';
import { podHistory } from './pod-index.ts';
import { collectGarbage, desiredOwnerKeys } from './gc.ts';
import { schedulePending } from './schedule.ts';
import { buildNodeStates } from './node-state.ts';

export type { Action } from './actions.ts';
export type { DesiredObjects, ClusterSettings } from './context.ts';
export { clusterSettings } from './context.ts';

export interface ReconcileInput {
  desired: DesiredObjects;
  commit: string;
  observed: ObservedState;
  now: Date;
}

export interface ReconcileResult {
  actions: Action[];
  /** The next intended state: new pods bound, deletions marked, services allocated with endpoints, workload statuses. */
  observed: ObservedState;
  nodeStates: Map<string, Omit<NodeDesiredState, 'generation'>>;
  /** Come back after this long even if nothing changes (heartbeat grace, evictions, minReadySeconds, deadlines, retries). */
  requeueAfterMs?: number;
}

export function reconcile({ desired, commit, observed, now }: ReconcileInput): ReconcileResult {
  const pods = new Map(observed.pods);
  podHistory.beginPass(pods);
  const pass: Pass = {
    desired,
    commit,
    now,
    nowIso: now.toISOString(),
    settings: clusterSettings(desired.cluster),
    observed,
    next: { nodes: new Map(), pods, services: new Map(), workloads: new Map(), errors: observed.errors, appliedCommit: commit },
    actions: [],
    nodes: [],
    unbound: [],
    podsByOwner: new Map(),
    terminatingByOwner: new Map(),
    pendingAtStart: [],
  };

  reconcileNodes(pass);

  groupPodsByOwner(pass);

  evictPods(pass);
  collectGarbage(pass, desiredOwnerKeys(pass));

  for (const d of desired.list('Deployment')) reconcileDeployment(pass, d);
  for (const rs of desired.list('ReplicaSet')) reconcileReplicaSet(pass, rs);
  for (const rc of desired.list('ReplicationController')) reconcileReplicaSet(pass, rc);
  for (const ds of desired.list('DaemonSet')) reconcileDaemonSet(pass, ds);
  for (const pod of desired.list('Pod')) reconcileBarePod(pass, pod);

  schedulePending(pass);

  reconcileServices(pass, desired.list('Service'), indexPodsByLabel(pass.next.pods));

  const nodeStates = buildNodeStates(pass);
  podHistory.endPass(pods);
  return {
    actions: pass.actions,
    observed: { ...pass.next, pods },
    nodeStates,
    ...(pass.requeueAt !== undefined ? { requeueAfterMs: pass.requeueAt - now.getTime() } : {}),
  };
}
