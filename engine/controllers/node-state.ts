/**
 * Per-node desired state for the agents: the pods bound to the node (not
 * marked deleted) with their config resolved, every non-headless service
 * with its ready endpoints, routes to every other node's pod subnet, and the
 * cluster's ranges and proxy mode.
 */
import type { DesiredPod, DesiredService, NodeDesiredState } from '../../common/agent-api.ts';
import type { PodObject, ServiceObject } from '../model.ts';
import type { Pass } from './context.ts';
import { hasReferences, resolveConfig, serviceEnv } from './config.ts';
import { isTerminating } from './pods.ts';
import { PodIndex, podHistory } from './pod-index.ts';
import { sameList } from './equal.ts';

const serviceCache = new WeakMap<ServiceObject, DesiredService>();
/** The last services list handed out and every service it was made from: reused while they are the same objects. */
let lastServices: { all: ServiceObject[]; list: DesiredService[] } | undefined;

export function desiredServices(services: Iterable<ServiceObject>): DesiredService[] {
  const all = [...services];
  if (lastServices && sameList(lastServices.all, all)) return lastServices.list;
  const sources = all.filter((s) => s.spec.clusterIP && s.spec.clusterIP !== 'None');
  const out: DesiredService[] = [];
  for (const s of sources) {
    const cached = serviceCache.get(s);
    if (cached) {
      out.push(cached);
      continue;
    }
    const made: DesiredService = {
      namespace: s.metadata.namespace,
      name: s.metadata.name,
      type: s.spec.type,
      clusterIP: s.spec.clusterIP,
      ...(s.spec.sessionAffinity ? { sessionAffinity: s.spec.sessionAffinity } : {}),
      ...(s.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds !== undefined ? { sessionAffinityTimeoutSeconds: s.spec.sessionAffinityConfig.clientIP.timeoutSeconds } : {}),
      ports: s.spec.ports.map((p) => {
        const endpoints = s.status.endpoints.find((e) => e.port === (p.name ?? String(p.port)))?.addresses ?? [];
        return { ...(p.name ? { name: p.name } : {}), protocol: p.protocol, port: p.port, ...(p.nodePort ? { nodePort: p.nodePort } : {}), endpoints: endpoints.map((e) => ({ ip: e.ip, port: e.port, ...(e.nodeName ? { nodeName: e.nodeName } : {}) })) };
      }),
    };
    serviceCache.set(s, made);
    out.push(made);
  }
  // The service controller fills the next state in the store's namespace/name order: checking costs less than sorting.
  const byName = (a: DesiredService, b: DesiredService) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if (out.some((s, i) => i > 0 && byName(out[i - 1], s) > 0)) out.sort(byName);
  lastServices = { all, list: out };
  return out;
}

/**
 * A pod as sent to its agent, kept per pod object: an unchanged pod costs
 * nothing on the next pass, and its service variables stay those of its
 * creation. Pods that reference ConfigMaps or Secrets are resolved afresh.
 */
const podCache = new WeakMap<PodObject, DesiredPod>();

