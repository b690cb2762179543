/**
 * PodStatus exactly as Kubernetes reports it, computed from the containers the
 * runtime holds, what the pod sync decided is waiting, and the probes. Pure;
 * the previous status carries lastTransitionTime over unchanged conditions.
 */
import type { Container } from '../../schemas/types.generated.ts';
import type { ContainerState, ContainerStatus, DesiredPod, PodCondition, PodStatus } from '../../common/agent-api.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { attemptOf, byName, isExited, type Waiting } from '../pods/sync.ts';
import { LABELS } from '../../common/agent-api.ts';

export interface ProbeView {
  /** Readiness result by container id (absent: no readiness probe). */
  ready(containerId: string): boolean | undefined;
  /** Startup result by container id (absent: no startup probe). */
  started(containerId: string): boolean | undefined;
}

export interface StatusInputs {
  pod: DesiredPod;
  containers: ContainerInfo[];
  waiting: Record<string, Waiting>;
  probes: ProbeView;
  hostIP: string;
  /** "docker" or "podman": the scheme of containerID. */
  runtimeName: string;
  nowIso: string;
  previous?: PodStatus;
}

export function terminatedState(c: ContainerInfo): ContainerState {
  const reason = c.state.oomKilled ? 'OOMKilled' : c.state.exitCode === 0 ? 'Completed' : 'Error';
  return {
    terminated: {
      exitCode: c.state.exitCode, reason,
      ...(c.state.error ? { message: c.state.error } : {}),
      ...(c.state.startedAt ? { startedAt: c.state.startedAt } : {}),
      ...(c.state.finishedAt ? { finishedAt: c.state.finishedAt } : {}),
    },
  };
}

function containerStatus(spec: Container, list: ContainerInfo[], inputs: StatusInputs, init: boolean): ContainerStatus {
  const latest = list[0];
  const previous = list[1];
  const waiting = inputs.waiting[spec.name];
  const status: ContainerStatus = { name: spec.name, ready: false, started: false, restartCount: latest ? attemptOf(latest) : 0, image: spec.image ?? '', state: {} };
  if (!latest) {
    status.state = { waiting: waiting ?? { reason: init ? 'PodInitializing' : 'ContainerCreating' } };
    return status;
  }
  status.containerID = `${inputs.runtimeName}://${latest.id}`;
  status.imageID = latest.imageID;
  if (latest.state.running) {
    status.state = { running: { startedAt: latest.state.startedAt ?? inputs.nowIso } };
    const started = inputs.probes.started(latest.id);
    status.started = started ?? true;
    status.ready = !init && status.started && (inputs.probes.ready(latest.id) ?? true);
    if (previous && isExited(previous)) status.lastState = terminatedState(previous);
  } else if (isExited(latest)) {
    if (waiting) {
      status.state = { waiting };
      status.lastState = terminatedState(latest);
    } else {
      status.state = terminatedState(latest);
      if (previous && isExited(previous)) status.lastState = terminatedState(previous);
    }
    status.ready = init && latest.state.exitCode === 0;
  } else {
    status.state = { waiting: waiting ?? { reason: 'ContainerCreating' } };
    if (previous && isExited(previous)) status.lastState = terminatedState(previous);
  }
  return status;
}

export function podStatus(inputs: StatusInputs): PodStatus {
  const { pod } = inputs;
  const named = byName(inputs.containers);
  const infra = inputs.containers.filter((c) => c.labels[LABELS.containerRole] === 'infra' && c.state.running)[0];
  const policy = pod.spec.restartPolicy ?? 'Always';
  const initStatuses = (pod.spec.initContainers ?? []).map((s) => containerStatus(s, named.get(s.name) ?? [], inputs, true));
  const appStatuses = pod.spec.containers.map((s) => containerStatus(s, named.get(s.name) ?? [], inputs, false));

  const initDone = initStatuses.every((s) => s.state.terminated?.exitCode === 0);
  const initFailed = policy === 'Never' && initStatuses.some((s) => s.state.terminated && s.state.terminated.exitCode !== 0);
  const unready = appStatuses.filter((s) => !s.ready).map((s) => s.name);
  const incomplete = initStatuses.filter((s) => s.state.terminated?.exitCode !== 0).map((s) => s.name);

  let phase: PodStatus['phase'];
  const lastExit = (s: ContainerStatus) => s.state.terminated?.exitCode ?? s.lastState?.terminated?.exitCode;
  if (initFailed) phase = 'Failed';
  else if (!initDone) phase = 'Pending';
  else if (appStatuses.some((s) => s.state.running)) phase = 'Running';
  else if (appStatuses.every((s) => s.state.terminated)) {
    const allOk = appStatuses.every((s) => s.state.terminated!.exitCode === 0);
    phase = policy === 'Always' ? 'Running' : allOk ? 'Succeeded' : policy === 'Never' ? 'Failed' : 'Running';
  } else if (appStatuses.every((s) => s.containerID) && appStatuses.every((s) => lastExit(s) !== undefined || s.state.running)) phase = 'Running';
  else phase = 'Pending';

  const prev = new Map((inputs.previous?.conditions ?? []).map((c) => [c.type, c]));
  const condition = (type: PodCondition['type'], ok: boolean, reason?: string, message?: string): PodCondition => {
    const status = ok ? 'True' : 'False';
    const before = prev.get(type);
    return {
      type, status,
      ...(!ok && reason ? { reason } : {}),
      ...(!ok && message ? { message } : {}),
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : inputs.nowIso,
    };
  };
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const conditions: PodCondition[] = [
    condition('Initialized', initDone, 'ContainersNotInitialized', `containers with incomplete status: [${incomplete.join(' ')}]`),
    condition('Ready', !terminal && unready.length === 0 && initDone, terminal ? 'PodCompleted' : 'ContainersNotReady', terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`),
    condition('ContainersReady', !terminal && unready.length === 0 && initDone, terminal ? 'PodCompleted' : 'ContainersNotReady', terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`),
    condition('PodScheduled', true),
  ];

  // A hostNetwork pod has the node's address (kubelet reports hostIP as its podIP once the sandbox runs).
  const podIP = !infra ? undefined : pod.spec.hostNetwork ? inputs.hostIP || undefined : Object.values(infra.ipAddresses)[0];
  const status: PodStatus = {
    phase,
    conditions,
    hostIP: inputs.hostIP,
    ...(podIP ? { podIP } : inputs.previous?.podIP && !terminal ? {} : {}),
    startTime: inputs.previous?.startTime ?? earliest(inputs.containers) ?? inputs.nowIso,
    ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: appStatuses,
  };
  return status;
}

function earliest(containers: ContainerInfo[]): string | undefined {
  const times = containers.map((c) => c.created).filter(Boolean).sort();
  return times[0] ? new Date(times[0]).toISOString() : undefined;
}
