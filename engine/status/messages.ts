/**
 * Status commit messages in words: one sentence per changed object
 * (`web-5d8f-x2k: Pending -> Running on h2`), the first (or a count) as the
 * subject, and trailers tying the commit to its cause.
 */
import type { ProxyTable, ProxyTableEntry } from '../../common/agent-api.ts';
import type { NodeObject, PodObject, ServiceObject, WorkloadObject, ObservedState } from '../model.ts';
import type { StatusObject } from './render.ts';
import { isPodReady, nodeStatus, podReady, podRestarts, podStatus, serviceEndpoints, shortName, workloadReady } from './columns.ts';

export const DESIRED_TRAILER = 'Coxswain-Desired';
export const REASON_TRAILER = 'Coxswain-Reason';
export const REFUSED_TRAILER = 'Coxswain-Refused';

/** One sentence for one object's change; `before`/`after` undefined for creation/deletion. */
export function describeChange(before: StatusObject | undefined, after: StatusObject | undefined): string {
  const obj = (after ?? before)!;
  switch (obj.kind) {
    case 'Pod':
      return describePod(before as PodObject | undefined, after as PodObject | undefined);
    case 'Node':
      return describeNode(before as NodeObject | undefined, after as NodeObject | undefined);
    case 'Service':
      return describeService(before as ServiceObject | undefined, after as ServiceObject | undefined);
    default:
      return describeWorkload(before as WorkloadObject | undefined, after as WorkloadObject | undefined);
  }
}

function describePod(before: PodObject | undefined, after: PodObject | undefined): string {
  const pod = (after ?? before)!;
  const name = shortName(pod.metadata.namespace, pod.metadata.name);
  if (!after) return `${name}: deleted`;
  const on = after.spec?.nodeName ? ` on ${after.spec.nodeName}` : '';
  if (!before) return `${name}: created, ${podStatus(after)}${on}`;
  const parts: string[] = [];
  if (!before.spec?.nodeName && after.spec?.nodeName) parts.push(`bound to ${after.spec.nodeName}`);
  const was = podStatus(before);
  const now = podStatus(after);
  if (was !== now) parts.push(`${was} -> ${now}${on}`);
  if (isPodReady(before) !== isPodReady(after) || podReady(before) !== podReady(after)) parts.push(`ready ${podReady(before)} -> ${podReady(after)}`);
  const restarts = podRestarts(after) - podRestarts(before);
  if (restarts > 0) parts.push(`restarted (${podRestarts(after)} restarts)`);
  if ((before.status?.podIP ?? '') !== (after.status?.podIP ?? '') && after.status?.podIP) parts.push(`IP ${after.status.podIP}`);
  if (parts.length === 0) parts.push('status changed');
  return `${name}: ${parts.join(', ')}`;
}

function describeNode(before: NodeObject | undefined, after: NodeObject | undefined): string {
  const node = (after ?? before)!;
  const name = `node ${node.metadata.name}`;
  if (!after) return `${name}: removed`;
  if (!before) return `${name}: joined, ${nodeStatus(after)}`;
  const parts: string[] = [];
  if (nodeStatus(before) !== nodeStatus(after)) parts.push(`${nodeStatus(before)} -> ${nodeStatus(after)}`);
  for (const c of after.status?.conditions ?? []) {
    if (c.type === 'Ready') continue;
    const old = before.status?.conditions?.find((b) => b.type === c.type);
    if (old?.status !== c.status) parts.push(`${c.type} ${old?.status ?? 'Unknown'} -> ${c.status}`);
  }
  parts.push(...describeProxyTable(before.status?.proxy, after.status?.proxy));
  if (parts.length === 0) parts.push('status changed');
  return `${name}: ${parts.join(', ')}`;
}

/** What changed in a node's proxy table, per service port: `proxy demo/web:80 backends 1 -> 3`. */
function describeProxyTable(before: ProxyTable | undefined, after: ProxyTable | undefined): string[] {
  const key = (e: ProxyTableEntry) => `${e.service}/${e.protocol}`;
  const old = new Map((before?.services ?? []).map((e) => [key(e), e]));
  const now = new Map((after?.services ?? []).map((e) => [key(e), e]));
  const parts: string[] = [];
  if (before && after && before.mode !== after.mode) parts.push(`proxy mode ${before.mode} -> ${after.mode}`);
  for (const [k, e] of now) {
    const was = old.get(k);
    if (!was) parts.push(`proxy ${e.service} added (${e.vip}:${e.port}, ${e.backends.length} backends)`);
    else if (was.vip !== e.vip || was.port !== e.port) parts.push(`proxy ${e.service} ${was.vip}:${was.port} -> ${e.vip}:${e.port}`);
    else if (was.backends.join() !== e.backends.join()) parts.push(`proxy ${e.service} backends ${was.backends.length} -> ${e.backends.length}`);
    else if (JSON.stringify(was) !== JSON.stringify(e)) parts.push(`proxy ${e.service} changed`);
  }
  for (const [k, e] of old) if (!now.has(k)) parts.push(`proxy ${e.service} removed`);
  return parts;
}

