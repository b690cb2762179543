/** The kinds Coxswain reads, and what it says about the ones it does not. */

export interface KindInfo {
  apiVersion: string;
  /** Lower-case plural, as in status file paths (`<ns>/deployments/<name>.yaml`). */
  plural: string;
  namespaced: boolean;
  /** The schema file in schemas/. */
  schema: string;
}

export const KINDS = {
  Pod: { apiVersion: 'v1', plural: 'pods', namespaced: true, schema: 'pod.json' },
  Deployment: { apiVersion: 'apps/v1', plural: 'deployments', namespaced: true, schema: 'deployment.json' },
  ReplicaSet: { apiVersion: 'apps/v1', plural: 'replicasets', namespaced: true, schema: 'replicaset.json' },
  ReplicationController: { apiVersion: 'v1', plural: 'replicationcontrollers', namespaced: true, schema: 'replicationcontroller.json' },
  DaemonSet: { apiVersion: 'apps/v1', plural: 'daemonsets', namespaced: true, schema: 'daemonset.json' },
  Service: { apiVersion: 'v1', plural: 'services', namespaced: true, schema: 'service.json' },
  ConfigMap: { apiVersion: 'v1', plural: 'configmaps', namespaced: true, schema: 'configmap.json' },
  Secret: { apiVersion: 'v1', plural: 'secrets', namespaced: true, schema: 'secret.json' },
  Namespace: { apiVersion: 'v1', plural: 'namespaces', namespaced: false, schema: 'namespace.json' },
  Node: { apiVersion: 'v1', plural: 'nodes', namespaced: false, schema: 'node.json' },
  Cluster: { apiVersion: 'coxswain.dev/v1alpha1', plural: 'clusters', namespaced: false, schema: 'cluster.json' },
} as const satisfies Record<string, KindInfo>;

export type KindName = keyof typeof KINDS;

export const WORKLOAD_KINDS = ['Deployment', 'ReplicaSet', 'ReplicationController', 'DaemonSet'] as const;

export function isKnownKind(kind: unknown): kind is KindName {
  return typeof kind === 'string' && Object.hasOwn(KINDS, kind);
}

/** Kinds that commonly travel with an application but mean nothing here: accepted with a warning, not loaded. */
export const IGNORED_KINDS: Record<string, string> = {
  ServiceAccount: 'there is no API server to authenticate to',
  Role: 'there is no API server to authorize',
  RoleBinding: 'there is no API server to authorize',
  ClusterRole: 'there is no API server to authorize',
  ClusterRoleBinding: 'there is no API server to authorize',
  PodDisruptionBudget: 'rolling updates follow the Deployment strategy only',
  PriorityClass: 'the scheduler does not preempt',
  LimitRange: 'there is no admission control',
  ResourceQuota: 'there is no admission control',
};

/** Well-known Kubernetes kinds that are refused with an error (they would otherwise be expected to do something). */
export const UNSUPPORTED_KINDS: Record<string, string> = {
  StatefulSet: 'use a Deployment with hostPath volumes and a nodeSelector',
  Job: 'use a Pod with restartPolicy: OnFailure',
  CronJob: 'schedule a Pod from outside, e.g. a CI job that commits it',
  Ingress: 'use a NodePort Service behind your own proxy',
  IngressClass: 'there is no ingress controller',
  NetworkPolicy: 'pod traffic is not filtered; refusing rather than pretending it is',
  PersistentVolume: 'there is no storage provisioner; use hostPath volumes',
  PersistentVolumeClaim: 'there is no storage provisioner; use hostPath volumes',
  StorageClass: 'there is no storage provisioner',
  HorizontalPodAutoscaler: 'set replicas in Git',
  Endpoints: 'endpoints are computed from Service selectors',
  EndpointSlice: 'endpoints are computed from Service selectors',
  CustomResourceDefinition: 'there is no API server to extend',
};
