/**
 * The pod sync decision, kubelet-style and pure: given one desired pod and
 * the containers the runtime holds for its uid (found by labels), return what
 * to do next as data. The kubelet loop executes the actions and calls this
 * again until it returns none; running it on a converged pod returns none.
 */
import type { Container } from '../../schemas/types.generated.ts';
import { LABELS, type DesiredPod } from '../../common/agent-api.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { BackOff, formatDuration } from './backoff.ts';
import { RESTART_COUNT_LABEL, specHash } from './container-spec.ts';

export type PodAction =
  | { type: 'createInfra' }
  | { type: 'startContainer'; container: string; role: 'init' | 'app'; attempt: number; infraId: string }
  | { type: 'stopContainer'; id: string; container: string; graceSeconds: number; reason: string }
  | { type: 'removeContainer'; id: string; container: string; reason: string };

export interface Waiting {
  reason: string;
  message?: string;
}

export interface PodDecision {
  actions: PodAction[];
  /** Containers that wait, and why (CrashLoopBackOff, ImagePullBackOff, ...). */
  waiting: Record<string, Waiting>;
  /** Milliseconds until a back-off ends: sync again then. */
  requeueAfterMs?: number;
}

export interface SyncInputs {
  pod: DesiredPod;
  /** Every container labelled with the pod's uid. */
  containers: ContainerInfo[];
  backoff: BackOff;
  nowMs: number;
  /** Container ids whose liveness (or startup) probe has failed: kill them. */
  unhealthy?: ReadonlyMap<string, string>;
  /** A container whose start is blocked (image pull back-off, config error), by container name. */
  blocked?: ReadonlyMap<string, Waiting>;
}

export function attemptOf(c: ContainerInfo): number {
  return Number(c.labels[RESTART_COUNT_LABEL] ?? 0) || 0;
}

/** Containers of one name, newest attempt first. */
export function byName(containers: ContainerInfo[]): Map<string, ContainerInfo[]> {
  const map = new Map<string, ContainerInfo[]>();
  for (const c of containers) {
    if (c.labels[LABELS.containerRole] === 'infra') continue;
    const name = c.labels[LABELS.containerName] ?? '';
    map.set(name, [...(map.get(name) ?? []), c]);
  }
  for (const list of map.values()) list.sort((a, b) => attemptOf(b) - attemptOf(a) || b.created.localeCompare(a.created));
  return map;
}

export function isExited(c: ContainerInfo): boolean {
  return !c.state.running && c.state.status !== 'created' && c.state.status !== 'configured';
}

export function backoffKey(pod: DesiredPod, container: string): string {
  return `${pod.uid}/${container}`;
}

function shouldRestart(policy: string, exitCode: number): boolean {
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}

