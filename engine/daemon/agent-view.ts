/**
 * Folding what agents report into the engine's observed model. Pure
 * functions: a node's view is rebuilt from watch responses (a snapshot
 * replaces it, changes patch it), and views are merged into ObservedState
 * before every reconcile.
 */
import type { DesiredPod, NodeDesiredState, NodeObservedState, WatchResponse } from '../../common/agent-api.ts';
import type { NodeObject, ObservedState, OwnerReference, PodObject } from '../model.ts';
import type { DesiredObject, HostConnection } from './ports.ts';

/** Annotation carrying a pod's owner references to the agent, so a restarted engine can adopt the pod with its owner. */
export const OWNER_ANNOTATION = 'coxswain.io/owner-references';
export const CREATED_ANNOTATION = 'coxswain.io/created';

/** Applies one watch response to a node's view; undefined until the first snapshot. */
export function applyWatch(view: NodeObservedState | undefined, response: WatchResponse): NodeObservedState | undefined {
  let next = response.snapshot ? structuredClone(response.snapshot) : view && { ...view, pods: [...view.pods] };
  if (!next) return undefined;
  for (const change of response.changes) {
    switch (change.type) {
      case 'pod': {
        const pods: NodeObservedState['pods'] = next.pods.filter((p) => p.uid !== change.pod.uid);
        pods.push(change.pod);
        next = { ...next, pods };
        break;
      }
      case 'podDeleted':
        next = { ...next, pods: next.pods.filter((p) => p.uid !== change.uid) };
        break;
      case 'node':
        next = { ...next, generation: change.generation, conditions: change.conditions, capacity: change.capacity, allocatable: change.allocatable, images: change.images };
        break;
      case 'proxy':
        next = { ...next, proxy: change.proxy };
        break;
      case 'heartbeat':
        next = { ...next, heartbeatTime: change.time };
        break;
    }
  }
  return next;
}

/** What the loop knows about one node from its connection and agent. */
export interface NodeRuntime {
  connection: HostConnection;
  view?: NodeObservedState;
  /** What the agent had accepted when it (re)connected: the pods to adopt. */
  accepted?: NodeDesiredState;
  /** When the engine last got an answer from the agent (its liveness, by the engine's clock). */
  lastSeen?: string;
  /** When the last state was sent (flow control: one unconverged state per node at a time). */
  sentAt?: number;
  /** The last state sent and its generation. */
  sent?: { generation: number; key: string; pods: Set<string>; endpointIPs: Set<string> };
}

/**
 * Merges agents' reports into observed: node conditions and heartbeats, pod
 * statuses by uid, pods agents run that observed lacks (adopted, never
 * recreated), and deleted pods dropped once their agent has converged
 * without them.
 */
export function foldAgents(observed: ObservedState, gitNodes: DesiredObject[], runtimes: Map<string, NodeRuntime>): ObservedState {
  const next: ObservedState = { ...observed, nodes: new Map(observed.nodes), pods: new Map(observed.pods) };
  const gitNames = new Set(gitNodes.map((n) => n.metadata.name));
  for (const name of next.nodes.keys()) if (!gitNames.has(name)) next.nodes.delete(name);
  for (const node of gitNodes) {
    const runtime = runtimes.get(node.metadata.name);
    next.nodes.set(node.metadata.name, nodeObject(node, next.nodes.get(node.metadata.name), runtime));
  }

  for (const [name, runtime] of runtimes) {
    if (!gitNames.has(name)) continue;
    for (const pod of runtime.accepted?.pods ?? []) {
      if (!next.pods.has(pod.uid)) next.pods.set(pod.uid, adoptPod(pod, name));
    }
    if (!runtime.view) continue;
    const reported = new Set<string>();
    for (const pod of runtime.view.pods) {
      reported.add(pod.uid);
      const known = next.pods.get(pod.uid);
      // A view keeps the objects of pods that did not change: a pod whose status is already this one stays the same
      // object, so the controllers' identity caches see it unchanged.
      if (known && known.status !== pod.status) next.pods.set(pod.uid, { ...known, status: pod.status });
    }
    const converged = runtime.connection.state === 'connected' && runtime.sent !== undefined && runtime.view.generation >= runtime.sent.generation;
    if (!converged) continue;
    for (const [uid, pod] of next.pods) {
      if (pod.spec.nodeName !== name || reported.has(uid) || runtime.sent!.pods.has(uid)) continue;
      if (pod.metadata.deletionTimestamp) next.pods.delete(uid);
    }
  }
  // Pods bound to a Node that left Git have nowhere to run or be confirmed gone.
  for (const [uid, pod] of next.pods) {
    if (pod.metadata.deletionTimestamp && pod.spec.nodeName && !gitNames.has(pod.spec.nodeName)) next.pods.delete(uid);
  }
  return next;
}

