/**
 * The scheduler's plugin contract, apart from every plugin (as in
 * kube-scheduler's framework): a filter says whether a pod may run on a node,
 * a score says how much it would like to. Expected outcomes are values: a
 * filter returns `null` for success or a Status whose reasons are sentences
 * in kube-scheduler's words, ready for a status file.
 */
import type { PodSpec, Taint, Toleration } from '../../schemas/types.generated.ts';
import type { NodeCondition } from '../../common/agent-api.ts';
import type { Labels } from './labels.ts';
import type { Resources } from './resources.ts';

export interface Status {
  code: 'Unschedulable' | 'UnschedulableAndUnresolvable';
  /** One or more sentences, e.g. "Insufficient memory". */
  reasons: string[];
  plugin: string;
}

/** A filter or prefilter outcome: null is success. */
export type FilterResult = Status | null;

/** Returned by preFilter/preScore when the plugin has nothing to say about this pod. */
export const SKIP = 'skip' as const;

export function unschedulable(plugin: string, ...reasons: string[]): Status {
  return { code: 'Unschedulable', reasons, plugin };
}

export function unresolvable(plugin: string, ...reasons: string[]): Status {
  return { code: 'UnschedulableAndUnresolvable', reasons, plugin };
}

/** A pod as the scheduler sees it: requests and ports precomputed once. */
export interface PodInfo {
  /** "namespace/name" */
  key: string;
  namespace: string;
  name: string;
  labels: Labels;
  spec: PodSpec;
  requested: Resources;
  nonZeroRequested: Resources;
  /** "protocol/hostIP/port" for every hostPort the pod asks for. */
  hostPorts: string[];
  tolerations: Toleration[];
  /** "Kind/namespace/name" of the controlling owner, when there is one. */
  owner?: string;
  /** Set once bound. */
  nodeName?: string;
}

/** A node with everything bound to it so far. */
export interface NodeInfo {
  name: string;
  /** Position in the snapshot's node list. */
  index: number;
  labels: Labels;
  taints: Taint[];
  unschedulable: boolean;
  conditions: NodeCondition[];
  allocatable: Resources;
  requested: Resources;
  nonZeroRequested: Resources;
  hostPorts: Set<string>;
  pods: PodInfo[];
  /** Pods per owner on this node (for spreading one owner). */
  ownerCounts: Map<string, number>;
  images: Set<string>;
  /** False when the node never reported status: defaults were assumed. */
  observed: boolean;
}

/** Per-attempt scratch space plugins share between their phases. */
export type CycleState = Map<string, unknown>;

/** What plugins may ask of the cluster beyond one node. */
export interface SnapshotView {
  readonly nodes: readonly NodeInfo[];
  node(name: string): NodeInfo | undefined;
  /** Bound pods carrying label key=value. */
  podsWithLabel(key: string, value: string): readonly PodInfo[];
  /** Every bound pod (for selectors without matchLabels). */
  allPods(): Iterable<PodInfo>;
  /** Bound pods that carry required anti-affinity terms that could match `pod`. */
  antiAffinityCandidates(pod: PodInfo): Iterable<PodInfo>;
  /** On how many nodes an image is present. */
  nodesWithImage(image: string): number;
  /** Number of nodes per value of a topology label. */
  topologyDomains(key: string): ReadonlyMap<string, number>;
  /** The values of a topology label, and per NodeInfo.index the position of the node's value among them (-1: no label). */
  topologyValueIndex(key: string): Readonly<{ values: readonly string[]; ofNode: Int32Array }>;
  /** Bound pods of one owner per node, indexed by NodeInfo.index. */
  ownerNodeCounts(owner: string): Int32Array;
  /** Bound pods of one owner per value of a topology label. */
  ownerDomainCounts(owner: string, key: string): ReadonlyMap<string, number>;
  readonly scoringStrategy: 'LeastAllocated' | 'MostAllocated';
  /** What any node has at all, so plugins can skip themselves for the whole pass. */
  readonly summary: Readonly<{ unschedulable: boolean; unhealthy: boolean; taints: boolean; preferNoSchedule: boolean }>;
}

export interface Plugin {
  readonly name: string;
}

export interface FilterPlugin extends Plugin {
  /** Once per pod. SKIP leaves the plugin out for this pod; a Status fails every node. */
  preFilter?(state: CycleState, pod: PodInfo, snapshot: SnapshotView): FilterResult | typeof SKIP;
  filter(state: CycleState, pod: PodInfo, node: NodeInfo, snapshot: SnapshotView): FilterResult;
}

export interface ScorePlugin extends Plugin {
  /** Once per pod with the feasible nodes. SKIP leaves the plugin out. */
  preScore?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], snapshot: SnapshotView): typeof SKIP | void;
  /** 0..100 unless normalize() maps the raw values into 0..100. */
  score(state: CycleState, pod: PodInfo, node: NodeInfo, snapshot: SnapshotView): number;
  /** Optional batch form of score() for hot plugins: fills out[i] for nodes[i]. */
  scoreNodes?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], out: Float64Array, snapshot: SnapshotView): void;
  normalize?(state: CycleState, pod: PodInfo, scores: Float64Array): void;
}

export const MAX_NODE_SCORE = 100;

/** Scale raw scores so the largest becomes 100 (optionally reversed: the smallest does). */
export function defaultNormalize(scores: Float64Array, reverse: boolean): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  for (let i = 0; i < scores.length; i++) {
    if (max === 0) scores[i] = reverse ? MAX_NODE_SCORE : 0;
    else scores[i] = reverse ? MAX_NODE_SCORE - (scores[i] * MAX_NODE_SCORE) / max : (scores[i] * MAX_NODE_SCORE) / max;
  }
}

/** Whether one toleration tolerates one taint (Kubernetes' ToleratesTaint). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key === undefined || t.key === '') {
    return t.operator === 'Exists';
  }
  if (t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

export function toleratesAll(tolerations: readonly Toleration[], taint: Taint): boolean {
  for (const t of tolerations) if (tolerates(t, taint)) return true;
  return false;
}
