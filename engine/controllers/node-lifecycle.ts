/**
 * Node lifecycle: merges each Node from Git with what was observed of it; a
 * node whose heartbeat is older than the grace period becomes Ready=Unknown;
 * once a node has been NotReady/Unknown for the eviction timeout (or a pod's
 * NoExecute tolerationSeconds), its pods are deleted so their controllers
 * replace them elsewhere; NoExecute taints evict pods that do not tolerate
 * them; spec.unschedulable cordons (the scheduler honours it). Nodes get a
 * /24 of the cluster's pod CIDR when Git does not give one, kept in status.
 */
import type { Node, Toleration } from '../../schemas/types.generated.ts';
import type { NodeObject, PodObject } from '../model.ts';
import { tolerates } from '../scheduler/framework.ts';
import { dropPod, requeueAt, type NodeView, type Pass } from './context.ts';
import { cidrContains, numberToIp, parseCidr } from './ip.ts';
import { deletePod, isTerminating } from './pods.ts';

export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';

/** podCIDRs: Git's, else the one kept in status, else the lowest free /24 of the cluster range (in node-name order). */
export function assignPodCIDRs(gitNodes: Node[], observed: Map<string, NodeObject>, clusterCIDR: string): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const n of gitNodes) if (n.spec.podCIDR) {
    out.set(n.metadata.name, n.spec.podCIDR);
    used.add(n.spec.podCIDR);
  }
  const cluster = parseCidr(clusterCIDR);
  for (const n of gitNodes) {
    if (out.has(n.metadata.name)) continue;
    const kept = observed.get(n.metadata.name)?.spec.podCIDR;
    if (kept && !used.has(kept) && cidrContains(cluster, kept.split('/')[0])) {
      out.set(n.metadata.name, kept);
      used.add(kept);
    }
  }
  const subnets = Math.max(1, cluster.size / 256);
  let next = 0;
  for (const n of [...gitNodes].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    if (out.has(n.metadata.name)) continue;
    while (next < subnets && used.has(`${numberToIp(cluster.base + next * 256)}/24`)) next++;
    if (next >= subnets) throw new Error(`pod CIDR ${clusterCIDR} has no free /24 for node ${n.metadata.name}`);
    const cidr = `${numberToIp(cluster.base + next * 256)}/24`;
    out.set(n.metadata.name, cidr);
    used.add(cidr);
  }
  return out;
}

export function reconcileNodes(pass: Pass): void {
  const gitNodes = pass.desired.list('Node');
  const cidrs = assignPodCIDRs(gitNodes, pass.observed.nodes, pass.settings.podCIDR);
  const now = pass.now.getTime();

  for (const n of gitNodes) {
    const name = n.metadata.name;
    const seen = pass.observed.nodes.get(name);
    let conditions = seen ? [...seen.status.conditions] : [];
    const heartbeat = seen?.status.lastHeartbeatTime ? Date.parse(seen.status.lastHeartbeatTime) : undefined;
    if (heartbeat !== undefined) {
      const ready = conditions.find((c) => c.type === 'Ready');
      if (now - heartbeat > pass.settings.gracePeriodMs) {
        if (ready?.status !== 'Unknown') {
          const unknown = { type: 'Ready', status: 'Unknown' as const, reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: new Date(heartbeat + pass.settings.gracePeriodMs).toISOString() };
          conditions = [...conditions.filter((c) => c.type !== 'Ready'), unknown];
          pass.actions.push({ type: 'nodeCondition', node: name, condition: 'Ready', status: 'Unknown', reason: `no heartbeat for ${Math.round((now - heartbeat) / 1000)}s (grace ${pass.settings.gracePeriodMs / 1000}s)` });
        }
      } else {
        requeueAt(pass, heartbeat + pass.settings.gracePeriodMs + 1);
      }
    }
    const object: NodeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, ...(n.metadata.labels ? { labels: n.metadata.labels } : {}) },
      spec: { podCIDR: cidrs.get(name), ...(n.spec.unschedulable ? { unschedulable: true } : {}), ...(n.spec.taints?.length ? { taints: n.spec.taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect })) } : {}) },
      status: seen ? { ...seen.status, conditions } : { addresses: [{ type: 'InternalIP', address: n.spec.ssh.address }, { type: 'Hostname', address: name }], conditions: [] },
    };
    pass.next.nodes.set(name, sameNode(seen, object) ? seen! : object);
    const view: NodeView = {
      name,
      address: n.spec.ssh.address,
      podCIDR: cidrs.get(name)!,
      labels: n.metadata.labels ?? {},
      taints: n.spec.taints ?? [],
      unschedulable: n.spec.unschedulable ?? false,
      conditions,
      allocatable: seen?.status.allocatable,
      images: (seen?.status.images ?? []).flatMap((i) => i.names),
      observed: seen !== undefined && seen.status.allocatable !== undefined,
    };
    pass.nodes.push(view);
  }
}

