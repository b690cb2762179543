/**
 * The contract between the engine and cox-agent: what one node should run
 * (NodeDesiredState, sent whole with a generation) and what it observes
 * (NodeObservedState, streamed as changes). Pod and container status use
 * Kubernetes' own shapes so they go into status files unchanged.
 *
 * HTTP/JSON on the agent's unix socket (default /run/coxswain/agent.sock):
 *   GET  /v1/version                      -> AgentVersion
 *   PUT  /v1/desired   NodeDesiredState   -> 200 { generation } | 409 StaleGeneration
 *   GET  /v1/desired                      -> NodeDesiredState | 404
 *   GET  /v1/observed                     -> ObservedSnapshot
 *   GET  /v1/watch?since=SEQ&timeoutSeconds=N -> WatchResponse (long-poll; returns at once if seq > since)
 *   GET  /v1/pods/NS/NAME/logs?container=C&tail=N&follow=1 -> text/plain (stream with follow)
 *   POST /v1/images/load  (tar body)      -> { images: string[] }
 *   GET  /metrics                         -> Prometheus text
 * Errors: JSON { code, message, data } with a 4xx/5xx status.
 */
import type { PodSpec } from '../schemas/types.generated.ts';

export const AGENT_SOCKET_PATH = '/run/coxswain/agent.sock';
export const AGENT_API_VERSION = 'v1';

/** Labels every container the agent creates carries; anything without them is never touched. */
export const LABELS = {
  managed: 'io.coxswain.managed',
  podName: 'io.coxswain.pod.name',
  podNamespace: 'io.coxswain.pod.namespace',
  podUid: 'io.coxswain.pod.uid',
  containerName: 'io.coxswain.container.name',
  /** "infra" for the pod's sandbox, "init" or "app" otherwise. */
  containerRole: 'io.coxswain.container.role',
  /** Hash of the container's desired spec: a different hash means recreate. */
  specHash: 'io.coxswain.container.spec-hash',
} as const;

export interface AgentVersion {
  version: string;
  apiVersion: typeof AGENT_API_VERSION;
  /** Hash of the agent bundle; the engine re-uploads when it differs from its own. */
  build: string;
}

export type ProxyMode = 'ipvs' | 'nftables' | 'auto';

export interface NodeDesiredState {
  /** Monotonic per node; a PUT with a lower generation than the accepted one is refused (fences a deposed engine). */
  generation: number;
  node: string;
  /** The desired commit this state was computed from (for status and logs only). */
  desiredCommit?: string;
  /** This node's address on the host network (NodePort listens here, routes point here). */
  nodeAddress: string;
  /** This node's pod subnet, e.g. 100.64.1.0/24. */
  podCIDR: string;
  /** The whole cluster's pod range, e.g. 100.64.0.0/16: pod-to-pod traffic inside it is never masqueraded. */
  clusterCIDR: string;
  serviceCIDR: string;
  proxyMode: ProxyMode;
  pods: DesiredPod[];
  services: DesiredService[];
  /** Routes to every peer's pod subnet (host-gw). */
  routes: PodRoute[];
}

export interface DesiredPod {
  uid: string;
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The pod spec from Git, defaulted. nodeName is this node. */
  spec: PodSpec;
  /** ConfigMaps and Secrets the spec references (env, envFrom, volumes), by name; Secret values already base64-decoded. */
  configMaps?: Record<string, Record<string, string>>;
  secrets?: Record<string, Record<string, string>>;
  /** `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT`, ... for the Services of the pod's namespace, as Kubernetes injects them. */
  serviceEnv?: Record<string, string>;
}

export interface DesiredService {
  namespace: string;
  name: string;
  type: 'ClusterIP' | 'NodePort';
  /** The allocated VIP; null or "None" for headless (nothing is programmed). */
  clusterIP: string | null;
  sessionAffinity?: 'None' | 'ClientIP';
  sessionAffinityTimeoutSeconds?: number;
  ports: DesiredServicePort[];
}

export interface DesiredServicePort {
  name?: string;
  protocol: 'TCP' | 'UDP';
  port: number;
  nodePort?: number;
  /** Ready endpoints only, on any node. */
  endpoints: Endpoint[];
}

export interface Endpoint {
  ip: string;
  port: number;
  /** Node the endpoint's pod runs on (for status and locality). */
  nodeName?: string;
}

export interface PodRoute {
  /** A peer's pod subnet. */
  cidr: string;
  /** The peer's node address. */
  via: string;
}

// ---- observed state ---------------------------------------------------------

export interface NodeObservedState {
  node: string;
  /** The generation last converged to (0 before any). */
  generation: number;
  agent: AgentVersion;
  info: NodeSystemInfo;
  capacity: ResourceList;
  allocatable: ResourceList;
  conditions: NodeCondition[];
  /** Images present in the container engine, "name:tag". */
  images: string[];
  pods: ObservedPod[];
  proxy: ProxyTable;
  /** ISO time of the agent's last heartbeat; sent in the stream, never written to status files. */
  heartbeatTime: string;
}

export interface NodeSystemInfo {
  hostname: string;
  osImage: string;
  kernelVersion: string;
  architecture: string;
  containerRuntimeVersion: string;
  operatingSystem: string;
}

export type ResourceList = { cpu: string; memory: string; pods: string } & Record<string, string>;

export interface NodeCondition {
  type: 'Ready' | 'MemoryPressure' | 'DiskPressure' | 'PIDPressure' | 'NetworkUnavailable' | string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ObservedPod {
  uid: string;
  name: string;
  namespace: string;
  status: PodStatus;
  usage?: { cpuNanoCores: number; memoryBytes: number };
}

export interface PodStatus {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  conditions: PodCondition[];
  podIP?: string;
  hostIP?: string;
  startTime?: string;
  reason?: string;
  message?: string;
  initContainerStatuses?: ContainerStatus[];
  containerStatuses: ContainerStatus[];
}

export interface PodCondition {
  type: 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready';
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  image: string;
  imageID?: string;
  containerID?: string;
  state: ContainerState;
  lastState?: ContainerState;
}

export interface ContainerState {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: { exitCode: number; reason: string; message?: string; startedAt?: string; finishedAt?: string };
}

/** What a node's proxy programmed: part of observed state, so the status branch shows every network change. */
export interface ProxyTable {
  mode: 'ipvs' | 'nftables' | 'none';
  services: ProxyTableEntry[];
}

export interface ProxyTableEntry {
  service: string; // "namespace/name:portName-or-port"
  vip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  nodePort?: number;
  backends: string[]; // "ip:port", sorted
  scheduler?: string;
  sessionAffinity?: 'None' | 'ClientIP';
}

export interface ObservedSnapshot {
  seq: number;
  state: NodeObservedState;
}

/**
 * A long-poll answer. When `since` is older than the agent's retained history
 * (or the agent restarted), `snapshot` is set and `changes` is empty: the
 * client replaces its view. Otherwise `changes` are the pods, conditions and
 * proxy table that changed since `since`, in order.
 */
export interface WatchResponse {
  seq: number;
  snapshot?: NodeObservedState;
  changes: ObservedChange[];
}

export type ObservedChange =
  | { seq: number; type: 'pod'; pod: ObservedPod }
  | { seq: number; type: 'podDeleted'; uid: string; namespace: string; name: string }
  | { seq: number; type: 'node'; generation: number; conditions: NodeCondition[]; capacity: ResourceList; allocatable: ResourceList; images: string[] }
  | { seq: number; type: 'proxy'; proxy: ProxyTable }
  | { seq: number; type: 'heartbeat'; time: string };
