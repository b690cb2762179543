/**
 * How far a preview is, from Git alone: the preview's commit rewritten into
 * pr-<n> exactly as the engine does (engine/daemon/previews.ts) and merged
 * with the main branch's objects, reconciled against the status branch. The
 * preview is Ready when that pass has nothing left to do in pr-<n> (no pod to
 * create, bind or delete, no rollout step, no VIP or endpoint to program) and
 * every pod there is Ready — so pods of an older push never count. Pure.
 */
import { ObjectStore, type ManifestObject } from '../../engine/manifests/index.ts';
import { reconcile, type Action, type DesiredObjects } from '../../engine/controllers/index.ts';
import { previewObjects, type PreviewPolicy, type PreviewSource } from '../../engine/daemon/previews.ts';
import type { DesiredObject } from '../../engine/daemon/ports.ts';
import type { ObservedState, PodObject, ServiceObject } from '../../engine/model.ts';

export interface PreviewProgress {
  namespace: string;
  ready: boolean;
  /** Nothing can come of waiting (previews disabled, expired, nothing to run). */
  refused?: string;
  /** What is still to happen, in words (empty when ready). */
  waiting: string[];
  notes: string[];
  pods: Array<{ name: string; node?: string; phase: string; ready: boolean; ip?: string }>;
  services: Array<{ name: string; type: string; clusterIP: string; ports: string[] }>;
}

export function previewNamespace(number: number): string {
  return `pr-${number}`;
}

function inNamespace(key: string, namespace: string): boolean {
  const parts = key.split('/');
  return parts.length >= 2 && parts[parts.length - 2] === namespace;
}

function pending(a: Action, namespace: string): string | undefined {
  switch (a.type) {
    case 'createPod':
      return a.namespace === namespace ? `pod ${a.name} to start${a.node ? ` on ${a.node}` : ''}` : undefined;
    case 'bindPod':
      return a.namespace === namespace ? `pod ${a.name} to bind to ${a.node}` : undefined;
    case 'deletePod':
      return a.namespace === namespace ? `pod ${a.name} to stop (${a.reason})` : undefined;
    case 'unschedulable':
      return a.namespace === namespace ? `pod ${a.name} cannot be scheduled: ${a.message}` : undefined;
    case 'rolloutStep':
      return inNamespace(a.workload, namespace) ? `${a.workload}: ${a.step}` : undefined;
    case 'allocateService':
      return inNamespace(a.service, namespace) ? `service ${a.service} to get its VIP ${a.clusterIP}` : undefined;
    case 'endpoints':
      return inNamespace(a.service, namespace) ? `endpoints of ${a.service}:${a.port} to change` : undefined;
    case 'configError':
      return inNamespace(a.workload, namespace) ? `${a.workload}: ${a.message}` : undefined;
    default:
      return undefined;
  }
}

function podReady(p: PodObject): boolean {
  return p.status.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function servicePorts(s: ServiceObject): string[] {
  return s.spec.ports.map((p) => `${p.name ? `${p.name} ` : ''}${p.port}/${p.protocol}${p.nodePort ? ` (nodePort ${p.nodePort})` : ''}`);
}

export function previewProgress(input: { main: ObjectStore; preview: PreviewSource; commit: string; observed: ObservedState; now: Date }): PreviewProgress {
  const namespace = input.preview.name;
  const policy = (input.main.cluster.spec as { previews?: PreviewPolicy } | undefined)?.previews;
  const rewritten = previewObjects([input.preview], policy, input.now);
  const notes = rewritten.notes.filter((n) => n.preview === namespace).map((n) => n.message);
  const observedPods = [...input.observed.pods.values()].filter((p) => p.metadata.namespace === namespace).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const pods = observedPods.filter((p) => !p.metadata.deletionTimestamp).map((p) => ({ name: p.metadata.name, ...(p.spec.nodeName ? { node: p.spec.nodeName } : {}), phase: p.status.phase, ready: podReady(p), ...(p.status.podIP ? { ip: p.status.podIP } : {}) }));
  const services = [...input.observed.services.values()]
    .filter((s) => s.metadata.namespace === namespace)
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .map((s) => ({ name: s.metadata.name, type: s.spec.type, clusterIP: s.spec.clusterIP, ports: servicePorts(s) }));
  const base = { namespace, notes, pods, services };
  if (rewritten.objects.length === 0) {
    return { ...base, ready: false, waiting: [], refused: notes.length ? notes.join('; ') : `the preview's commit has nothing a preview runs (Deployments, ReplicaSets, Pods, Services, ConfigMaps, Secrets)` };
  }
  const desired = new ObjectStore([...input.main.all(), ...(rewritten.objects as ManifestObject[])], input.main.cluster) as unknown as DesiredObjects;
  const result = reconcile({ desired, commit: input.commit, observed: input.observed, now: input.now });
  const waiting = [...new Set(result.actions.map((a) => pending(a, namespace)).filter((w): w is string => w !== undefined))];
  const terminating = observedPods.filter((p) => p.metadata.deletionTimestamp).map((p) => `pod ${p.metadata.name} to finish terminating`);
  const notReady = pods.filter((p) => !p.ready).map((p) => `pod ${p.name} to become Ready (${p.phase}${p.node ? ` on ${p.node}` : ''})`);
  waiting.push(...terminating, ...notReady);
  const expectsPods = rewritten.objects.some((o) => ['Deployment', 'ReplicaSet', 'ReplicationController', 'Pod'].includes(o.kind) && (o.kind === 'Pod' || ((o as DesiredObject & { spec?: { replicas?: number } }).spec?.replicas ?? 1) > 0));
  if (expectsPods && pods.length === 0 && waiting.length === 0) waiting.push('the engine to start the preview (no pod in the status yet)');
  return { ...base, ready: waiting.length === 0, waiting };
}

/** The status branch no longer shows anything in the namespace (after cleanup). */
export function namespaceGone(observed: ObservedState, namespace: string): boolean {
  return ![...observed.pods.values()].some((p) => p.metadata.namespace === namespace) && ![...observed.services.values()].some((s) => s.metadata.namespace === namespace) && ![...observed.workloads.values()].some((w) => w.metadata.namespace === namespace);
}

export function renderPreview(progress: PreviewProgress, headSha: string, state: 'ready' | 'waiting' | 'refused'): string {
  const out: string[] = [];
  const heading = state === 'ready' ? 'is Ready' : state === 'refused' ? 'was not deployed' : 'is not Ready yet';
  out.push(`### Preview \`${progress.namespace}\` ${heading}`, '', `Commit \`${headSha.slice(0, 12)}\` in namespace \`${progress.namespace}\`.`);
  if (progress.refused) out.push('', `**${progress.refused}**`);
  if (progress.services.length) {
    out.push('', '| Service | Type | VIP | Ports |', '|---|---|---|---|');
    for (const s of progress.services) out.push(`| \`${s.name}\` | ${s.type} | ${s.clusterIP} | ${s.ports.join(', ')} |`);
  }
  if (progress.pods.length) {
    out.push('', '| Pod | Node | Phase | Ready | IP |', '|---|---|---|---|---|');
    for (const p of progress.pods) out.push(`| \`${p.name}\` | ${p.node ?? ''} | ${p.phase} | ${p.ready ? 'yes' : 'no'} | ${p.ip ?? ''} |`);
  }
  if (state === 'waiting' && progress.waiting.length) {
    out.push('', 'Still waiting for:', ...progress.waiting.slice(0, 20).map((w) => `- ${w}`));
  }
  if (progress.notes.length) out.push('', 'Preview policy:', ...progress.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}
