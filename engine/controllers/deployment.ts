/**
 * Deployment: pods named `<deployment>-<template-hash>-<suffix>` (ReplicaSet
 * semantics without a separate object). RollingUpdate follows Kubernetes'
 * deployment controller step by step (scale the new pods up within
 * maxSurge, else clean up unhealthy old pods, else scale old pods down
 * keeping replicas - maxUnavailable available); Recreate deletes the old
 * pods and waits for them to be gone; paused holds the rollout but still
 * scales.
 */
import type { Deployment } from '../../schemas/types.generated.ts';
import type { DeploymentStatus, PodObject, WorkloadObject } from '../model.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../model.ts';
import { objectKey, requeueAt, type Pass } from './context.ts';
import { hasReferences, resolveConfig } from './config.ts';
import { addPod, deletePod, deletionOrder, isAvailable, isFinished, isReady, newPod, scaledValue } from './pods.ts';
import { deepEqual, sameList } from './equal.ts';
import { canonicalJson, safeHash } from './hash.ts';
import { templateHash } from './template.ts';

export const TEMPLATE_HASH_ANNOTATION = 'coxswain.io/template-hash';

/** maxSurge rounded up, maxUnavailable rounded down; both zero means one unavailable (Kubernetes' fenceposts). */
export function rollingBounds(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const replicas = d.spec.replicas ?? 1;
  const rolling = d.spec.strategy?.rollingUpdate;
  const maxSurge = scaledValue(rolling?.maxSurge, replicas, true, '25%');
  let maxUnavailable = scaledValue(rolling?.maxUnavailable, replicas, false, '25%');
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

/**
 * A settled Deployment (complete, nothing done, nothing time-based pending)
 * whose pods are the very same objects as last pass needs no work: its
 * status is carried over. Keyed by the desired object, so any change in Git
 * or in its pods recomputes it.
 */
const settled = new WeakMap<Deployment, { key: string; hash: string; referencesConfig: boolean; pods: readonly PodObject[]; out: WorkloadObject }>();

export function reconcileDeployment(pass: Pass, d: Deployment): void {
  const namespace = d.metadata.namespace ?? 'default';
  const name = d.metadata.name;
  const memo = settled.get(d);
  const key = memo?.key ?? objectKey('Deployment', d);
  const replicas = d.spec.replicas ?? 1;
  const minReady = d.spec.minReadySeconds ?? 0;
  // A template that references no ConfigMap or Secret keeps its hash while it is the same object.
  const hash = memo && !memo.referencesConfig ? memo.hash : templateHash(pass.desired, namespace, d.spec.template);
  const currentPods = pass.podsByOwner.get(key) ?? [];
  if (memo && memo.hash === hash && memo.out === pass.observed.workloads.get(key) && sameList(memo.pods, currentPods)) {
    pass.next.workloads.set(key, memo.out);
    return;
  }
  const actionsBefore = pass.actions.length;
  const owner = { apiVersion: 'apps/v1', kind: 'Deployment' as const, name, controller: true as const };

  const all = pass.podsByOwner.get(key) ?? [];
  for (const pod of [...all]) if (isFinished(pod)) deletePod(pass, pod, `pod ${pod.status.phase}: replaced`, key);
  let pods = pass.podsByOwner.get(key) ?? [];

  const missing = resolveConfig(pass.desired, namespace, d.spec.template.spec).missing;
  const blocked = missing.length > 0;
  if (blocked) pass.actions.push({ type: 'configError', workload: key, message: missing.join('; ') });

  const create = (count: number, reason: string) => {
    for (let i = 0; i < count; i++) {
      addPod(pass, newPod(pass, { namespace, prefix: `${name}-${hash}`, template: d.spec.template, templateHash: hash, owner, seed: pass.commit }), key, reason);
    }
    pods = pass.podsByOwner.get(key) ?? [];
  };
  const remove = (victims: PodObject[], reason: string) => {
    for (const pod of victims) deletePod(pass, pod, reason, key);
    pods = pass.podsByOwner.get(key) ?? [];
  };

  const isNew = (p: PodObject) => p.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] === hash;
  if (d.spec.paused) {
    // Pausing holds the rollout, not the replica count. Pods are added only while every pod is on the current
    // template: an older template is not kept anywhere to make more of its pods from.
    if (pods.length > replicas) remove([...pods].sort(deletionOrder).slice(0, pods.length - replicas), `scale paused ${key} to ${replicas}`);
    else if (pods.length < replicas && pods.every(isNew) && !blocked) create(replicas - pods.length, `scale paused ${key} to ${replicas}`);
  } else {
    const newPods = pods.filter(isNew);
    const oldPods = pods.filter((p) => !isNew(p));
    if (d.spec.strategy?.type === 'Recreate') {
      const terminatingOld = (pass.terminatingByOwner.get(key) ?? []).some((p) => p.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] !== hash);
      if (oldPods.length > 0) {
        pass.actions.push({ type: 'rolloutStep', workload: key, step: `Recreate: delete ${oldPods.length} old pod(s)` });
        remove(oldPods, 'Recreate: old template');
      } else if (!terminatingOld && !blocked) {
        scaleTo(newPods, replicas);
      }
    } else if (oldPods.length === 0) {
      scaleTo(newPods, replicas);
    } else if (!blocked) {
      rollingStep(newPods, oldPods);
    }
  }

  function scaleTo(current: PodObject[], want: number): void {
    if (current.length < want && !blocked) create(want - current.length, `scale ${key} to ${want}`);
    else if (current.length > want) remove([...current].sort(deletionOrder).slice(0, current.length - want), `scale ${key} to ${want}`);
  }

  function rollingStep(newPods: PodObject[], oldPods: PodObject[]): void {
    const { maxSurge, maxUnavailable } = rollingBounds(d);
    const total = newPods.length + oldPods.length;
    if (newPods.length > replicas) {
      remove([...newPods].sort(deletionOrder).slice(0, newPods.length - replicas), `scale ${key} to ${replicas}`);
      return;
    }
    const scaleUp = Math.min(replicas + maxSurge - total, replicas - newPods.length);
    if (scaleUp > 0) {
      pass.actions.push({ type: 'rolloutStep', workload: key, step: `RollingUpdate: ${newPods.length + scaleUp}/${replicas} pods on the new template (maxSurge ${maxSurge})` });
      create(scaleUp, `rolling update of ${key}`);
      return;
    }
    const minAvailable = replicas - maxUnavailable;
    const newAvailable = newPods.filter((p) => isAvailable(pass, p, minReady)).length;
    const newUnavailable = newPods.length - newAvailable;
    let maxScaledDown = total - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return;
    // Unhealthy old pods first: deleting them costs no availability.
    const unhealthy = oldPods.filter((p) => !isAvailable(pass, p, minReady)).sort(deletionOrder).slice(0, maxScaledDown);
    if (unhealthy.length > 0) {
      pass.actions.push({ type: 'rolloutStep', workload: key, step: `RollingUpdate: delete ${unhealthy.length} unavailable old pod(s)` });
      remove(unhealthy, `rolling update of ${key}: old pod not available`);
      maxScaledDown -= unhealthy.length;
    }
    const remainingOld = oldPods.filter((p) => !unhealthy.includes(p));
    const available = newAvailable + remainingOld.filter((p) => isAvailable(pass, p, minReady)).length;
    const scaleDown = Math.min(available - minAvailable, maxScaledDown, remainingOld.length);
    if (scaleDown > 0) {
      pass.actions.push({ type: 'rolloutStep', workload: key, step: `RollingUpdate: delete ${scaleDown} old pod(s), keeping ${minAvailable} available (maxUnavailable ${maxUnavailable})` });
      remove([...remainingOld].sort(deletionOrder).slice(0, scaleDown), `rolling update of ${key}`);
    }
  }

  const out = writeStatus(pass, d, key, hash, pods, minReady, missing);
  const status = out.status as DeploymentStatus;
  const complete = status.conditions.some((c) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable');
  if (complete && minReady === 0 && pass.actions.length === actionsBefore && !d.spec.paused) settled.set(d, { key, hash, referencesConfig: hasReferences(d.spec.template.spec), pods: pass.podsByOwner.get(key) ?? [], out });
  else settled.delete(d);
}

