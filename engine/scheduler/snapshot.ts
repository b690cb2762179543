/**
 * The scheduler's view of the cluster for one pass: nodes with what is bound
 * to them, plus the indexes that keep a pass over 10,000 pods on 5,000 nodes
 * fast (pods by label, required anti-affinity terms by label, topology
 * domains, per-owner counts per domain). Binding a pod (assume) updates all
 * of them, so the next pod sees it.
 */
import type { PodSpec, Taint, Toleration } from '../../schemas/types.generated.ts';
import type { NodeCondition } from '../../common/agent-api.ts';
import type { NodeInfo, PodInfo, SnapshotView } from './framework.ts';
import { podRequests, DEFAULT_ALLOCATABLE, type Resources } from './resources.ts';
import { selectorPairs, type Labels } from './labels.ts';
import { stableHash } from './hash.ts';
import { conditionProblems } from './plugins/node-conditions.ts';

export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export interface NodeInput {
  name: string;
  labels?: Labels;
  taints?: Taint[];
  unschedulable?: boolean;
  conditions?: NodeCondition[];
  /** Undefined for a node never observed: DEFAULT_ALLOCATABLE is assumed. */
  allocatable?: Resources;
  images?: string[];
}

export interface PodInput {
  namespace: string;
  name: string;
  labels?: Labels;
  spec: PodSpec;
  owner?: string;
}

export function podInfo(pod: PodInput): PodInfo {
  const { requested, nonZero } = podRequests(pod.spec);
  const hostPorts: string[] = [];
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      // On the host's network every container port is a host port (Kubernetes defaults hostPort to it).
      const hostPort = p.hostPort ?? (pod.spec.hostNetwork ? p.containerPort : undefined);
      if (hostPort) hostPorts.push(`${p.protocol ?? 'TCP'}/${hostPort}`);
    }
  }
  return {
    key: `${pod.namespace}/${pod.name}`,
    namespace: pod.namespace,
    name: pod.name,
    labels: pod.labels ?? {},
    spec: pod.spec,
    requested,
    nonZeroRequested: nonZero,
    hostPorts,
    tolerations: (pod.spec.tolerations ?? []) as Toleration[],
    owner: pod.owner,
  };
}

export class Snapshot implements SnapshotView {
  readonly nodes: NodeInfo[] = [];
  readonly scoringStrategy: 'LeastAllocated' | 'MostAllocated';
  readonly summary: { unschedulable: boolean; unhealthy: boolean; taints: boolean; preferNoSchedule: boolean };
  private readonly byName = new Map<string, NodeInfo>();
  /** Bound pods (assumed and not forgotten). */
  private readonly bound = new Set<PodInfo>();
  /** Each node's images as reported, by NodeInfo.index (what forget() goes back to). */
  private readonly reportedImages: string[][] = [];
  /** Node indexes of each owner's bound pods, one entry per pod. */
  private readonly ownerNodes = new Map<string, number[]>();
  // Indexes built from `bound` on first use and kept up to date from then on: a pass that never asks for one never pays for it.
  private byLabel?: Map<string, PodInfo[]>;
  private anti?: { byLabel: Map<string, PodInfo[]>; generic: PodInfo[] };
  private readonly domains = new Map<string, Map<string, number>>();
  private readonly ownerDomains = new Map<string, Map<string, Map<string, number>>>();
  /** Where the next pod's search starts (kube-scheduler's round robin over nodes). */
  nextStartIndex = 0;

