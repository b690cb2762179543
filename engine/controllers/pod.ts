/**
 * Bare Pods: created once from Git and bound once, never moved. A changed
 * spec in Git replaces the pod (deleted, then created again once gone);
 * restartPolicy is the agent's business.
 */
import type { Pod } from '../../schemas/types.generated.ts';
import type { Pass } from './context.ts';
import { resolveConfig } from './config.ts';
import { canonicalJson, safeHash } from './hash.ts';
import { addPod, deletePod, newPod } from './pods.ts';

export const SPEC_HASH_ANNOTATION = 'coxswain.io/spec-hash';

const hashes = new WeakMap<Pod, string>();

function specHash(pod: Pod): string {
  let hash = hashes.get(pod);
  if (!hash) hashes.set(pod, (hash = safeHash(canonicalJson({ labels: pod.metadata.labels ?? {}, spec: pod.spec }))));
  return hash;
}

export function reconcileBarePod(pass: Pass, pod: Pod): void {
  const namespace = pod.metadata.namespace ?? 'default';
  const name = pod.metadata.name;
  const key = `Pod/${namespace}/${name}`;
  const hash = specHash(pod);
  const current = pass.podsByOwner.get(key) ?? [];
  for (const existing of current) {
    if (existing.metadata.annotations?.[SPEC_HASH_ANNOTATION] !== hash) deletePod(pass, existing, `pod ${namespace}/${name} changed in Git: replaced`, key);
  }
  if ((pass.podsByOwner.get(key) ?? []).length > 0) return;
  if ((pass.terminatingByOwner.get(key) ?? []).length > 0) return;
  const missing = resolveConfig(pass.desired, namespace, pod.spec).missing;
  if (missing.length > 0) {
    pass.actions.push({ type: 'configError', workload: key, message: missing.join('; ') });
    return;
  }
  const created = newPod(pass, {
    namespace,
    prefix: name,
    exactName: name,
    template: { metadata: { labels: pod.metadata.labels, annotations: { ...(pod.metadata.annotations ?? {}), [SPEC_HASH_ANNOTATION]: hash } }, spec: pod.spec },
  });
  addPod(pass, created, key, `pod ${namespace}/${name} in Git`);
}
