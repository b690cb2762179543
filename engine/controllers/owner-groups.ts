/**
 * Pods grouped by owner at the start of a pass: the non-terminating and the
 * terminating ones by "Kind/namespace/name" of their controller, and the
 * pods still waiting for a node. Pods on nodes that left Git are forgotten
 * first (nobody is left to confirm their end).
 *
 * The groups are carried over from the last pass: only the pods that
 * arrived or left since (podChanges) are filed again, and a list they touch
 * is replaced by a new one. Lists handed to a pass are never changed
 * afterwards: controllers replace a list when they add or remove a pod
 * (pods.ts). The result is the very grouping a fresh walk over every pod
 * gives (incremental.test.ts).
 */
import type { PodObject } from '../model.ts';
import type { Pass } from './context.ts';
import { forgetIfNodeRemoved, ownerKeyOf } from './node-lifecycle.ts';
import { isTerminating } from './pods.ts';
import { podChanges } from './pod-index.ts';

interface Groups {
  /** uid -> pod as grouped: the next state right after pods on removed nodes were forgotten. */
  pods: Map<string, PodObject>;
  nodeNames: Set<string>;
  live: Map<string, PodObject[]>;
  terminating: Map<string, PodObject[]>;
  pending: Set<PodObject>;
}

let last: Groups | undefined;

/** Fills pass.podsByOwner, pass.terminatingByOwner and pass.pendingAtStart. */
export function groupPodsByOwner(pass: Pass): void {
  const nodeNames = new Set(pass.nodes.map((n) => n.name));
  const groups = last && sameSet(last.nodeNames, nodeNames) ? update(pass, last) : undefined;
  last = groups ?? rebuild(pass, nodeNames);
  pass.podsByOwner = new Map(last.live);
  pass.terminatingByOwner = new Map(last.terminating);
  pass.pendingAtStart = [...last.pending];
}

function rebuild(pass: Pass, nodeNames: Set<string>): Groups {
  const groups: Groups = { pods: new Map(), nodeNames, live: new Map(), terminating: new Map(), pending: new Set() };
  for (const [uid, pod] of pass.next.pods) {
    if (forgetIfNodeRemoved(pass, nodeNames, uid, pod)) continue;
    groups.pods.set(uid, pod);
    const byOwner = isTerminating(pod) ? groups.terminating : groups.live;
    const owner = ownerKeyOf(pod);
    const list = byOwner.get(owner);
    if (list) list.push(pod);
    else byOwner.set(owner, [pod]);
    if (isPending(pod)) groups.pending.add(pod);
  }
  for (const list of groups.live.values()) if (list.length > 1) list.sort(byName);
  for (const list of groups.terminating.values()) if (list.length > 1) list.sort(byName);
  return groups;
}

/** The last groups brought up to this pass's pods, or undefined when so much changed that a rebuild is cheaper. */
function update(pass: Pass, groups: Groups): Groups | undefined {
  const changes = podChanges(pass.next.pods, groups.pods);
  if (!changes) return undefined;
  const { arrived, left } = changes;
  if (arrived.length === 0 && left.length === 0) return groups;

  const changed = { live: new Map<string, PodObject[]>(), terminating: new Map<string, PodObject[]>() };
  const listOf = (pod: PodObject): PodObject[] => {
    const which = isTerminating(pod) ? 'terminating' : 'live';
    const owner = ownerKeyOf(pod);
    let list = changed[which].get(owner);
    if (!list) changed[which].set(owner, (list = [...(groups[which].get(owner) ?? [])]));
    return list;
  };
  for (const pod of left) {
    groups.pods.delete(pod.metadata.uid);
    groups.pending.delete(pod);
    const list = listOf(pod);
    list.splice(list.indexOf(pod), 1);
  }
  for (const [uid, pod] of arrived) {
    if (forgetIfNodeRemoved(pass, groups.nodeNames, uid, pod)) continue;
    groups.pods.set(uid, pod);
    if (isPending(pod)) groups.pending.add(pod);
    listOf(pod).push(pod);
  }
  for (const which of ['live', 'terminating'] as const) {
    for (const [owner, list] of changed[which]) {
      if (list.length === 0) groups[which].delete(owner);
      else groups[which].set(owner, list.length > 1 ? list.sort(byName) : list);
    }
  }
  return groups;
}

function isPending(pod: PodObject): boolean {
  return !pod.spec.nodeName && !isTerminating(pod);
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function byName(a: PodObject, b: PodObject): number {
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}