  constructor(nodes: NodeInput[], options: { scoringStrategy?: 'LeastAllocated' | 'MostAllocated' } = {}) {
    this.scoringStrategy = options.scoringStrategy ?? 'LeastAllocated';
    for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const info: NodeInfo = {
        name: n.name,
        index: this.nodes.length,
        labels: { [HOSTNAME_LABEL]: n.name, ...(n.labels ?? {}) },
        taints: n.taints ?? [],
        unschedulable: n.unschedulable ?? false,
        conditions: n.conditions ?? [],
        allocatable: n.allocatable ?? { ...DEFAULT_ALLOCATABLE },
        requested: { milliCPU: 0, memory: 0, pods: 0 },
        nonZeroRequested: { milliCPU: 0, memory: 0, pods: 0 },
        hostPorts: new Set(),
        pods: [],
        ownerCounts: new Map(),
        images: new Set(n.images ?? []),
        observed: n.allocatable !== undefined,
      };
      this.nodes.push(info);
      this.byName.set(n.name, info);
      this.reportedImages.push(n.images ?? []);
    }
    for (const n of this.nodes) for (const image of n.images) this.imageCounts.set(image, (this.imageCounts.get(image) ?? 0) + 1);
    this.summary = {
      unschedulable: this.nodes.some((n) => n.unschedulable),
      unhealthy: this.nodes.some((n) => conditionProblems(n.conditions).length > 0),
      taints: this.nodes.some((n) => n.taints.length > 0),
      preferNoSchedule: this.nodes.some((n) => n.taints.some((t) => t.effect === 'PreferNoSchedule')),
    };
    this.hashes = Uint32Array.from(this.nodes, (n) => stableHash(n.name));
  }

  private readonly hashes: Uint32Array;

  /** A stable hash of the node's name (the tie-break's node half). */
  nodeHash(node: NodeInfo): number {
    return this.hashes[node.index];
  }

  private readonly imageCounts = new Map<string, number>();

  /** On how many nodes an image is present. */
  nodesWithImage(image: string): number {
    return this.imageCounts.get(image) ?? 0;
  }

  node(name: string): NodeInfo | undefined {
    return this.byName.get(name);
  }

  /** Bind a pod to a node: its requests, ports, labels and terms count from now on. */
  assume(pod: PodInfo, nodeName: string): void {
    const node = this.byName.get(nodeName);
    if (!node) return;
    pod.nodeName = nodeName;
    node.pods.push(pod);
    node.requested.milliCPU += pod.requested.milliCPU;
    node.requested.memory += pod.requested.memory;
    node.requested.pods += 1;
    node.nonZeroRequested.milliCPU += pod.nonZeroRequested.milliCPU;
    node.nonZeroRequested.memory += pod.nonZeroRequested.memory;
    node.nonZeroRequested.pods += 1;
    for (const p of pod.hostPorts) node.hostPorts.add(p);
    for (const c of pod.spec.containers ?? []) {
      if (c.image && !node.images.has(c.image)) {
        node.images.add(c.image);
        this.imageCounts.set(c.image, (this.imageCounts.get(c.image) ?? 0) + 1);
      }
    }
    this.bound.add(pod);
    if (this.byLabel) indexByLabel(this.byLabel, pod);
    if (this.anti) indexAntiAffinity(this.anti, pod);
    if (pod.owner) {
      node.ownerCounts.set(pod.owner, (node.ownerCounts.get(pod.owner) ?? 0) + 1);
      const nodes = this.ownerNodes.get(pod.owner);
      if (nodes) nodes.push(node.index);
      else this.ownerNodes.set(pod.owner, [node.index]);
      const counts = this.ownerArrays.get(pod.owner);
      if (counts) counts[node.index]++;
      const perKey = this.ownerDomains.get(pod.owner);
      if (perKey) {
        for (const [key, counts] of perKey) {
          const value = node.labels[key];
          if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
        }
      }
    }
  }

  /**
   * Unbind pods (assume's inverse), so a snapshot can serve the next pass:
   * every count, port, image and index ends as if the pods had never been
   * assumed. Only the order of pods within the indexes may differ from a
   * fresh snapshot's, and no plugin depends on that order.
   */
  forget(pods: ReadonlySet<PodInfo>): void {
    const nodes = new Set<NodeInfo>();
    for (const pod of pods) {
      if (!this.bound.delete(pod)) continue;
      const node = this.byName.get(pod.nodeName!)!;
      nodes.add(node);
      node.requested.milliCPU -= pod.requested.milliCPU;
      node.requested.memory -= pod.requested.memory;
      node.requested.pods -= 1;
      node.nonZeroRequested.milliCPU -= pod.nonZeroRequested.milliCPU;
      node.nonZeroRequested.memory -= pod.nonZeroRequested.memory;
      node.nonZeroRequested.pods -= 1;
      if (pod.owner) this.forgetOwned(pod.owner, node);
    }
    for (const node of nodes) {
      node.pods = node.pods.filter((p) => !pods.has(p));
      node.hostPorts.clear();
      for (const p of node.pods) for (const port of p.hostPorts) node.hostPorts.add(port);
      const images = new Set(this.reportedImages[node.index]);
      for (const p of node.pods) for (const c of p.spec.containers ?? []) if (c.image) images.add(c.image);
      for (const image of node.images) {
        if (images.has(image)) continue;
        const count = this.imageCounts.get(image)! - 1;
        if (count > 0) this.imageCounts.set(image, count);
        else this.imageCounts.delete(image);
      }
      node.images = images;
    }
    // The label index is rebuilt when next asked for; the anti-affinity index holds few pods and is filtered.
    this.byLabel = undefined;
    if (this.anti) {
      this.anti.generic = this.anti.generic.filter((p) => !pods.has(p));
      for (const [key, list] of this.anti.byLabel) {
        const kept = list.filter((p) => !pods.has(p));
        if (kept.length > 0) this.anti.byLabel.set(key, kept);
        else this.anti.byLabel.delete(key);
      }
    }
  }

  private forgetOwned(owner: string, node: NodeInfo): void {
    const onNode = node.ownerCounts.get(owner)! - 1;
    if (onNode > 0) node.ownerCounts.set(owner, onNode);
    else node.ownerCounts.delete(owner);
    const indexes = this.ownerNodes.get(owner)!;
    indexes.splice(indexes.lastIndexOf(node.index), 1);
    if (indexes.length === 0) this.ownerNodes.delete(owner);
    const counts = this.ownerArrays.get(owner);
    if (counts) counts[node.index]--;
    for (const [key, byValue] of this.ownerDomains.get(owner) ?? []) {
      const value = node.labels[key];
      if (value === undefined) continue;
      const count = byValue.get(value)! - 1;
      if (count > 0) byValue.set(value, count);
      else byValue.delete(value);
    }
  }

  podsWithLabel(key: string, value: string): readonly PodInfo[] {
    if (!this.byLabel) {
      this.byLabel = new Map();
      for (const pod of this.bound.values()) indexByLabel(this.byLabel, pod);
    }
    return this.byLabel.get(`${key}=${value}`) ?? [];
  }

  allPods(): Iterable<PodInfo> {
    return this.bound.values();
  }

  *antiAffinityCandidates(pod: PodInfo): Iterable<PodInfo> {
    if (!this.anti) {
      this.anti = { byLabel: new Map(), generic: [] };
      for (const p of this.bound.values()) indexAntiAffinity(this.anti, p);
    }
    yield* this.anti.generic;
    for (const k in pod.labels) {
      const list = this.anti.byLabel.get(`${k}=${pod.labels[k]}`);
      if (list) yield* list;
    }
  }

  topologyDomains(key: string): ReadonlyMap<string, number> {
    let d = this.domains.get(key);
    if (!d) {
      d = new Map();
      for (const n of this.nodes) {
        const v = n.labels[key];
        if (v !== undefined) d.set(v, (d.get(v) ?? 0) + 1);
      }
      this.domains.set(key, d);
    }
    return d;
  }

  private readonly valueIndexes = new Map<string, { values: string[]; ofNode: Int32Array }>();

  topologyValueIndex(key: string): Readonly<{ values: readonly string[]; ofNode: Int32Array }> {
    let index = this.valueIndexes.get(key);
    if (!index) {
      const values = [...this.topologyDomains(key).keys()];
      const position = new Map(values.map((v, i) => [v, i]));
      const ofNode = Int32Array.from(this.nodes, (n) => position.get(n.labels[key]) ?? -1);
      this.valueIndexes.set(key, (index = { values, ofNode }));
    }
    return index;
  }

  private readonly ownerArrays = new Map<string, Int32Array>();

  /** Pods of one owner per node, indexed by NodeInfo.index (the hot path of owner spreading). */
  ownerNodeCounts(owner: string): Int32Array {
    let counts = this.ownerArrays.get(owner);
    if (!counts) {
      this.ownerArrays.set(owner, (counts = new Int32Array(this.nodes.length)));
      for (const index of this.ownerNodes.get(owner) ?? []) counts[index]++;
    }
    return counts;
  }

  ownerDomainCounts(owner: string, key: string): ReadonlyMap<string, number> {
    let perKey = this.ownerDomains.get(owner);
    if (!perKey) this.ownerDomains.set(owner, (perKey = new Map()));
    let counts = perKey.get(key);
    if (!counts) {
      counts = new Map();
      const perNode = this.ownerNodeCounts(owner);
      const { values, ofNode } = this.topologyValueIndex(key);
      for (let i = 0; i < perNode.length; i++) {
        const c = perNode[i];
        if (c && ofNode[i] >= 0) counts.set(values[ofNode[i]], (counts.get(values[ofNode[i]]) ?? 0) + c);
      }
      perKey.set(key, counts);
    }
    return counts;
  }
}

function indexByLabel(index: Map<string, PodInfo[]>, pod: PodInfo): void {
  for (const k in pod.labels) {
    const key = `${k}=${pod.labels[k]}`;
    const list = index.get(key);
    if (list) list.push(pod);
    else index.set(key, [pod]);
  }
}

/** Files a pod under the first label pair of each of its required anti-affinity terms (or as generic when a term has none). */
function indexAntiAffinity(index: { byLabel: Map<string, PodInfo[]>; generic: PodInfo[] }, pod: PodInfo): void {
  const anti = pod.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  for (const term of anti) {
    const pairs = selectorPairs(term.labelSelector);
    if (pairs.length === 0) index.generic.push(pod);
    else {
      let list = index.byLabel.get(pairs[0]);
      if (!list) index.byLabel.set(pairs[0], (list = []));
      if (list[list.length - 1] !== pod) list.push(pod);
    }
  }
}
