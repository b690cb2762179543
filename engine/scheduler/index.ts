/**
 * Schedule one pod at a time over a Snapshot, as kube-scheduler does: run
 * prefilters once, filter nodes round-robin until enough feasible ones are
 * found (kube-scheduler's adaptive percentageOfNodesToScore), score them,
 * and pick the best; equal totals are broken by a stable hash of pod and
 * node, so identical inputs always give identical bindings.
 */
import { SKIP, type CycleState, type FilterPlugin, type NodeInfo, type PodInfo, type ScorePlugin, type Status } from './framework.ts';
import { buildProfile, DEFAULT_PROFILE, type Profile } from './registry.ts';
import { Snapshot } from './snapshot.ts';
import { stableHash } from './hash.ts';

export { stableHash } from './hash.ts';

export { Snapshot, podInfo, HOSTNAME_LABEL, type NodeInput, type PodInput } from './snapshot.ts';
export type { NodeInfo, PodInfo } from './framework.ts';

export interface Binding {
  pod: string;
  node: string;
  /** Weighted score per plugin for the chosen node, and the total. */
  scores: Record<string, number>;
  total: number;
  /** How many nodes were feasible among those evaluated, and how many were evaluated. */
  feasible: number;
  evaluated: number;
}

export interface FitError {
  pod: string;
  /** kube-scheduler's sentence: "0/3 nodes are available: 2 Insufficient memory, 1 node(s) had ...". */
  message: string;
  /** Reason -> number of nodes. */
  reasons: Record<string, number>;
}

export type ScheduleResult = { ok: true; binding: Binding } | { ok: false; error: FitError };

/** Mixes the pod's and the node's stable hashes (murmur3's finalizer): the tie-break order differs per pod. */
export function tieBreak(podHash: number, nodeHash: number): number {
  let h = (podHash ^ nodeHash) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** kube-scheduler's adaptive number of feasible nodes to look for. */
export function numFeasibleNodesToFind(numAllNodes: number, percentage?: number): number {
  if (numAllNodes < 100) return numAllNodes;
  let pct = percentage ?? 50 - Math.floor(numAllNodes / 125);
  if (pct < 5) pct = 5;
  if (pct >= 100) return numAllNodes;
  const n = Math.floor((numAllNodes * pct) / 100);
  return n < 100 ? 100 : n;
}

export function formatFitError(numNodes: number, reasons: Map<string, number>): string {
  const entries = [...reasons.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parts = entries.map(([reason, count]) => `${count} ${reason}`);
  return `0/${numNodes} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}.`;
}

export class Scheduler {
  private readonly filters: FilterPlugin[];
  private readonly scorers: Array<{ plugin: ScorePlugin; weight: number }>;

  constructor(
    readonly snapshot: Snapshot,
    profile: Profile = DEFAULT_PROFILE,
    private readonly percentageOfNodesToScore?: number,
  ) {
    const built = buildProfile(profile);
    this.filters = built.filters;
    this.scorers = built.scores;
  }

  private readonly buffers = new Map<string, Float64Array>();

  /** A zeroed buffer reused across pods (scoring allocates nothing per node). */
  private scratch(name: string, length: number): Float64Array {
    let buffer = this.buffers.get(name);
    if (!buffer || buffer.length < length) this.buffers.set(name, (buffer = new Float64Array(Math.max(length, this.snapshot.nodes.length))));
    const view = buffer.subarray(0, length);
    view.fill(0);
    return view;
  }

  /** Find a node for the pod and bind it in the snapshot (assume). */
  schedule(pod: PodInfo): ScheduleResult {
    const result = this.findNode(pod);
    if (result.ok) this.snapshot.assume(pod, result.binding.node);
    return result;
  }

  findNode(pod: PodInfo): ScheduleResult {
    const snapshot = this.snapshot;
    const nodes = snapshot.nodes;
    const n = nodes.length;
    const state: CycleState = new Map();
    const reasons = new Map<string, number>();
    if (n === 0) return { ok: false, error: { pod: pod.key, message: formatFitError(0, reasons), reasons: {} } };

    const active: FilterPlugin[] = [];
    for (const f of this.filters) {
      if (!f.preFilter) {
        active.push(f);
        continue;
      }
      const r = f.preFilter(state, pod, snapshot);
      if (r === SKIP) continue;
      if (r !== null) {
        for (const reason of r.reasons) reasons.set(reason, n);
        return { ok: false, error: { pod: pod.key, message: formatFitError(n, reasons), reasons: Object.fromEntries(reasons) } };
      }
      active.push(f);
    }

    const want = pod.spec.nodeName ? n : numFeasibleNodesToFind(n, this.percentageOfNodesToScore);
    const feasible: NodeInfo[] = [];
    const start = snapshot.nextStartIndex % n;
    let evaluated = 0;
    const failures: Status[] = [];
    for (let index = start; evaluated < n && feasible.length < want; evaluated++, index = index + 1 === n ? 0 : index + 1) {
      const node = nodes[index];
      let failed: Status | null = null;
      for (let i = 0; i < active.length; i++) {
        failed = active[i].filter(state, pod, node, snapshot);
        if (failed) break;
      }
      if (failed) failures.push(failed);
      else feasible.push(node);
    }
    snapshot.nextStartIndex = (start + evaluated) % n;

    if (feasible.length === 0) {
      for (const f of failures) for (const reason of f.reasons) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      return { ok: false, error: { pod: pod.key, message: formatFitError(n, reasons), reasons: Object.fromEntries([...reasons.entries()].sort()) } };
    }

    const m = feasible.length;
    const totals = this.scratch('totals', m);
    const perPlugin: Array<{ name: string; weight: number; scores: Float64Array }> = [];
    for (const { plugin, weight } of this.scorers) {
      if (plugin.preScore && plugin.preScore(state, pod, feasible, snapshot) === SKIP) continue;
      const scores = this.scratch(plugin.name, m);
      if (plugin.scoreNodes) plugin.scoreNodes(state, pod, feasible, scores, snapshot);
      else for (let i = 0; i < m; i++) scores[i] = plugin.score(state, pod, feasible[i], snapshot);
      if (plugin.normalize) plugin.normalize(state, pod, scores);
      for (let i = 0; i < m; i++) totals[i] += scores[i] * weight;
      perPlugin.push({ name: plugin.name, weight, scores });
    }

    const podHash = stableHash(pod.key);
    let best = 0;
    let bestHash = tieBreak(podHash, snapshot.nodeHash(feasible[0]));
    for (let i = 1; i < feasible.length; i++) {
      if (totals[i] > totals[best]) {
        best = i;
        bestHash = tieBreak(podHash, snapshot.nodeHash(feasible[i]));
      } else if (totals[i] === totals[best]) {
        const h = tieBreak(podHash, snapshot.nodeHash(feasible[i]));
        if (h < bestHash) {
          best = i;
          bestHash = h;
        }
      }
    }
    const scores: Record<string, number> = {};
    for (const p of perPlugin) scores[p.name] = Math.round(p.scores[best] * p.weight * 100) / 100;
    return {
      ok: true,
      binding: { pod: pod.key, node: feasible[best].name, scores, total: Math.round(totals[best] * 100) / 100, feasible: feasible.length, evaluated },
    };
  }
}