function nodeObject(node: DesiredObject, previous: NodeObject | undefined, runtime: NodeRuntime | undefined): NodeObject {
  const spec = (node.spec ?? {}) as { podCIDR?: string; unschedulable?: boolean; taints?: NodeObject['spec']['taints']; ssh?: { address?: string } };
  const view = runtime?.view;
  const status: NodeObject['status'] = previous ? { ...previous.status } : { addresses: [], conditions: [] };
  status.addresses = [
    ...(spec.ssh?.address ? [{ type: 'InternalIP' as const, address: spec.ssh.address }] : []),
    { type: 'Hostname' as const, address: view?.info.hostname ?? node.metadata.name },
  ];
  if (view) {
    status.capacity = view.capacity;
    status.allocatable = view.allocatable;
    status.conditions = view.conditions;
    status.nodeInfo = view.info;
    status.images = view.images.map((image) => ({ names: [image] }));
    status.proxy = view.proxy;
    status.lastHeartbeatTime = runtime?.lastSeen ?? view.heartbeatTime;
  }
  const connection = runtime?.connection;
  if (connection && (connection.state === 'refused' || (connection.state === 'unreachable' && !view))) {
    // The host was never reached (or refused): say why in the Ready condition instead of leaving it blank.
    const reason = connection.state === 'refused' ? connection.code : 'AgentUnreachable';
    const previousReady = status.conditions.find((c) => c.type === 'Ready');
    const changed = previousReady?.reason !== reason || previousReady?.message !== connection.reason;
    status.conditions = [
      ...status.conditions.filter((c) => c.type !== 'Ready'),
      { type: 'Ready', status: connection.state === 'refused' ? 'False' : 'Unknown', reason, message: connection.reason, lastTransitionTime: changed ? new Date().toISOString() : previousReady?.lastTransitionTime },
    ];
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.metadata.name, labels: node.metadata.labels, annotations: node.metadata.annotations },
    spec: { podCIDR: spec.podCIDR, unschedulable: spec.unschedulable, taints: spec.taints },
    status,
  };
}

/** A pod an agent runs that observed lacks (the engine was killed before its status commit). */
export function adoptPod(pod: DesiredPod, nodeName: string): PodObject {
  const annotations = { ...(pod.annotations ?? {}) };
  let ownerReferences: OwnerReference[] | undefined;
  if (annotations[OWNER_ANNOTATION]) {
    try {
      ownerReferences = JSON.parse(annotations[OWNER_ANNOTATION]) as OwnerReference[];
    } catch {
      ownerReferences = undefined;
    }
  }
  const creationTimestamp = annotations[CREATED_ANNOTATION];
  delete annotations[OWNER_ANNOTATION];
  delete annotations[CREATED_ANNOTATION];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      labels: pod.labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ...(ownerReferences ? { ownerReferences } : {}),
      ...(creationTimestamp ? { creationTimestamp } : {}),
    },
    spec: { ...pod.spec, nodeName },
    status: { phase: 'Pending', conditions: [], containerStatuses: [] },
  };
}

/** The state sent to an agent: the controllers' state, with what adoption needs carried in annotations. */
export function withAdoptionAnnotations(state: Omit<NodeDesiredState, 'generation'>, observed: ObservedState): Omit<NodeDesiredState, 'generation'> {
  return {
    ...state,
    pods: state.pods.map((pod) => {
      const known = observed.pods.get(pod.uid);
      const extra: Record<string, string> = {};
      if (known?.metadata.ownerReferences?.length) extra[OWNER_ANNOTATION] = JSON.stringify(known.metadata.ownerReferences);
      if (known?.metadata.creationTimestamp) extra[CREATED_ANNOTATION] = known.metadata.creationTimestamp;
      return Object.keys(extra).length ? { ...pod, annotations: { ...(pod.annotations ?? {}), ...extra } } : pod;
    }),
  };
}

/** A stable key of a node state (generation and the informational commit excluded): equal keys mean nothing to send. */
export function stateKey(state: Omit<NodeDesiredState, 'generation'>): string {
  const { desiredCommit: _informational, ...rest } = state;
  return JSON.stringify(rest, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}
