/**
 * `cox engine --once`: when is a commit "done"? Every pod the controllers
 * want is Ready, or has failed with a reason a person can act on; nothing is
 * left terminating. Pure, so the rule is tested as a table.
 */
import type { PodObject } from '../model.ts';
import type { PassSummary } from './index.ts';
import type { HostConnection } from './ports.ts';

/** Container waiting reasons that will not fix themselves without a change in Git or on the host. */
const FAILED_WAITING = new Set(['CrashLoopBackOff', 'ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

export type PodVerdict = { state: 'ready' } | { state: 'waiting'; why: string } | { state: 'failed'; why: string };

export function podVerdict(pod: PodObject, connections: Map<string, HostConnection>): PodVerdict {
  if (pod.metadata.deletionTimestamp) return { state: 'waiting', why: 'terminating' };
  const scheduled = pod.status.conditions.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') return { state: 'failed', why: `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? 'no node fits'}` };
  if (!pod.spec.nodeName) return { state: 'waiting', why: 'not scheduled yet' };
  const connection = connections.get(pod.spec.nodeName);
  if (connection?.state === 'refused' || connection?.state === 'unreachable') return { state: 'failed', why: connection.reason };
  if (pod.status.phase === 'Failed') return { state: 'failed', why: `${pod.status.reason ?? 'Failed'}${pod.status.message ? `: ${pod.status.message}` : ''}` };
  const ready = pod.status.conditions.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return { state: 'ready' };
  for (const container of [...(pod.status.initContainerStatuses ?? []), ...pod.status.containerStatuses]) {
    const waiting = container.state.waiting;
    if (waiting && FAILED_WAITING.has(waiting.reason)) return { state: 'failed', why: `container ${container.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
  }
  if (pod.status.phase === 'Succeeded') return { state: 'ready' };
  return { state: 'waiting', why: pod.status.phase === 'Running' ? 'not ready' : pod.status.phase };
}

export type OnceOutcome = { done: false; waiting: string[] } | { done: true; ok: boolean; lines: string[] };

export function onceOutcome(pass: PassSummary, connections: Map<string, HostConnection>): OnceOutcome {
  if (!pass.commit) {
    const errors = pass.observed.errors.map((e) => `${e.file}:${e.line}:${e.column}: error: ${e.message}`);
    return { done: true, ok: false, lines: [`no valid desired commit${pass.refusedCommit ? `: ${pass.refusedCommit.slice(0, 12)} refused` : ''}`, ...errors] };
  }
  if (pass.refusedCommit) {
    const errors = pass.observed.errors.map((e) => `${e.file}:${e.line}:${e.column}: error: ${e.message}`);
    return { done: true, ok: false, lines: [`${pass.refusedCommit.slice(0, 12)} refused; still running ${pass.commit.slice(0, 12)}`, ...errors] };
  }
  const pods = [...pass.observed.pods.values()].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  const waiting: string[] = [];
  const failed: string[] = [];
  for (const pod of pods) {
    const verdict = podVerdict(pod, connections);
    const name = `${pod.metadata.namespace}/${pod.metadata.name}${pod.spec.nodeName ? ` on ${pod.spec.nodeName}` : ''}`;
    if (verdict.state === 'waiting') waiting.push(`${name}: ${verdict.why}`);
    if (verdict.state === 'failed') failed.push(`${name}: ${verdict.why}`);
  }
  if (waiting.length > 0 || pass.actions > 0 || pass.puts > 0) return { done: false, waiting };
  const ready = pods.length - failed.length;
  const nodes = [...new Set(pods.filter((p) => !failed.some((f) => f.startsWith(`${p.metadata.namespace}/${p.metadata.name} `))).map((p) => p.spec.nodeName).filter(Boolean))].sort();
  const summary = `${pass.commit.slice(0, 12)}: ${ready} pod${ready === 1 ? '' : 's'} ready${nodes.length ? ` on ${nodes.join(', ')}` : ''}${failed.length ? `, ${failed.length} failed` : ''}`;
  return { done: true, ok: failed.length === 0, lines: [summary, ...failed] };
}
