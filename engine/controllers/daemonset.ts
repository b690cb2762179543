/**
 * DaemonSet: one pod for every node that passes the template's node selector,
 * required node affinity and taints (with the tolerations Kubernetes adds to
 * daemon pods), including nodes added later. As in Kubernetes, a daemon pod is
 * pinned to its node by required node affinity on the node's name and bound
 * by the scheduler, so it passes the filters any pod passes (resources, host
 * ports, ...); one that does not fit stays Pending with the scheduler's reason.
 * RollingUpdate replaces old pods node by node within maxUnavailable;
 * OnDelete leaves old pods until they are deleted.
 */
import type { DaemonSet, NodeSelector, PodTemplateSpec, Toleration } from '../../schemas/types.generated.ts';
import { CONTROLLER_REVISION_HASH_LABEL, type PodObject } from '../model.ts';
import { podInfo } from '../scheduler/index.ts';
import { nodeMatchesPod, pinnedNodeNames } from '../scheduler/plugins/node-affinity.ts';
import { untoleratedTaint } from '../scheduler/plugins/taint-toleration.ts';
import type { NodeView, Pass } from './context.ts';
import { resolveConfig } from './config.ts';
import { addPod, deletePod, isAvailable, isFinished, isReady, newPod, scaledValue } from './pods.ts';
import { setWorkload } from './deployment.ts';
import { templateHash } from './template.ts';

/** Tolerations the DaemonSet controller adds to its pods (node problems do not evict daemons). */
export const DAEMON_TOLERATIONS: Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

/** Whether a daemon pod belongs on a node: selector, required affinity, NoSchedule/NoExecute taints. */
export function daemonEligible(ds: DaemonSet, node: NodeView): boolean {
  const info = podInfo({ namespace: ds.metadata.namespace ?? 'default', name: ds.metadata.name, spec: ds.spec.template.spec });
  const nodeInfo = { name: node.name, labels: { 'kubernetes.io/hostname': node.name, ...node.labels } };
  if (!nodeMatchesPod(info, nodeInfo)) return false;
  const tolerations = [...(ds.spec.template.spec.tolerations ?? []), ...DAEMON_TOLERATIONS];
  return untoleratedTaint(node.taints, tolerations) === undefined;
}

/** The node a daemon pod is for: where it is bound, else the node its required affinity pins it to (Kubernetes' GetTargetNodeName). */
export function targetNodeOf(pod: PodObject): string | undefined {
  if (pod.spec.nodeName) return pod.spec.nodeName;
  const pinned = pinnedNodeNames(pod);
  return pinned?.size === 1 ? [...pinned][0] : undefined;
}