export function decide(inputs: SyncInputs): PodDecision {
  const { pod, containers, nowMs } = inputs;
  const actions: PodAction[] = [];
  const waiting: Record<string, Waiting> = {};
  let requeueAfterMs: number | undefined;
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  const policy = pod.spec.restartPolicy ?? 'Always';
  const named = byName(containers);
  const requeue = (ms: number) => { requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, ms); };

  // Containers whose name is no longer in the spec go.
  const wanted = new Set([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name));
  for (const [name, list] of named) {
    if (wanted.has(name)) continue;
    for (const c of list) {
      if (c.state.running) actions.push({ type: 'stopContainer', id: c.id, container: name, graceSeconds: grace, reason: 'no longer in the pod spec' });
      actions.push({ type: 'removeContainer', id: c.id, container: name, reason: 'no longer in the pod spec' });
    }
  }

  // The sandbox: exactly one running infra container.
  const infras = containers.filter((c) => c.labels[LABELS.containerRole] === 'infra').sort((a, b) => b.created.localeCompare(a.created));
  const infra = infras.find((c) => c.state.running);
  // A dead sandbox goes once no container joins its network namespace any more (the runtime refuses before).
  const joined = (c: ContainerInfo) => containers.some((o) => o.networkMode === `container:${c.id}`);
  for (const c of infras) if (c !== infra && !joined(c)) actions.push({ type: 'removeContainer', id: c.id, container: 'infra', reason: 'sandbox not running' });
  if (!infra) {
    for (const list of named.values()) for (const c of list) if (c.state.running) actions.push({ type: 'stopContainer', id: c.id, container: c.labels[LABELS.containerName] ?? '', graceSeconds: grace, reason: 'sandbox is gone' });
    // Kubernetes gives a Never pod whose containers already ran no new sandbox: it is done.
    if (policy !== 'Never' || named.size === 0) actions.push({ type: 'createInfra' });
    return { actions, waiting };
  }
  const inSandbox = (c: ContainerInfo) => c.networkMode === `container:${infra.id}`;

  // Ask to start a new attempt of `spec` unless a back-off or a block holds it; `crashed` says the latest attempt failed.
  const start = (spec: Container, role: 'init' | 'app', latest: ContainerInfo | undefined, crashed = true) => {
    const blocked = inputs.blocked?.get(spec.name);
    if (blocked) { waiting[spec.name] = blocked; return; }
    const attempt = latest ? attemptOf(latest) + 1 : 0;
    if (latest && crashed) {
      const key = backoffKey(pod, spec.name);
      const finished = Date.parse(latest.state.finishedAt ?? '') || nowMs;
      const left = inputs.backoff.remaining(key, finished, nowMs);
      if (left > 0) {
        waiting[spec.name] = { reason: 'CrashLoopBackOff', message: `back-off ${formatDuration(inputs.backoff.get(key))} restarting failed container=${spec.name} pod=${pod.name}_${pod.namespace}(${pod.uid})` };
        requeue(left);
        return;
      }
      inputs.backoff.next(key, nowMs);
    }
    actions.push({ type: 'startContainer', container: spec.name, role, attempt, infraId: infra.id });
  };

  // Init containers, in order, each to completion in this sandbox: a new sandbox runs them all again, as in Kubernetes.
  for (const spec of pod.spec.initContainers ?? []) {
    const list = named.get(spec.name) ?? [];
    const latest = list[0];
    // Attempts of earlier sandboxes go once a newer one exists (they hold the dead sandbox in place).
    for (const old of list.slice(1)) if (!old.state.running && !inSandbox(old)) actions.push({ type: 'removeContainer', id: old.id, container: spec.name, reason: 'ran in an earlier sandbox' });
    if (latest && latest.state.running) {
      if (!inSandbox(latest)) actions.push({ type: 'stopContainer', id: latest.id, container: spec.name, graceSeconds: grace, reason: 'sandbox is gone' });
      return { actions, waiting, requeueAfterMs };
    }
    if (latest && !inSandbox(latest)) {
      if (!isExited(latest)) actions.push({ type: 'removeContainer', id: latest.id, container: spec.name, reason: 'never started' });
      start(spec, 'init', latest, false);
      return { actions, waiting, requeueAfterMs };
    }
    if (latest && isExited(latest) && latest.state.exitCode === 0) continue;
    if (latest && isExited(latest) && policy === 'Never') return { actions, waiting, requeueAfterMs };
    if (latest && !isExited(latest)) actions.push({ type: 'removeContainer', id: latest.id, container: spec.name, reason: 'never started' });
    start(spec, 'init', latest);
    return { actions, waiting, requeueAfterMs };
  }

  for (const spec of pod.spec.containers) {
    const list = named.get(spec.name) ?? [];
    const latest = list[0];
    // Keep the newest and the one before it (lastState, previous logs); older attempts go.
    for (const old of list.slice(2)) if (!old.state.running) actions.push({ type: 'removeContainer', id: old.id, container: spec.name, reason: 'old attempt' });
    if (!latest) { start(spec, 'app', undefined); continue; }
    const hashChanged = latest.labels[LABELS.specHash] !== specHash(spec);
    if (latest.state.running) {
      const why = hashChanged ? 'container spec changed' : inputs.unhealthy?.get(latest.id);
      if (why) {
        const probeGrace = (hashChanged ? undefined : spec.livenessProbe?.terminationGracePeriodSeconds) ?? grace;
        actions.push({ type: 'stopContainer', id: latest.id, container: spec.name, graceSeconds: probeGrace, reason: why });
      }
      continue;
    }
    if (!isExited(latest)) {
      // Created but never started (the start failed): retry it as a crash.
      actions.push({ type: 'removeContainer', id: latest.id, container: spec.name, reason: 'never started' });
      start(spec, 'app', latest);
      continue;
    }
    if (hashChanged) { actions.push({ type: 'startContainer', container: spec.name, role: 'app', attempt: attemptOf(latest) + 1, infraId: infra.id }); continue; }
    if (shouldRestart(policy, latest.state.exitCode)) start(spec, 'app', latest);
  }
  return { actions, waiting, requeueAfterMs };
}

/**
 * Taking a pod down: app and init containers get the grace period and are
 * removed, then the sandbox goes. The sandbox holds the pod's network: were it
 * stopped with them, a pod finishing its work in the grace period would lose
 * its address at once (the kubelet runs its containers' stops together).
 */
export function teardown(containers: ContainerInfo[], graceSeconds: number): PodAction[] {
  const actions: PodAction[] = [];
  const isInfra = (c: ContainerInfo) => c.labels[LABELS.containerRole] === 'infra';
  const [infras, others] = [containers.filter(isInfra), containers.filter((c) => !isInfra(c))];
  for (const c of others) if (c.state.running) actions.push({ type: 'stopContainer', id: c.id, container: c.labels[LABELS.containerName] ?? '', graceSeconds, reason: 'pod deleted' });
  for (const c of others) actions.push({ type: 'removeContainer', id: c.id, container: c.labels[LABELS.containerName] ?? '', reason: 'pod deleted' });
  for (const c of infras) if (c.state.running) actions.push({ type: 'stopContainer', id: c.id, container: 'infra', graceSeconds: 0, reason: 'pod deleted' });
  for (const c of infras) actions.push({ type: 'removeContainer', id: c.id, container: 'infra', reason: 'pod deleted' });
  return actions;
}