function describeService(before: ServiceObject | undefined, after: ServiceObject | undefined): string {
  const svc = (after ?? before)!;
  const name = `service ${shortName(svc.metadata.namespace, svc.metadata.name)}`;
  if (!after) return `${name}: deleted`;
  if (!before) return `${name}: created, ClusterIP ${after.spec.clusterIP}, ${serviceEndpoints(after).length} endpoints`;
  const parts: string[] = [];
  if (before.spec.clusterIP !== after.spec.clusterIP) parts.push(`ClusterIP ${before.spec.clusterIP} -> ${after.spec.clusterIP}`);
  const eb = serviceEndpoints(before);
  const ea = serviceEndpoints(after);
  if (eb.join() !== ea.join()) {
    const added = ea.filter((e) => !eb.includes(e));
    const removed = eb.filter((e) => !ea.includes(e));
    parts.push(`endpoints ${eb.length} -> ${ea.length}${added.length ? ` (+${added.join(' +')})` : ''}${removed.length ? ` (-${removed.join(' -')})` : ''}`);
  }
  if (parts.length === 0) parts.push('spec changed');
  return `${name}: ${parts.join(', ')}`;
}

function describeWorkload(before: WorkloadObject | undefined, after: WorkloadObject | undefined): string {
  const w = (after ?? before)!;
  const name = `${w.kind.toLowerCase()} ${shortName(w.metadata.namespace, w.metadata.name)}`;
  if (!after) return `${name}: deleted`;
  if (!before) return `${name}: created, ready ${workloadReady(after)}`;
  if (workloadReady(before) !== workloadReady(after)) return `${name}: ready ${workloadReady(before)} -> ${workloadReady(after)}`;
  return `${name}: status changed`;
}

export function describeErrors(before: ObservedState['errors'], after: ObservedState['errors'], refusedCommit?: string): string | undefined {
  if (JSON.stringify(before) === JSON.stringify(after)) return undefined;
  if (after.length === 0) return 'desired state valid again: validation errors cleared';
  const commit = refusedCommit ? ` ${refusedCommit.slice(0, 12)}` : '';
  return `desired commit${commit} refused: ${after.length} validation error${after.length === 1 ? '' : 's'}`;
}

export interface Cause {
  /** The desired commit the observed state was reconciled against (undefined before any valid commit). */
  desiredCommit?: string;
  /** Why it changed, in words (an action, an event), when one is known. */
  reason?: string;
  /** A newer desired commit that was refused (its errors are in the observed state). */
  refusedCommit?: string;
}

const MAX_BODY_LINES = 200;

export function composeMessage(changes: string[], cause: Cause, errors: ObservedState['errors'] = []): string {
  const subject = changes.length === 1 ? changes[0] : `${changes.length} changes: ${changes.slice(0, 3).join('; ')}${changes.length > 3 ? '; ...' : ''}`;
  const body = changes.length > 1 ? changes.slice(0, MAX_BODY_LINES) : [];
  if (changes.length > MAX_BODY_LINES) body.push(`... and ${changes.length - MAX_BODY_LINES} more`);
  const errorLines = errors.slice(0, 20).map((e) => `${e.file}:${e.line}:${e.column}: error: ${e.message}`);
  const trailers: string[] = [];
  if (cause.desiredCommit) trailers.push(`${DESIRED_TRAILER}: ${cause.desiredCommit}`);
  if (cause.refusedCommit) trailers.push(`${REFUSED_TRAILER}: ${cause.refusedCommit}`);
  if (cause.reason) trailers.push(`${REASON_TRAILER}: ${cause.reason.replace(/\s*\n\s*/g, ' ')}`);
  const sections = [oneLine(subject)];
  if (body.length) sections.push(body.join('\n'));
  if (errorLines.length) sections.push(errorLines.join('\n'));
  if (trailers.length) sections.push(trailers.join('\n'));
  return `${sections.join('\n\n')}\n`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat;
}

/** Trailers of a commit message ("Key: value" lines of its last paragraph). */
export function parseTrailers(message: string): Record<string, string> {
  const paragraphs = message.trim().split(/\n\s*\n/);
  const last = paragraphs[paragraphs.length - 1] ?? '';
  const out: Record<string, string> = {};
  for (const line of last.split('\n')) {
    const m = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
