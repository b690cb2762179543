/** Small builders for controller tests and benchmarks: objects as the manifest loader would produce them. */
import type { Cluster, ConfigMap, Deployment, Node, Pod, Service } from '../../schemas/types.generated.ts';
import { ObjectStore } from '../manifests/index.ts';
import type { ManifestObject } from '../manifests/index.ts';
import { emptyObserved, type ObservedState, type PodObject } from '../model.ts';
import type { DesiredObjects } from './context.ts';

export const CLUSTER: Cluster = { apiVersion: 'coxswain.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'test' }, spec: { podCIDR: '100.64.0.0/16', serviceCIDR: '100.127.0.0/24' } };

export function store(objects: unknown[], cluster: Cluster = CLUSTER): DesiredObjects {
  return new ObjectStore(objects as ManifestObject[], cluster) as unknown as DesiredObjects;
}

export function node(name: string, extra: { labels?: Record<string, string>; taints?: Node['spec']['taints']; unschedulable?: boolean; address?: string } = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: { ssh: { address: extra.address ?? `198.18.9.${10 + Number(name.replace(/\D/g, '') || 0)}`, hostKeys: ['ssh-ed25519 AAAA'] }, ...(extra.taints ? { taints: extra.taints } : {}), ...(extra.unschedulable ? { unschedulable: true } : {}) },
  };
}

export function deployment(name: string, options: { replicas?: number; image?: string; strategy?: Deployment['spec']['strategy']; minReadySeconds?: number; paused?: boolean; progressDeadlineSeconds?: number; cpu?: string; memory?: string; env?: Array<{ name: string; valueFrom?: unknown; value?: string }>; namespace?: string } = {}): Deployment {
  const requests = options.cpu || options.memory ? { requests: { ...(options.cpu ? { cpu: options.cpu } : {}), ...(options.memory ? { memory: options.memory } : {}) } } : undefined;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: options.namespace ?? 'default' },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      ...(options.strategy ? { strategy: options.strategy } : {}),
      ...(options.minReadySeconds !== undefined ? { minReadySeconds: options.minReadySeconds } : {}),
      ...(options.paused ? { paused: true } : {}),
      ...(options.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: options.progressDeadlineSeconds } : {}),
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: options.image ?? 'coxswain/busybox:1', ports: [{ name: 'http', containerPort: 8080 }], ...(requests ? { resources: requests } : {}), ...(options.env ? { env: options.env as never } : {}) }] },
      },
    },
  } as Deployment;
}

export function service(name: string, options: { selector?: Record<string, string>; clusterIP?: string; type?: 'ClusterIP' | 'NodePort'; targetPort?: number | string; port?: number; namespace?: string } = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: options.namespace ?? 'default' },
    spec: {
      ...(options.type ? { type: options.type } : {}),
      selector: options.selector ?? { app: name },
      ...(options.clusterIP ? { clusterIP: options.clusterIP } : {}),
      ports: [{ name: 'http', port: options.port ?? 80, targetPort: options.targetPort ?? 'http', protocol: 'TCP' }],
    },
  } as Service;
}

export function configMap(name: string, data: Record<string, string>): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data };
}

export function barePod(name: string, spec: Partial<Pod['spec']> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'coxswain/busybox:1' }], ...spec } } as Pod;
}

/** Marks pods Running and Ready (as an agent would report), with an IP, ready since `since`. */
export function markReady(observed: ObservedState, filter: (pod: PodObject) => boolean = () => true, since = '2026-01-01T00:00:00.000Z'): ObservedState {
  const pods = new Map(observed.pods);
  let n = 1;
  for (const [uid, pod] of pods) {
    n++;
    if (!filter(pod) || pod.metadata.deletionTimestamp || !pod.spec.nodeName) continue;
    pods.set(uid, {
      ...pod,
      status: {
        ...pod.status,
        phase: 'Running',
        podIP: pod.status.podIP ?? `100.64.${n >> 8}.${n & 255}`,
        conditions: [...pod.status.conditions.filter((c) => c.type !== 'Ready'), { type: 'Ready', status: 'True', lastTransitionTime: since }],
      },
    });
  }
  return { ...observed, pods };
}

/** Forgets pods marked deleted (as the engine does once their agent converged). */
export function dropDeleted(observed: ObservedState): ObservedState {
  const pods = new Map([...observed.pods].filter(([, p]) => !p.metadata.deletionTimestamp));
  return { ...observed, pods };
}

export { emptyObserved };