/**
 * A pod on a node that left Git has nobody to confirm its end: it is
 * forgotten (true). Called for every pod right after reconcileNodes(), in
 * the pass that groups pods by owner.
 */
export function forgetIfNodeRemoved(pass: Pass, nodeNames: ReadonlySet<string>, uid: string, pod: PodObject): boolean {
  if (!pod.spec.nodeName || nodeNames.has(pod.spec.nodeName)) return false;
  dropPod(pass, uid, pod);
  pass.actions.push({ type: 'deletePod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid, node: pod.spec.nodeName, reason: `node ${pod.spec.nodeName} was removed from Git` });
  return true;
}

function sameNode(a: NodeObject | undefined, b: NodeObject): boolean {
  if (!a) return false;
  return JSON.stringify(a.metadata) === JSON.stringify(b.metadata) && JSON.stringify(a.spec) === JSON.stringify(b.spec) && a.status.conditions === b.status.conditions;
}

/** When a pod on a NotReady/Unknown node (since `since`) is evicted: its tolerationSeconds, or the cluster's timeout; never when tolerated forever. */
export function evictionTime(pod: PodObject, taintKey: string, since: number, defaultTimeoutMs: number): number | undefined {
  const taint = { key: taintKey, effect: 'NoExecute' as const };
  let seconds: number | undefined | null = null;
  for (const t of (pod.spec.tolerations ?? []) as Toleration[]) {
    if (!tolerates(t, taint)) continue;
    if (t.tolerationSeconds === undefined) return undefined;
    seconds = seconds === null ? t.tolerationSeconds : Math.max(seconds as number, t.tolerationSeconds);
  }
  return since + (seconds === null ? defaultTimeoutMs : Math.max(0, seconds as number) * 1000);
}

/** Nodes with NoExecute taints or not Ready: the only ones whose pods evictPods() looks at. */
function nodesToCheck(pass: Pass): Array<{ node: NodeView; noExecute: NodeView['taints']; ready: NodeView['conditions'][number] | undefined; unhealthySince: string | undefined }> {
  const out = [];
  for (const node of pass.nodes) {
    const noExecute = node.taints.filter((t) => t.effect === 'NoExecute');
    const ready = node.conditions.find((c) => c.type === 'Ready');
    const unhealthySince = ready && ready.status !== 'True' && ready.lastTransitionTime ? ready.lastTransitionTime : undefined;
    if (noExecute.length > 0 || unhealthySince !== undefined) out.push({ node, noExecute, ready, unhealthySince });
  }
  return out;
}

/** Deletes pods of unhealthy nodes once due, and pods that do not tolerate a node's NoExecute taints. Runs after pods are grouped. */
export function evictPods(pass: Pass): void {
  const now = pass.now.getTime();
  const checked = nodesToCheck(pass);
  if (checked.length === 0) return;
  // Only these nodes' pods are needed: a healthy cluster's pass never groups 20,000 pods by node.
  const podsByNode = new Map<string, PodObject[]>(checked.map(({ node }) => [node.name, []]));
  for (const pod of pass.next.pods.values()) if (pod.spec.nodeName) podsByNode.get(pod.spec.nodeName)?.push(pod);
  for (const { node, noExecute, ready, unhealthySince } of checked) {
    const pods = (podsByNode.get(node.name) ?? []).filter((p) => !isTerminating(p));
    if (pods.length === 0) continue;
    for (const pod of pods) {
      const tolerations = (pod.spec.tolerations ?? []) as Toleration[];
      const taint = noExecute.find((t) => !tolerations.some((tol) => tolerates(tol, t)));
      if (taint) deletePod(pass, pod, `node ${node.name} has taint {${taint.key}: ${taint.value ?? ''}} with effect NoExecute that the pod does not tolerate`, ownerKeyOf(pod));
    }
    if (!ready || unhealthySince === undefined) continue;
    const since = Date.parse(unhealthySince);
    const taintKey = ready.status === 'Unknown' ? UNREACHABLE_TAINT : NOT_READY_TAINT;
    for (const pod of pods) {
      const at = evictionTime(pod, taintKey, since, pass.settings.evictionTimeoutMs);
      if (at === undefined) continue;
      if (at <= now) deletePod(pass, pod, `node ${node.name} has been Ready=${ready.status} since ${ready.lastTransitionTime}: evicted`, ownerKeyOf(pod));
      else requeueAt(pass, at);
    }
  }
}

const ownerKeys = new WeakMap<PodObject['metadata'], string>();

/** "Kind/namespace/name" of a pod's controller, or "Pod/namespace/name" for a bare pod (kept per metadata object, like podKeyOf). */
export function ownerKeyOf(pod: PodObject): string {
  let key = ownerKeys.get(pod.metadata);
  if (key === undefined) {
    const owner = pod.metadata.ownerReferences?.[0];
    key = owner ? `${owner.kind}/${pod.metadata.namespace}/${owner.name}` : `Pod/${pod.metadata.namespace}/${pod.metadata.name}`;
    ownerKeys.set(pod.metadata, key);
  }
  return key;
}
