/** Helpers every controller uses on pods: readiness, availability, creation, deletion, ordering. */
import type { PodSpec, PodTemplateSpec } from '../../schemas/types.generated.ts';
import type { OwnerReference, PodObject } from '../model.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../model.ts';
import { safeHash, stableUid } from './hash.ts';
import { dropPod, isNameTaken, podKey, requeueAt, setPod, takeName, type Pass } from './context.ts';

export function isTerminating(pod: PodObject): boolean {
  return pod.metadata.deletionTimestamp !== undefined;
}

/** Failed or Succeeded: a controller replaces such a pod. */
export function isFinished(pod: PodObject): boolean {
  return pod.status.phase === 'Failed' || pod.status.phase === 'Succeeded';
}

export function isReady(pod: PodObject): boolean {
  if (isTerminating(pod)) return false;
  for (const c of pod.status.conditions ?? []) if (c.type === 'Ready') return c.status === 'True';
  return false;
}

/** Ready for at least minReadySeconds; when it will be, the pass is asked to come back then. */
export function isAvailable(pass: Pass, pod: PodObject, minReadySeconds: number): boolean {
  if (!isReady(pod)) return false;
  if (!minReadySeconds) return true;
  const ready = (pod.status.conditions ?? []).find((c) => c.type === 'Ready');
  const since = ready?.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : Number.NaN;
  if (Number.isNaN(since)) return true;
  const at = since + minReadySeconds * 1000;
  if (at <= pass.now.getTime()) return true;
  requeueAt(pass, at);
  return false;
}

/** A new pod from a template, named `<prefix>-<suffix>` with a suffix that is deterministic and unused. */
export function newPod(
  pass: Pass,
  options: { namespace: string; prefix: string; template: PodTemplateSpec; templateHash?: string; owner?: OwnerReference; nodeName?: string; seed?: string; exactName?: string },
): PodObject {
  const { namespace } = options;
  let name = options.exactName;
  for (let n = 0; !name; n++) {
    const candidate = `${options.prefix}-${safeHash(`${namespace}/${options.prefix}/${options.seed ?? ''}/${n}`, 5)}`;
    if (!isNameTaken(pass, podKey(namespace, candidate))) name = candidate;
  }
  takeName(pass, podKey(namespace, name));
  const labels: Record<string, string> = { ...(options.template.metadata?.labels ?? {}) };
  if (options.templateHash) labels[POD_TEMPLATE_HASH_LABEL] = options.templateHash;
  const annotations = options.template.metadata?.annotations;
  const spec: PodSpec = options.nodeName ? { ...options.template.spec, nodeName: options.nodeName } : options.template.spec;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      uid: stableUid(`${namespace}/${name}@${pass.commit}@${pass.nowIso}`),
      labels,
      ...(annotations && Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
      ...(options.owner ? { ownerReferences: [options.owner] } : {}),
      creationTimestamp: pass.nowIso,
    },
    spec,
    status: { phase: 'Pending', conditions: [], containerStatuses: [] },
  };
}

/** Adds a created pod to the next state; it is scheduled at the end of the pass unless already bound. */
export function addPod(pass: Pass, pod: PodObject, ownerKey: string, reason: string): void {
  setPod(pass, pod);
  pass.podsByOwner.set(ownerKey, [...(pass.podsByOwner.get(ownerKey) ?? []), pod]);
  pass.actions.push({ type: 'createPod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, owner: ownerKey, node: pod.spec.nodeName, reason });
  if (!pod.spec.nodeName) pass.unbound.push(pod);
}

/**
 * Deletes a pod gracefully: it is marked with deletionTimestamp and left out
 * of its node's desired state, so the agent stops it; the engine forgets it
 * once its agent has converged without it. A pod never bound goes at once.
 */
export function deletePod(pass: Pass, pod: PodObject, reason: string, ownerKey?: string): void {
  if (isTerminating(pod)) return;
  pass.actions.push({ type: 'deletePod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, node: pod.spec.nodeName, owner: ownerKey, reason });
  if (!pod.spec.nodeName) {
    dropPod(pass, pod.metadata.uid, pod);
    pass.unbound = pass.unbound.filter((p) => p !== pod);
  } else {
    const marked = { ...pod, metadata: { ...pod.metadata, deletionTimestamp: pass.nowIso } };
    setPod(pass, marked);
    // Terminating from now on, for the rest of the pass too (a bare pod is not made again while its name is in use).
    if (ownerKey) pass.terminatingByOwner.set(ownerKey, [...(pass.terminatingByOwner.get(ownerKey) ?? []), marked]);
  }
  const list = ownerKey ? pass.podsByOwner.get(ownerKey) : undefined;
  if (list?.includes(pod)) pass.podsByOwner.set(ownerKey!, list.filter((p) => p !== pod));
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2, Succeeded: 3, Failed: 3 };

/**
 * Kubernetes' order for scaling down: unbound before bound, pending before
 * running, not ready before ready, newer before older; name last, so the
 * order is total.
 */
export function deletionOrder(a: PodObject, b: PodObject): number {
  const boundA = a.spec.nodeName ? 1 : 0;
  const boundB = b.spec.nodeName ? 1 : 0;
  if (boundA !== boundB) return boundA - boundB;
  const phase = (PHASE_RANK[a.status.phase] ?? 0) - (PHASE_RANK[b.status.phase] ?? 0);
  if (phase !== 0) return phase;
  const ready = (isReady(a) ? 1 : 0) - (isReady(b) ? 1 : 0);
  if (ready !== 0) return ready;
  const ca = a.metadata.creationTimestamp ?? '';
  const cb = b.metadata.creationTimestamp ?? '';
  if (ca !== cb) return ca > cb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** "25%" of 10 rounded up is 3, rounded down 2; a number is itself. */
export function scaledValue(value: number | string | undefined, total: number, roundUp: boolean, fallback: number | string): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const match = /^(\d+)%$/.exec(v);
  if (!match) return Number(v) || 0;
  const exact = (Number(match[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}
