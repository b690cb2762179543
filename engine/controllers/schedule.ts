/**
 * Binds every pod without a node: new pods of this pass and pods still
 * pending from earlier passes, oldest first, over one scheduler snapshot
 * holding every bound pod (terminating ones too: they hold resources until
 * gone). Unschedulable pods keep PodScheduled=False with kube-scheduler's
 * sentence and are tried again on the next pass.
 */
import type { PodObject } from '../model.ts';
import { Scheduler, Snapshot, podInfo, type NodeInput, type PodInfo } from '../scheduler/index.ts';
import { bytes, cpuMillis, isQuantity } from '../../common/quantity.ts';
import { requeueAt, setPod, type NodeView, type Pass } from './context.ts';
import { podHistory } from './pod-index.ts';
import { isTerminating } from './pods.ts';
import { ownerKeyOf } from './node-lifecycle.ts';
import { deepEqual } from './equal.ts';

export const UNSCHEDULABLE_RETRY_MS = 10_000;

export function nodeInput(node: NodeView): NodeInput {
  const a = node.allocatable;
  return {
    name: node.name,
    labels: node.labels,
    taints: node.taints,
    unschedulable: node.unschedulable,
    conditions: node.conditions as NodeInput['conditions'],
    allocatable: a && isQuantity(a.cpu) && isQuantity(a.memory) ? { milliCPU: cpuMillis(a.cpu), memory: bytes(a.memory), pods: Number(a.pods) || 110 } : undefined,
    images: node.images,
  };
}

function ownerOf(pod: PodObject): string | undefined {
  return pod.metadata.ownerReferences?.[0] ? ownerKeyOf(pod) : undefined;
}

function infoOf(pod: PodObject): PodInfo {
  return podInfo({ namespace: pod.metadata.namespace, name: pod.metadata.name, labels: pod.metadata.labels, spec: pod.spec, owner: ownerOf(pod) });
}

/**
 * The scheduler's view of a bound pod, kept per pod spec and checked against
 * the pod's metadata (a pod's status changes from pass to pass; its spec,
 * once bound, and its metadata stay the same objects): an unchanged pod's
 * requests and ports are not worked out again for every snapshot. A pod
 * bound in this pass keeps its pending view, given the new spec (binding
 * changes nothing podInfo() derives from the spec).
 */
const boundInfos = new WeakMap<PodObject['spec'], { metadata: PodObject['metadata']; info: PodInfo }>();

function boundInfoOf(pod: PodObject): PodInfo {
  const seen = boundInfos.get(pod.spec);
  if (seen && seen.metadata === pod.metadata) return seen.info;
  const info = infoOf(pod);
  boundInfos.set(pod.spec, { metadata: pod.metadata, info });
  return info;
}

/**
 * The last pass's snapshot and the nodes it was made of. While the nodes are
 * the same, the next pass reuses it: it assumes the pods bound since and
 * forgets the pods gone since (found by identity: a bound pod's view is the
 * same object from pass to pass), instead of assuming 20,000 pods again.
 */
let lastSnapshot: { nodes: NodeInput[]; scoringStrategy: string; snapshot: Snapshot } | undefined;

function snapshotFor(pass: Pass): Snapshot {
  const nodes = pass.nodes.map(nodeInput);
  const scoringStrategy = pass.settings.scoringStrategy;
  const last = lastSnapshot;
  if (last && last.scoringStrategy === scoringStrategy && sameNodeInputs(last.nodes, nodes)) {
    last.snapshot.nextStartIndex = 0;
    return last.snapshot;
  }
  const snapshot = new Snapshot(nodes, { scoringStrategy });
  lastSnapshot = { nodes, scoringStrategy, snapshot };
  return snapshot;
}

function sameNodeInputs(a: NodeInput[], b: NodeInput[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.name !== y.name || x.unschedulable !== y.unschedulable || !deepEqual(x.labels, y.labels) || !deepEqual(x.taints, y.taints) || !deepEqual(x.conditions, y.conditions) || !deepEqual(x.allocatable, y.allocatable) || !deepEqual(x.images, y.images)) return false;
  }
  return true;
}

/**
 * The bound pods the snapshot held at its last sync, by uid, with the view it
 * holds of each, and how far the pods' history was read then: the next sync
 * looks only at the pods changed since.
 */
