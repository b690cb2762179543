/**
 * Per-node desired state for the agents: the pods bound to the node (not
 * marked deleted) with their config resolved, every non-headless service
 * with its ready endpoints, routes to every other node's pod subnet, and the
 * cluster's ranges and proxy mode.
 */
import type { DesiredPod, DesiredService, NodeDesiredState } from '../../common/agent-api.ts';
import type { PodObject, ServiceObject } from '../model.ts';
import type { Pass } from './context.ts';
import { resolveConfig, serviceEnv } from './config.ts';
import { isTerminating } from './pods.ts';

export function desiredServices(services: Iterable<ServiceObject>): DesiredService[] {
  const out: DesiredService[] = [];
  for (const s of services) {
    if (!s.spec.clusterIP || s.spec.clusterIP === 'None') continue;
    out.push({
      namespace: s.metadata.namespace,
      name: s.metadata.name,
      type: s.spec.type,
      clusterIP: s.spec.clusterIP,
      ...(s.spec.sessionAffinity ? { sessionAffinity: s.spec.sessionAffinity } : {}),
      ports: s.spec.ports.map((p) => {
        const endpoints = s.status.endpoints.find((e) => e.port === (p.name ?? String(p.port)))?.addresses ?? [];
        return { ...(p.name ? { name: p.name } : {}), protocol: p.protocol, port: p.port, ...(p.nodePort ? { nodePort: p.nodePort } : {}), endpoints: endpoints.map((e) => ({ ip: e.ip, port: e.port, ...(e.nodeName ? { nodeName: e.nodeName } : {}) })) };
      }),
    });
  }
  out.sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  return out;
}

export function buildNodeStates(pass: Pass): Map<string, Omit<NodeDesiredState, 'generation'>> {
  const services = desiredServices(pass.next.services.values());
  const envCache = new Map<string, Record<string, string>>();
  const podsByNode = new Map<string, PodObject[]>();
  for (const pod of pass.next.pods.values()) {
    if (!pod.spec.nodeName || isTerminating(pod)) continue;
    const list = podsByNode.get(pod.spec.nodeName);
    if (list) list.push(pod);
    else podsByNode.set(pod.spec.nodeName, [pod]);
  }
  const states = new Map<string, Omit<NodeDesiredState, 'generation'>>();
  for (const node of pass.nodes) {
    const pods: DesiredPod[] = (podsByNode.get(node.name) ?? [])
      .sort((a, b) => (`${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1))
      .map((pod) => {
        const ns = pod.metadata.namespace;
        const envKey = `${ns}\u0000${pod.metadata.creationTimestamp ?? ''}`;
        let env = envCache.get(envKey);
        if (!env) envCache.set(envKey, (env = serviceEnv(pass.next.services.values(), ns, pod.metadata.creationTimestamp)));
        const config = resolveConfig(pass.desired, ns, pod.spec);
        return {
          uid: pod.metadata.uid,
          name: pod.metadata.name,
          namespace: ns,
          ...(pod.metadata.labels ? { labels: pod.metadata.labels } : {}),
          ...(pod.metadata.annotations ? { annotations: pod.metadata.annotations } : {}),
          spec: pod.spec,
          ...(Object.keys(config.configMaps).length ? { configMaps: config.configMaps } : {}),
          ...(Object.keys(config.secrets).length ? { secrets: config.secrets } : {}),
          ...(Object.keys(env).length ? { serviceEnv: env } : {}),
        };
      });
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
      routes: pass.nodes.filter((n) => n.name !== node.name).map((n) => ({ cidr: n.podCIDR, via: n.address })),
    });
  }
  return states;
}
