/**
 * ReplicaSet and ReplicationController: keep `replicas` pods of the owner,
 * no rollout (a template change applies to pods created from then on).
 */
import type { ReplicaSet, ReplicationController } from '../../schemas/types.generated.ts';
import type { Pass } from './context.ts';
import { resolveConfig } from './config.ts';
import { addPod, deletePod, deletionOrder, isAvailable, isFinished, isReady, newPod } from './pods.ts';
import { setWorkload } from './deployment.ts';
import { templateHash } from './template.ts';

export function reconcileReplicaSet(pass: Pass, rs: ReplicaSet | ReplicationController): void {
  const namespace = rs.metadata.namespace ?? 'default';
  const name = rs.metadata.name;
  const kind = rs.kind;
  const key = `${kind}/${namespace}/${name}`;
  const replicas = rs.spec.replicas ?? 1;
  const owner = { apiVersion: rs.apiVersion, kind, name, controller: true as const };

  for (const pod of [...(pass.podsByOwner.get(key) ?? [])]) if (isFinished(pod)) deletePod(pass, pod, `pod ${pod.status.phase}: replaced`, key);
  const pods = pass.podsByOwner.get(key) ?? [];
  const missing = resolveConfig(pass.desired, namespace, rs.spec.template.spec).missing;
  if (missing.length > 0) pass.actions.push({ type: 'configError', workload: key, message: missing.join('; ') });

  if (pods.length < replicas && missing.length === 0) {
    const hash = templateHash(pass.desired, namespace, rs.spec.template);
    for (let i = pods.length; i < replicas; i++) {
      addPod(pass, newPod(pass, { namespace, prefix: name, template: rs.spec.template, owner, seed: `${pass.commit}/${hash}` }), key, `scale ${key} to ${replicas}`);
    }
  } else if (pods.length > replicas) {
    for (const pod of [...pods].sort(deletionOrder).slice(0, pods.length - replicas)) deletePod(pass, pod, `scale ${key} to ${replicas}`, key);
  }

  const current = pass.podsByOwner.get(key) ?? [];
  const minReady = rs.spec.minReadySeconds ?? 0;
  setWorkload(pass, key, {
    apiVersion: rs.apiVersion,
    kind,
    metadata: { name, namespace },
    status: {
      observedCommit: pass.commit,
      replicas: current.length,
      readyReplicas: current.filter(isReady).length,
      availableReplicas: current.filter((p) => isAvailable(pass, p, minReady)).length,
      ...(missing.length > 0 ? { conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'ConfigMissing', message: missing.join('; ') }] } : {}),
    },
  });
}