/** The template for one node's pod: required node affinity replaced by the node's name, as Kubernetes' DaemonSet controller does. */
export function templateForNode(template: PodTemplateSpec, nodeName: string): PodTemplateSpec {
  const affinity = template.spec.affinity ?? {};
  const byName = { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In' as const, values: [nodeName] }] }] } satisfies NodeSelector;
  return { ...template, spec: { ...template.spec, affinity: { ...affinity, nodeAffinity: { ...affinity.nodeAffinity, requiredDuringSchedulingIgnoredDuringExecution: byName } } } };
}

export function reconcileDaemonSet(pass: Pass, ds: DaemonSet): void {
  const namespace = ds.metadata.namespace ?? 'default';
  const name = ds.metadata.name;
  const key = `DaemonSet/${namespace}/${name}`;
  const hash = templateHash(pass.desired, namespace, ds.spec.template);
  const minReady = ds.spec.minReadySeconds ?? 0;
  const owner = { apiVersion: 'apps/v1', kind: 'DaemonSet' as const, name, controller: true as const };
  const template = {
    ...ds.spec.template,
    metadata: { ...ds.spec.template.metadata, labels: { ...(ds.spec.template.metadata?.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash } },
    spec: { ...ds.spec.template.spec, tolerations: [...(ds.spec.template.spec.tolerations ?? []), ...DAEMON_TOLERATIONS] },
  };

  for (const pod of [...(pass.podsByOwner.get(key) ?? [])]) if (isFinished(pod)) deletePod(pass, pod, `pod ${pod.status.phase}: replaced`, key);
  const missing = resolveConfig(pass.desired, namespace, ds.spec.template.spec).missing;
  if (missing.length > 0) pass.actions.push({ type: 'configError', workload: key, message: missing.join('; ') });

  const byNode = podsByTargetNode(pass.podsByOwner.get(key) ?? []);
  const terminatingOn = new Set((pass.terminatingByOwner.get(key) ?? []).map((p) => p.spec.nodeName));
  const eligible = pass.nodes.filter((n) => daemonEligible(ds, n));
  const eligibleNames = new Set(eligible.map((n) => n.name));

  for (const [nodeName, pods] of byNode) {
    if (!eligibleNames.has(nodeName)) for (const pod of pods) deletePod(pass, pod, `node ${nodeName || '(none)'} is not eligible for ${key}`, key);
    else if (pods.length > 1) for (const pod of pods.slice(1)) deletePod(pass, pod, `more than one ${key} pod on node ${nodeName}`, key);
  }

  const rolling = ds.spec.updateStrategy?.type !== 'OnDelete';
  // Rounded up, as Kubernetes rounds a DaemonSet's maxUnavailable (a Deployment's rounds down).
  const maxUnavailable = Math.max(1, scaledValue(ds.spec.updateStrategy?.rollingUpdate?.maxUnavailable, eligible.length, true, 1));
  let unavailable = 0;
  for (const node of eligible) {
    const pod = byNode.get(node.name)?.[0];
    if (!pod || !isAvailable(pass, pod, minReady)) unavailable++;
  }
  for (const node of eligible) {
    const pod = byNode.get(node.name)?.[0];
    if (!pod) {
      if (missing.length > 0 || terminatingOn.has(node.name)) continue;
      addPod(pass, newPod(pass, { namespace, prefix: name, template: templateForNode(template, node.name), owner, seed: node.name }), key, `${key} on node ${node.name}`);
      continue;
    }
    const old = pod.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] !== hash;
    if (!old || !rolling) continue;
    if (!isAvailable(pass, pod, minReady)) {
      deletePod(pass, pod, `rolling update of ${key}: old pod not available`, key);
    } else if (unavailable < maxUnavailable) {
      unavailable++;
      pass.actions.push({ type: 'rolloutStep', workload: key, step: `RollingUpdate: replace the pod on node ${node.name}` });
      deletePod(pass, pod, `rolling update of ${key}`, key);
    }
  }

  setWorkload(pass, key, { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace }, status: { observedCommit: pass.commit, ...daemonSetCounts(pass, eligibleNames, podsByTargetNode(pass.podsByOwner.get(key) ?? []), hash, minReady) } });
}

function podsByTargetNode(pods: readonly PodObject[]): Map<string, PodObject[]> {
  const byNode = new Map<string, PodObject[]>();
  for (const pod of pods) {
    const node = targetNodeOf(pod) ?? '';
    const list = byNode.get(node);
    if (list) list.push(pod);
    else byNode.set(node, [pod]);
  }
  return byNode;
}

/**
 * Kubernetes' DaemonSet status, node by node: a node that should run the
 * daemon and has a pod for it counts as scheduled — Pending too, as a pod the
 * scheduler could not place there is — and as unavailable until that pod is
 * available; a pod for a node that should not run it is misscheduled.
 */
export function daemonSetCounts(pass: Pass, eligible: ReadonlySet<string>, byNode: ReadonlyMap<string, readonly PodObject[]>, hash: string, minReady: number) {
  let desired = 0;
  let current = 0;
  let misscheduled = 0;
  let ready = 0;
  let updated = 0;
  let available = 0;
  for (const node of pass.nodes) {
    const pod = byNode.get(node.name)?.[0];
    if (!eligible.has(node.name)) {
      if (pod) misscheduled++;
      continue;
    }
    desired++;
    if (!pod) continue;
    current++;
    if (pod.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] === hash) updated++;
    if (isReady(pod)) ready++;
    if (isAvailable(pass, pod, minReady)) available++;
  }
  return {
    desiredNumberScheduled: desired,
    currentNumberScheduled: current,
    numberMisscheduled: misscheduled,
    updatedNumberScheduled: updated,
    numberReady: ready,
    numberAvailable: available,
    numberUnavailable: desired - available,
  };
}