type Synced = Map<string, { pod: PodObject; info: PodInfo }>;
let lastSync: { snapshot: Snapshot; pods: Synced; mark: ReturnType<typeof podHistory.mark> } | undefined;

/** Brings the snapshot to exactly the pods bound in this pass (terminating ones too: they hold resources until gone). */
function syncBound(pass: Pass, snapshot: Snapshot): Synced {
  const synced: Synced = lastSync?.snapshot === snapshot ? lastSync.pods : new Map();
  const changed = lastSync?.snapshot === snapshot ? podHistory.since(lastSync.mark) : undefined;
  lastSync = { snapshot, pods: synced, mark: podHistory.mark() };
  const gone = new Set<PodInfo>();
  const arrived: PodInfo[] = [];
  const visit = (uid: string, pod: PodObject | undefined) => {
    const was = synced.get(uid);
    if (was?.pod === pod) return;
    const info = pod?.spec.nodeName ? boundInfoOf(pod) : undefined;
    if (info) synced.set(uid, { pod: pod!, info });
    else synced.delete(uid);
    if (was?.info === info) return;
    if (was) gone.add(was.info);
    if (info) arrived.push(info);
  };
  if (changed) for (const uid of new Set(changed)) visit(uid, pass.next.pods.get(uid));
  else {
    // A snapshot kept over a reset of the history: compare every pod, and forget those gone.
    for (const [uid, pod] of pass.next.pods) visit(uid, pod);
    for (const uid of [...synced.keys()]) if (!pass.next.pods.has(uid)) visit(uid, undefined);
  }
  snapshot.forget(gone);
  for (const info of arrived) snapshot.assume(info, info.spec.nodeName!);
  return synced;
}

export function schedulePending(pass: Pass): void {
  const pending: PodObject[] = [];
  for (const pod of [...pass.pendingAtStart, ...pass.unbound]) {
    // Until here a pending pod is only ever kept or dropped, never bound nor replaced.
    if (pass.next.pods.get(pod.metadata.uid) === pod && !isTerminating(pod)) pending.push(pod);
  }
  if (pending.length === 0) return;
  pending.sort((a, b) => {
    const ca = a.metadata.creationTimestamp ?? '';
    const cb = b.metadata.creationTimestamp ?? '';
    if (ca !== cb) return ca < cb ? -1 : 1;
    const ka = `${a.metadata.namespace}/${a.metadata.name}`;
    const kb = `${b.metadata.namespace}/${b.metadata.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });

  const snapshot = snapshotFor(pass);
  const synced = syncBound(pass, snapshot);
  const scheduler = new Scheduler(snapshot);
  const created = new Map<string, Extract<Pass['actions'][number], { type: 'createPod' }>>();
  for (const a of pass.actions) if (a.type === 'createPod') created.set(a.uid, a);

  for (const pod of pending) {
    const info = infoOf(pod);
    const result = scheduler.schedule(info);
    const previous = pod.status.conditions.find((c) => c.type === 'PodScheduled');
    if (result.ok) {
      const { node, scores } = result.binding;
      const bound: PodObject = {
        ...pod,
        spec: { ...pod.spec, nodeName: node },
        status: { ...pod.status, conditions: [...pod.status.conditions.filter((c) => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'True', lastTransitionTime: pass.nowIso }] },
      };
      setPod(pass, bound);
      // The view the snapshot holds becomes the bound pod's view: the next pass finds it there.
      info.spec = bound.spec;
      boundInfos.set(bound.spec, { metadata: bound.metadata, info });
      synced.set(pod.metadata.uid, { pod: bound, info });
      const action = created.get(pod.metadata.uid);
      const withTotal = { ...scores, total: result.binding.total };
      if (action) {
        action.node = node;
        action.scores = withTotal;
      } else {
        pass.actions.push({ type: 'bindPod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, node, scores: withTotal, reason: 'scheduled' });
      }
    } else {
      const message = result.error.message;
      requeueAt(pass, pass.now.getTime() + UNSCHEDULABLE_RETRY_MS);
      if (previous?.status === 'False' && previous.message === message) continue;
      setPod(pass, {
        ...pod,
        status: { ...pod.status, phase: 'Pending', conditions: [...pod.status.conditions.filter((c) => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: pass.nowIso }] },
      });
      pass.actions.push({ type: 'unschedulable', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, message });
    }
  }
}
