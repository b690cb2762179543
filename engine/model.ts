/**
 * The engine's view of the cluster, shared by controllers, scheduler, status
 * writer and host manager. Desired objects come from Git (manifests/);
 * observed objects are Kubernetes-shaped objects with a `status`, exactly as
 * they are written to (and read back from) the status branch, so an offline
 * plan sees what the running engine saw.
 */
import type { PodSpec, Cluster } from '../schemas/types.generated.ts';
import type { NodeCondition, PodStatus, ProxyTable, ResourceList, NodeSystemInfo } from '../common/agent-api.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  /** For owners: the desired commit that last changed the object's spec (Kubernetes' generation, by commit). */
  generation?: number;
}

export interface OwnerReference {
  apiVersion: string;
  kind: 'Deployment' | 'ReplicaSet' | 'ReplicationController' | 'DaemonSet';
  name: string;
  controller: true;
}

/** Labels and annotations the engine puts on pods it creates. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';

/** A pod the engine created or adopted: spec.nodeName is its binding. Written to `<ns>/pods/<name>.yaml`. */
export interface PodObject {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta & { namespace: string; uid: string };
  spec: PodSpec;
  status: PodStatus;
}

/** A node as observed. Written to `nodes/<name>.yaml` (without heartbeat times: those never make a commit). */
export interface NodeObject {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: ObjectMeta;
  spec: { podCIDR?: string; unschedulable?: boolean; taints?: Array<{ key: string; value?: string; effect: string; timeAdded?: string }> };
  status: {
    addresses: Array<{ type: 'InternalIP' | 'Hostname'; address: string }>;
    capacity?: ResourceList;
    allocatable?: ResourceList;
    conditions: NodeCondition[];
    nodeInfo?: NodeSystemInfo;
    images?: Array<{ names: string[] }>;
    /** The proxy table this node programmed (Coxswain extension). */
    proxy?: ProxyTable;
    /** Last heartbeat, kept in memory only (never serialized to the status branch). */
    lastHeartbeatTime?: string;
  };
}

export interface DeploymentStatus {
  observedGeneration?: number;
  /** The desired commit the status reflects. */
  observedCommit?: string;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  unavailableReplicas?: number;
  conditions: Array<{ type: 'Available' | 'Progressing' | 'ReplicaFailure'; status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string; lastTransitionTime?: string; lastUpdateTime?: string }>;
}

/** A workload's observed status, written to `<ns>/<kind plural>/<name>.yaml`. */
export interface WorkloadObject {
  apiVersion: string;
  kind: 'Deployment' | 'ReplicaSet' | 'ReplicationController' | 'DaemonSet';
  metadata: ObjectMeta & { namespace: string };
  status: DeploymentStatus | Record<string, unknown>;
}

/** A service as allocated and observed. Written to `<ns>/services/<name>.yaml`. */
export interface ServiceObject {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta & { namespace: string };
  spec: {
    type: 'ClusterIP' | 'NodePort';
    clusterIP: string; // "None" for headless
    ports: Array<{ name?: string; protocol: 'TCP' | 'UDP'; port: number; targetPort: number | string; nodePort?: number }>;
    selector?: Record<string, string>;
    sessionAffinity?: 'None' | 'ClientIP';
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  };
  status: {
    /** Ready endpoints per service port (Coxswain extension, like an EndpointSlice folded in). */
    endpoints: Array<{ port: string; addresses: Array<{ ip: string; port: number; nodeName?: string; podName: string }> }>;
  };
}

/** Everything observed: what the status branch holds and what the engine keeps in memory. */
export interface ObservedState {
  nodes: Map<string, NodeObject>;
  /** Keyed by pod uid. */
  pods: Map<string, PodObject>;
  /** Keyed by "namespace/name". */
  services: Map<string, ServiceObject>;
  /** Keyed by "Kind/namespace/name". */
  workloads: Map<string, WorkloadObject>;
  /** Validation errors of the newest desired commit that was refused (empty when the newest commit applied). */
  errors: Array<{ file: string; line: number; column: number; message: string }>;
  /** The desired commit last applied (last known good). */
  appliedCommit?: string;
}

export function emptyObserved(): ObservedState {
  return { nodes: new Map(), pods: new Map(), services: new Map(), workloads: new Map(), errors: [] };
}

export type ClusterConfig = Cluster;