function writeStatus(pass: Pass, d: Deployment, key: string, hash: string, pods: PodObject[], minReady: number, missing: string[]): WorkloadObject {
  const namespace = d.metadata.namespace ?? 'default';
  const replicas = d.spec.replicas ?? 1;
  const updated = pods.filter((p) => p.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] === hash).length;
  const ready = pods.filter(isReady).length;
  const available = pods.filter((p) => isAvailable(pass, p, minReady)).length;
  const previous = pass.observed.workloads.get(key);
  const prevStatus = previous?.status as DeploymentStatus | undefined;
  const prevHash = previous?.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION];
  const { maxUnavailable } = d.spec.strategy?.type === 'Recreate' ? { maxUnavailable: replicas } : rollingBounds(d);
  const rsName = `${d.metadata.name}-${hash}`;

  const counts = { replicas: pods.length, updatedReplicas: updated, readyReplicas: ready, availableReplicas: available };
  const progressed = !prevStatus || prevHash !== hash || prevStatus.replicas !== counts.replicas || prevStatus.updatedReplicas !== updated || prevStatus.readyReplicas !== ready || prevStatus.availableReplicas !== available;
  const complete = updated === replicas && available === replicas && pods.length === replicas;
  const prevProgressing = prevStatus?.conditions.find((c) => c.type === 'Progressing');
  const deadline = (d.spec.progressDeadlineSeconds ?? 600) * 1000;

  let progressing: DeploymentStatus['conditions'][number];
  if (d.spec.paused) {
    progressing = { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' };
  } else if (complete) {
    progressing = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` };
  } else if (progressed || !prevProgressing || prevProgressing.reason === 'NewReplicaSetAvailable' || prevProgressing.reason === 'DeploymentPaused') {
    progressing = { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.`, lastUpdateTime: pass.nowIso };
  } else if (prevProgressing.reason === 'ProgressDeadlineExceeded') {
    progressing = prevProgressing;
  } else {
    const since = Date.parse(prevProgressing.lastUpdateTime ?? pass.nowIso);
    if (pass.now.getTime() - since > deadline) {
      progressing = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.`, lastUpdateTime: pass.nowIso };
    } else {
      progressing = prevProgressing;
      requeueAt(pass, since + deadline + 1);
    }
  }
  if (progressing.status === 'True' && progressing.reason === 'ReplicaSetUpdated' && progressing.lastUpdateTime) requeueAt(pass, Date.parse(progressing.lastUpdateTime) + deadline + 1);
  const availableCondition: DeploymentStatus['conditions'][number] =
    available >= replicas - maxUnavailable
      ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
      : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' };
  const conditions: DeploymentStatus['conditions'] = [availableCondition, progressing];
  if (missing.length > 0) conditions.push({ type: 'ReplicaFailure', status: 'True', reason: 'ConfigMissing', message: missing.join('; ') });

  // Like Kubernetes' observedGeneration: the commit that last changed this Deployment's spec, not every commit.
  const specHash = specHashOf(d);
  const observedCommit = previous?.metadata.annotations?.[SPEC_HASH_ANNOTATION] === specHash && prevStatus?.observedCommit ? prevStatus.observedCommit : pass.commit;
  const status: DeploymentStatus = { observedCommit, ...counts, unavailableReplicas: Math.max(replicas - available, 0), conditions };
  return setWorkload(pass, key, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: d.metadata.name, namespace, annotations: { [TEMPLATE_HASH_ANNOTATION]: hash, [SPEC_HASH_ANNOTATION]: specHash } },
    status,
  });
}

export const SPEC_HASH_ANNOTATION = 'coxswain.io/spec-hash';
const specHashes = new WeakMap<Deployment, string>();

function specHashOf(d: Deployment): string {
  let hash = specHashes.get(d);
  if (!hash) specHashes.set(d, (hash = safeHash(canonicalJson(d.spec))));
  return hash;
}

/** Keeps the previous object when nothing changed, so an unchanged workload costs no allocation downstream. */
export function setWorkload(pass: Pass, key: string, object: WorkloadObject): WorkloadObject {
  const previous = pass.observed.workloads.get(key);
  const out = previous && deepEqual(previous, object) ? previous : object;
  pass.next.workloads.set(key, out);
  return out;
}
