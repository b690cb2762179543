/**
 * The columns people read about objects, computed the way kubectl computes
 * them: shared by STATUS.md, commit messages and `cox get`.
 */
import type { NodeObject, PodObject, ServiceObject, WorkloadObject, DeploymentStatus } from '../model.ts';

/** "1/2": ready containers over containers. */
export function podReady(pod: PodObject): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers?.length ?? statuses.length;
  return `${statuses.filter((c) => c.ready).length}/${total}`;
}

/** What kubectl shows in STATUS: Terminating, a container's waiting/terminated reason, or the phase. */
export function podStatus(pod: PodObject): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  const status = pod.status;
  if (!status) return 'Unknown';
  if (status.reason) return status.reason;
  for (const c of [...(status.initContainerStatuses ?? [])]) {
    if (c.state?.terminated && c.state.terminated.exitCode !== 0) return `Init:${c.state.terminated.reason || 'Error'}`;
    if (c.state?.waiting && c.state.waiting.reason !== 'PodInitializing') return `Init:${c.state.waiting.reason}`;
  }
  for (const c of status.containerStatuses ?? []) {
    if (c.state?.waiting?.reason && c.state.waiting.reason !== 'ContainerCreating') return c.state.waiting.reason;
    if (c.state?.terminated && status.phase === 'Running') return c.state.terminated.reason || 'Error';
  }
  if (status.phase === 'Pending' && pod.spec?.nodeName && (status.containerStatuses ?? []).length > 0) return 'ContainerCreating';
  return status.phase;
}

export function podRestarts(pod: PodObject): number {
  return (pod.status?.containerStatuses ?? []).reduce((sum, c) => sum + (c.restartCount ?? 0), 0);
}

export function isPodReady(pod: PodObject): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** "Ready", "NotReady", "Unknown", with ",SchedulingDisabled" when cordoned. */
export function nodeStatus(node: NodeObject): string {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const word = ready?.status === 'True' ? 'Ready' : ready?.status === 'False' ? 'NotReady' : 'Unknown';
  return node.spec?.unschedulable ? `${word},SchedulingDisabled` : word;
}

export function nodeAddress(node: NodeObject): string {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '<none>';
}

export function servicePorts(service: ServiceObject): string {
  const ports = service.spec?.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol}`).join(',');
}

/** Ready endpoint addresses, "ip:port" joined, kubectl's ENDPOINTS column. */
export function serviceEndpoints(service: ServiceObject): string[] {
  const all = (service.status?.endpoints ?? []).flatMap((e) => e.addresses.map((a) => `${a.ip}:${a.port}`));
  return [...new Set(all)].sort();
}

export function workloadReady(workload: WorkloadObject): string {
  const s = workload.status as Partial<DeploymentStatus> & Record<string, unknown>;
  if (workload.kind === 'DaemonSet') return `${num(s.numberReady)}/${num(s.desiredNumberScheduled)}`;
  return `${num(s.readyReplicas)}/${num(s.replicas)}`;
}

export function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

/** "default/web" shortened to "web" in the default namespace, as in messages people read. */
export function shortName(namespace: string | undefined, name: string): string {
  return !namespace || namespace === 'default' ? name : `${namespace}/${name}`;
}

/** Kubernetes' resource plural for a workload kind ("Deployment" -> "deployments"). */
export function pluralOf(kind: string): string {
  return `${kind.toLowerCase()}s`;
}

/** kubectl's AGE: 5s, 3m, 2h, 4d. */
export function age(since: string | undefined, now: Date): string {
  if (!since) return '<unknown>';
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1000));
  if (Number.isNaN(seconds)) return '<unknown>';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}
