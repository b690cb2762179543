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
import { sameList } from './equal.ts';

const OWNER_KINDS = ['Deployment', 'ReplicaSet', 'ReplicationController', 'DaemonSet', 'Pod'] as const;

/** The last owners worked out, with copies of the lists they came from: the same objects own the same keys. */
let lastOwners: { lists: Array<readonly object[]>; keys: Set<string> } | undefined;

export function desiredOwnerKeys(pass: Pass): ReadonlySet<string> {
  const lists = OWNER_KINDS.map((kind) => pass.desired.list(kind as 'Deployment'));
  if (lastOwners && lists.every((list, i) => sameList(lastOwners!.lists[i], list))) return lastOwners.keys;
  const keys = new Set<string>();
  OWNER_KINDS.forEach((kind, i) => {
    for (const o of lists[i]) keys.add(objectKey(kind, o));
  });
  lastOwners = { lists: lists.map((list) => [...list]), keys };
  return keys;
}

export function collectGarbage(pass: Pass, owners: ReadonlySet<string>): void {
  // Deleting a pod replaces its owner's entry; deleting the entry while iterating is safe for a Map.
  for (const [key, pods] of pass.podsByOwner) {
    if (owners.has(key)) continue;
    for (const pod of pods) deletePod(pass, pod, `${key} was removed from Git`, key);
    pass.podsByOwner.delete(key);
  }
}