function byNamespaceAndName(a: PodObject, b: PodObject): number {
  const an = a.metadata.namespace;
  const bn = b.metadata.namespace;
  if (an !== bn) return an < bn ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/**
 * Service variables per services list (reused while every service is the
 * same object), by namespace and the newest service creation a pod sees:
 * pods that see the same services get the same variables, whenever they
 * were created.
 */
const envCaches = new WeakMap<DesiredService[], Map<string, Record<string, string> | null>>();

function visibleServicesKey(services: Iterable<ServiceObject>, namespace: string, podCreated: string | undefined): string {
  let newest = '';
  for (const s of services) {
    if (s.metadata.namespace !== namespace || !s.spec.clusterIP || s.spec.clusterIP === 'None') continue;
    const created = s.metadata.creationTimestamp;
    if (created && (!podCreated || created <= podCreated) && created > newest) newest = created;
  }
  return `${namespace}\u0000${newest}`;
}

type Route = NodeDesiredState['routes'][number];
type RouteSource = Pick<Pass['nodes'][number], 'name' | 'podCIDR' | 'address'>;
/** The last routes handed out, per node: reused while every node keeps its name, subnet and address. */
let lastRoutes: { nodes: RouteSource[]; byNode: Map<string, Route[]> } | undefined;

/** Per node, routes to every other node's pod subnet. */
function routesByNode(nodes: readonly RouteSource[]): Map<string, Route[]> {
  const previous = lastRoutes?.nodes;
  if (previous && previous.length === nodes.length && nodes.every((n, i) => n.name === previous[i].name && n.podCIDR === previous[i].podCIDR && n.address === previous[i].address)) return lastRoutes!.byNode;
  const all = nodes.map((n) => ({ node: n.name, route: { cidr: n.podCIDR, via: n.address } }));
  const byNode = new Map<string, Route[]>();
  for (const node of nodes) byNode.set(node.name, all.filter((r) => r.node !== node.name).map((r) => ({ ...r.route })));
  lastRoutes = { nodes: nodes.map(({ name, podCIDR, address }) => ({ name, podCIDR, address })), byNode };
  return byNode;
}

/**
 * Each node's last pods list, with the pod objects it was made from: reused
 * while the node's pods are the same objects and every one of them was
 * cacheable (pods referencing ConfigMaps or Secrets are resolved afresh).
 */
const lastPods = new Map<string, { sources: readonly PodObject[]; pods: DesiredPod[] }>();

/** Each node's pods (bound to it, not marked deleted), in namespace/name order, carried from pass to pass. */
const podsByNode = new PodIndex((pod) => (pod.spec.nodeName && !isTerminating(pod) ? [pod.spec.nodeName] : []), byNamespaceAndName, podHistory);

export function buildNodeStates(pass: Pass): Map<string, Omit<NodeDesiredState, 'generation'>> {
  const services = desiredServices(pass.next.services.values());
  let envCache = envCaches.get(services);
  if (!envCache) envCaches.set(services, (envCache = new Map()));
  const envKeys = new Map<string, string>();
  podsByNode.update(pass.next.pods);
  const states = new Map<string, Omit<NodeDesiredState, 'generation'>>();
  const routes = routesByNode(pass.nodes);
  const desiredPod = (pod: PodObject): DesiredPod => {
    const cached = podCache.get(pod);
    if (cached) return cached;
    const ns = pod.metadata.namespace;
    const created = pod.metadata.creationTimestamp;
    const createdKey = `${ns}\u0000${created ?? ''}`;
    let envKey = envKeys.get(createdKey);
    if (envKey === undefined) envKeys.set(createdKey, (envKey = visibleServicesKey(pass.next.services.values(), ns, created)));
    let env = envCache.get(envKey);
    if (env === undefined) {
      const computed = serviceEnv(pass.next.services.values(), ns, pod.metadata.creationTimestamp);
      envCache.set(envKey, (env = Object.keys(computed).length > 0 ? computed : null));
    }
    const config = resolveConfig(pass.desired, ns, pod.spec);
    const made: DesiredPod = {
      uid: pod.metadata.uid,
      name: pod.metadata.name,
      namespace: ns,
      ...(pod.metadata.labels ? { labels: pod.metadata.labels } : {}),
      ...(pod.metadata.annotations ? { annotations: pod.metadata.annotations } : {}),
      spec: pod.spec,
      ...(Object.keys(config.configMaps).length ? { configMaps: config.configMaps } : {}),
      ...(Object.keys(config.secrets).length ? { secrets: config.secrets } : {}),
      ...(env ? { serviceEnv: env } : {}),
    };
    if (!hasReferences(pod.spec)) podCache.set(pod, made);
    return made;
  };
  for (const node of pass.nodes) {
    const sources = podsByNode.get(node.name) ?? [];
    const last = lastPods.get(node.name);
    let pods: DesiredPod[];
    if (last && sameList(last.sources, sources)) pods = last.pods;
    else {
      pods = sources.map(desiredPod);
      if (sources.every((pod) => !hasReferences(pod.spec))) lastPods.set(node.name, { sources, pods });
      else lastPods.delete(node.name);
    }
    states.set(node.name, {
      node: node.name,
      desiredCommit: pass.commit,
      nodeAddress: node.address,
      podCIDR: node.podCIDR,
      clusterCIDR: pass.settings.podCIDR,
      serviceCIDR: pass.settings.serviceCIDR,
      proxyMode: pass.settings.proxyMode,
      pods,
      services,
      routes: routes.get(node.name)!,
    });
  }
  for (const name of lastPods.keys()) if (!states.has(name)) lastPods.delete(name);
  return states;
}
