/**
 * Preview environments: each ref `refs/coxswain/previews/pr-<n>` deploys its
 * commit's workloads into namespace `pr-<n>`, restricted by the Cluster's
 * preview policy (spec.previews): which nodes (nodeSelector), replicas per
 * workload, pods per preview, CPU and memory limits per container, and a
 * time-to-live. Pure: the loop merges the result into the desired objects it
 * reconciles, so preview pods, VIPs and status are like any others.
 */
import { bytes, cpuMillis } from '../../common/quantity.ts';
import type { DesiredError, DesiredObject } from './ports.ts';

export interface PreviewPolicy {
  enabled?: boolean;
  nodeSelector?: Record<string, string>;
  limits?: { maxPods?: number; maxReplicas?: number; cpu?: string | number; memory?: string | number };
  ttlHours?: number;
}

export interface PreviewSource {
  /** The ref's name under refs/coxswain/previews/, e.g. "pr-12". */
  name: string;
  commit: string;
  /** Committer time of the preview's commit. */
  committedAt: Date;
  objects: DesiredObject[];
}

export interface PreviewResult {
  objects: DesiredObject[];
  /** Per preview: what was left out or cut down, in words (for logs and status). */
  notes: Array<{ preview: string; message: string }>;
  /** Previews whose commit did not validate (never applied, like the main branch's). */
  refused?: Array<{ preview: string; errors: DesiredError[] }>;
}

const PREVIEW_NAME = /^pr-[0-9]+$/;
/** Kinds a preview may bring; cluster-scoped ones (Node, Cluster, Namespace) stay with the main branch. */
const PREVIEW_KINDS = new Set(['Deployment', 'ReplicaSet', 'ReplicationController', 'Pod', 'Service', 'ConfigMap', 'Secret']);
const WORKLOADS = new Set(['Deployment', 'ReplicaSet', 'ReplicationController']);

export function previewObjects(previews: PreviewSource[], policy: PreviewPolicy | undefined, now: Date): PreviewResult {
  const notes: PreviewResult['notes'] = [];
  const out: DesiredObject[] = [];
  if (policy?.enabled === false) {
    for (const p of previews) notes.push({ preview: p.name, message: 'previews are disabled in cluster.yaml (spec.previews.enabled: false)' });
    return { objects: [], notes };
  }
  const maxReplicas = policy?.limits?.maxReplicas ?? 1;
  const maxPods = policy?.limits?.maxPods ?? 10;
  const ttlMs = (policy?.ttlHours ?? 72) * 3600_000;
  for (const preview of [...previews].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!PREVIEW_NAME.test(preview.name)) {
      notes.push({ preview: preview.name, message: `ignored: a preview ref must be named pr-<number>` });
      continue;
    }
    if (ttlMs > 0 && now.getTime() - preview.committedAt.getTime() > ttlMs) {
      notes.push({ preview: preview.name, message: `expired: not updated for more than ${policy?.ttlHours ?? 72} h (spec.previews.ttlHours)` });
      continue;
    }
    const namespace = preview.name;
    let podBudget = maxPods;
    const kept: DesiredObject[] = [];
    for (const object of preview.objects) {
      if (!PREVIEW_KINDS.has(object.kind)) {
        if (!['Node', 'Cluster', 'Namespace'].includes(object.kind)) notes.push({ preview: namespace, message: `${object.kind}/${object.metadata.name} left out: previews run ${[...PREVIEW_KINDS].join(', ')}` });
        continue;
      }
      const copy = structuredClone(object) as DesiredObject & { spec?: Record<string, unknown> };
      copy.metadata = { ...copy.metadata, namespace, labels: { ...(copy.metadata.labels ?? {}), 'coxswain.io/preview': namespace } };
      if (copy.kind === 'Service' && copy.spec) {
        // The main branch owns its fixed VIPs and node ports: a preview gets its own.
        delete copy.spec.clusterIP;
        delete copy.spec.clusterIPs;
        if (Array.isArray(copy.spec.ports)) copy.spec.ports = (copy.spec.ports as Array<Record<string, unknown>>).map(({ nodePort: _dropped, ...port }) => port);
      }
      if (WORKLOADS.has(copy.kind) && copy.spec) {
        const wanted = typeof copy.spec.replicas === 'number' ? copy.spec.replicas : 1;
        const replicas = Math.max(0, Math.min(wanted, maxReplicas, podBudget));
        if (replicas !== wanted) notes.push({ preview: namespace, message: `${copy.kind}/${copy.metadata.name}: ${wanted} -> ${replicas} replicas (preview limits)` });
        copy.spec.replicas = replicas;
        podBudget -= replicas;
        const template = copy.spec.template as { spec?: Record<string, unknown> } | undefined;
        if (template?.spec) restrictPodSpec(template.spec, policy);
      }
      if (copy.kind === 'Pod' && copy.spec) {
        if (podBudget <= 0) {
          notes.push({ preview: namespace, message: `Pod/${copy.metadata.name} left out: the preview already has ${maxPods} pods (spec.previews.limits.maxPods)` });
          continue;
        }
        podBudget -= 1;
        restrictPodSpec(copy.spec, policy);
      }
      kept.push(copy);
    }
    out.push(...kept);
  }
  return { objects: out, notes };
}

/** Policy nodeSelector wins over the preview's own; container limits are capped (requests too, so they never exceed limits). */
function restrictPodSpec(spec: Record<string, unknown>, policy: PreviewPolicy | undefined): void {
  if (policy?.nodeSelector && Object.keys(policy.nodeSelector).length > 0) {
    spec.nodeSelector = { ...((spec.nodeSelector as Record<string, string>) ?? {}), ...policy.nodeSelector };
    delete spec.nodeName;
  }
  const cpu = policy?.limits?.cpu;
  const memory = policy?.limits?.memory;
  if (cpu === undefined && memory === undefined) return;
  for (const list of ['initContainers', 'containers']) {
    for (const container of (spec[list] as Array<Record<string, unknown>> | undefined) ?? []) {
      const resources = ((container.resources as Record<string, Record<string, string | number>> | undefined) ?? {}) as { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
      const limits = { ...(resources.limits ?? {}) };
      const requests = { ...(resources.requests ?? {}) };
      if (cpu !== undefined) {
        if (limits.cpu === undefined || cpuMillis(limits.cpu) > cpuMillis(cpu)) limits.cpu = cpu;
        if (requests.cpu !== undefined && cpuMillis(requests.cpu) > cpuMillis(limits.cpu)) requests.cpu = limits.cpu;
      }
      if (memory !== undefined) {
        if (limits.memory === undefined || bytes(limits.memory) > bytes(memory)) limits.memory = memory;
        if (requests.memory !== undefined && bytes(requests.memory) > bytes(limits.memory)) requests.memory = limits.memory;
      }
      container.resources = { ...resources, limits, ...(Object.keys(requests).length ? { requests } : {}) };
    }
  }
}
