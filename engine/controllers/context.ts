/**
 * What every controller shares during one reconcile pass: the desired
 * objects, the observed state coming in, the next observed state being
 * built, the actions taken, and when the pass wants to run again. Controllers
 * are pure: they read `desired` and `observed`, write only into the pass.
 */
import type { Cluster, ConfigMap, DaemonSet, Deployment, Node, Pod, ReplicaSet, ReplicationController, Secret, Service } from '../../schemas/types.generated.ts';
import type { ObservedState, PodObject } from '../model.ts';
import type { Action } from './actions.ts';
import { PodIndex, podHistory } from './pod-index.ts';

/** The desired objects of one commit (engine/manifests' ObjectStore satisfies this). */
export interface DesiredObjects {
  readonly cluster: Cluster;
  list(kind: 'Deployment', namespace?: string): Deployment[];
  list(kind: 'ReplicaSet', namespace?: string): ReplicaSet[];
  list(kind: 'ReplicationController', namespace?: string): ReplicationController[];
  list(kind: 'DaemonSet', namespace?: string): DaemonSet[];
  list(kind: 'Pod', namespace?: string): Pod[];
  list(kind: 'Service', namespace?: string): Service[];
  list(kind: 'Node', namespace?: string): Node[];
  list(kind: 'ConfigMap', namespace?: string): ConfigMap[];
  list(kind: 'Secret', namespace?: string): Secret[];
  get(kind: 'ConfigMap', namespace: string | undefined, name: string): ConfigMap | undefined;
  get(kind: 'Secret', namespace: string | undefined, name: string): Secret | undefined;
}

export interface ClusterSettings {
  podCIDR: string;
  serviceCIDR: string;
  nodePortRange: [number, number];
  proxyMode: 'ipvs' | 'nftables' | 'auto';
  gracePeriodMs: number;
  evictionTimeoutMs: number;
  scoringStrategy: 'LeastAllocated' | 'MostAllocated';
}

/** cluster.yaml with the loader's defaults filled in (the same defaults, for objects built without the loader). */
export function clusterSettings(cluster: Cluster | undefined): ClusterSettings {
  const spec = cluster?.spec ?? {};
  const [low, high] = (spec.nodePortRange ?? '30000-32767').split('-').map(Number);
  return {
    podCIDR: spec.podCIDR ?? '100.64.0.0/16',
    serviceCIDR: spec.serviceCIDR ?? '100.127.0.0/24',
    nodePortRange: [low, high],
    proxyMode: spec.proxyMode ?? 'auto',
    gracePeriodMs: (spec.nodeMonitorGracePeriodSeconds ?? 8) * 1000,
    evictionTimeoutMs: (spec.podEvictionTimeoutSeconds ?? 15) * 1000,
    scoringStrategy: spec.scheduler?.scoringStrategy ?? 'LeastAllocated',
  };
}

/** A node as the controllers see it: Git's spec merged with what was observed. */
export interface NodeView {
  name: string;
  address: string;
  podCIDR: string;
  labels: Record<string, string>;
  taints: NonNullable<Node['spec']['taints']>;
  unschedulable: boolean;
  conditions: Array<{ type: string; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string; lastTransitionTime?: string }>;
  allocatable?: { cpu: string; memory: string; pods: string };
  images: string[];
  /** False when the node never reported: it is assumed available, with default allocatable. */
  observed: boolean;
}

export interface Pass {
  desired: DesiredObjects;
  commit: string;
  now: Date;
  nowIso: string;
  settings: ClusterSettings;
  observed: ObservedState;
  /** The next observed state; its pods change only through setPod and dropPod. */
  next: Omit<ObservedState, 'pods'> & { readonly pods: ReadonlyMap<string, PodObject> };
  actions: Action[];
  nodes: NodeView[];
  /** Pods created in this pass that still need a node. */
  unbound: PodObject[];
  /** Non-terminating pods by "Kind/namespace/name" of their controller ("Pod/ns/name" for bare pods). A list is never changed in place: it is replaced. */
  podsByOwner: Map<string, PodObject[]>;
  /** Terminating pods by the same key (Recreate waits for them). */
  terminatingByOwner: Map<string, PodObject[]>;
  /** Pods without a node and not terminating when the pass began (those created in it are in `unbound`). */
  pendingAtStart: PodObject[];
  /** Names given out in this pass (and those dropped before the first was), so generated names never collide; see isNameTaken. */
  namesTaken?: Set<string>;
  /** Names of pods dropped from the next state before a name was first asked for: still taken for the rest of the pass. */
  droppedNames?: string[];
  /** Epoch ms at which something time-based becomes due. */
  requeueAt?: number;
}

export function requeueAt(pass: Pass, at: number): void {
  if (at > pass.now.getTime() && (pass.requeueAt === undefined || at < pass.requeueAt)) pass.requeueAt = at;
}

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** "Kind/namespace/name" of a desired object, kept per object: unchanged objects keep their key from pass to pass. */
const objectKeys = new WeakMap<object, string>();

export function objectKey(kind: string, object: { metadata: { name: string; namespace?: string } }): string {
  let key = objectKeys.get(object);
  if (key === undefined) objectKeys.set(object, (key = `${kind}/${object.metadata.namespace ?? 'default'}/${object.metadata.name}`));
  return key;
}

/** A pod's "namespace/name", kept per metadata object: an unchanged pod's key is not built again every pass. */
const podKeys = new WeakMap<PodObject['metadata'], string>();

export function podKeyOf(pod: PodObject): string {
  let key = podKeys.get(pod.metadata);
  if (key === undefined) podKeys.set(pod.metadata, (key = podKey(pod.metadata.namespace, pod.metadata.name)));
  return key;
}

/** Every pod by "namespace/name", carried from pass to pass: what a generated name must not collide with. */
const podsByName = new PodIndex((pod) => [podKeyOf(pod)], undefined, podHistory);

/** Names taken besides the pods of the next state as it was when first asked (steady passes never ask). */
function namesTaken(pass: Pass): Set<string> {
  if (!pass.namesTaken) {
    podsByName.update(pass.next.pods);
    pass.namesTaken = new Set(pass.droppedNames);
  }
  return pass.namesTaken;
}

/** Whether a pod "namespace/name" exists, existed earlier in this pass, or was given out in it. */
export function isNameTaken(pass: Pass, key: string): boolean {
  return namesTaken(pass).has(key) || podsByName.get(key) !== undefined;
}

export function takeName(pass: Pass, key: string): void {
  namesTaken(pass).add(key);
}

/** Puts a pod into the next state. Every change to the next state's pods goes through here or dropPod (podHistory follows them). */
export function setPod(pass: Pass, pod: PodObject): void {
  (pass.next.pods as Map<string, PodObject>).set(pod.metadata.uid, pod);
  podHistory.note(pod.metadata.uid);
}

/** Removes a pod from the next state; its name stays taken for the rest of the pass. Every removal goes through here. */
export function dropPod(pass: Pass, uid: string, pod: PodObject): void {
  (pass.next.pods as Map<string, PodObject>).delete(uid);
  podHistory.note(uid);
  if (!pass.namesTaken) (pass.droppedNames ??= []).push(podKeyOf(pod));
}
