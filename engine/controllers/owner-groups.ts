/**
 * Pods grouped by owner at the start of a pass: the non-terminating and the
 * terminating ones by "Kind/namespace/name" of their controller, and the
 * pods still waiting for a node. Pods on nodes that left Git are forgotten
 * first (nobody is left to confirm their end).
 *
 * The groups are indexes carried from pass to pass (PodIndex over the pods'
 * history): only the pods changed since are filed again, and a list they
 * touch is replaced by a new one. Lists handed to a pass are never changed
 * afterwards: controllers replace a list when they add or remove a pod
 * (pods.ts). The result is the very grouping a fresh walk over every pod
 * gives (incremental.test.ts).
 */
import type { PodObject } from '../model.ts';
import type { Pass } from './context.ts';
import { forgetIfNodeRemoved, ownerKeyOf } from './node-lifecycle.ts';
import { isTerminating } from './pods.ts';
import { PodIndex, podHistory } from './pod-index.ts';

const byName = (a: PodObject, b: PodObject) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);
const live = new PodIndex((pod) => (isTerminating(pod) ? [] : [ownerKeyOf(pod)]), byName, podHistory);
const terminating = new PodIndex((pod) => (isTerminating(pod) ? [ownerKeyOf(pod)] : []), byName, podHistory);
const pending = new PodIndex((pod) => (!pod.spec.nodeName && !isTerminating(pod) ? [''] : []), undefined, podHistory);

/** The node names of the last check for pods on removed nodes, and how far the pods' history was read then. */
let checked: { nodeNames: Set<string>; mark: ReturnType<typeof podHistory.mark> } | undefined;

/** Fills pass.podsByOwner, pass.terminatingByOwner and pass.pendingAtStart. */
export function groupPodsByOwner(pass: Pass): void {
  forgetPodsOnRemovedNodes(pass);
  live.update(pass.next.pods);
  terminating.update(pass.next.pods);
  pending.update(pass.next.pods);
  pass.podsByOwner = live.copy();
  pass.terminatingByOwner = terminating.copy();
  pass.pendingAtStart = [...(pending.get('') ?? [])];
}

/** Every pod when the nodes changed; otherwise only the pods changed since the last check can be on a removed node. */
function forgetPodsOnRemovedNodes(pass: Pass): void {
  const nodeNames = new Set(pass.nodes.map((n) => n.name));
  const uids = checked && sameSet(checked.nodeNames, nodeNames) ? podHistory.since(checked.mark) : undefined;
  let candidates: Array<[string, PodObject]>;
  if (uids) {
    candidates = [];
    for (const uid of new Set(uids)) {
      const pod = pass.next.pods.get(uid);
      if (pod) candidates.push([uid, pod]);
    }
  } else {
    candidates = [...pass.next.pods];
  }
  for (const [uid, pod] of candidates) forgetIfNodeRemoved(pass, nodeNames, uid, pod);
  checked = { nodeNames, mark: podHistory.mark() };
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
