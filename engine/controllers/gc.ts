/**
 * Garbage collection: pods whose owner (or whose own manifest, for bare
 * pods) is no longer in Git are deleted gracefully — marked, left out of
 * their node's desired state, stopped by the agent with the pod's grace
 * period. Services and workload statuses of removed objects are simply not
 * carried into the next observed state (the service controller reports the
 * released VIPs).
 */
import { objectKey, type Pass } from './context.ts';
import { deletePod } from './pods.ts';

export function desiredOwnerKeys(pass: Pass): Set<string> {
  const keys = new Set<string>();
  for (const kind of ['Deployment', 'ReplicaSet', 'ReplicationController', 'DaemonSet', 'Pod'] as const) {
    for (const o of pass.desired.list(kind as 'Deployment')) keys.add(objectKey(kind, o));
  }
  return keys;
}

export function collectGarbage(pass: Pass, owners: Set<string>): void {
  for (const [key, pods] of [...pass.podsByOwner]) {
    if (owners.has(key)) continue;
    for (const pod of [...pods]) deletePod(pass, pod, `${key} was removed from Git`, key);
    pass.podsByOwner.delete(key);
  }
}
