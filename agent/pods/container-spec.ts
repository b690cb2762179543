/**
 * Docker create bodies for a pod's containers, as data. The infra container
 * holds the pod's network namespace on the node's pod network (with
 * hostNetwork: the node's own network and UTS namespaces, no pod address);
 * init and app containers join it with NetworkMode container:<infra>.
 */
import { createHash } from 'node:crypto';
import type { Container } from '../../schemas/types.generated.ts';
import { LABELS, type DesiredPod } from '../../common/agent-api.ts';
import type { ContainerCreateBody } from '../runtime/types.ts';
import { expand, resolveEnv, type FieldContext } from './env.ts';
import { bytes, cpuMillis } from '../../common/quantity.ts';
import { bindsFor, type VolumePlan } from './volumes.ts';
import { securityFields } from './security-context.ts';

export const INFRA_IMAGE = 'coxswain/pause:1';
export const INFRA_COMMAND = ['/pause', '-P'];
/** The label the agent adds with the attempt number of a container (0 for the first run). */
export const RESTART_COUNT_LABEL = 'io.coxswain.container.restart-count';

/** The pod's terminationGracePeriodSeconds, so a pod that left the desired state is still stopped with it. */
export const GRACE_LABEL = 'io.coxswain.pod.termination-grace-period';

export type ContainerRole = 'infra' | 'init' | 'app';

export function podLabels(pod: DesiredPod, containerName: string, role: ContainerRole): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.podName]: pod.name,
    [LABELS.podNamespace]: pod.namespace,
    [LABELS.podUid]: pod.uid,
    [LABELS.containerName]: containerName,
    [LABELS.containerRole]: role,
    [GRACE_LABEL]: String(pod.spec.terminationGracePeriodSeconds ?? 30),
  };
}

/** Container names: readable in `podman ps`, unique per pod uid and attempt. */
export function containerName(pod: DesiredPod, name: string, attempt: number): string {
  return `cox_${pod.namespace}_${pod.name}_${name}_${pod.uid.slice(0, 8)}_${attempt}`;
}

/** Hash of what the user wrote for a container: a change means the container is recreated. */
export function specHash(container: Container): string {
  return createHash('sha256').update(stableJson(container)).digest('hex').slice(0, 16);
}

export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function infraBody(pod: DesiredPod, network: string): ContainerCreateBody {
  // A hostNetwork pod shares the node's network and, as in Kubernetes, its hostname: no pod address is allocated.
  if (pod.spec.hostNetwork) {
    return {
      Image: INFRA_IMAGE,
      Cmd: INFRA_COMMAND,
      Labels: { ...podLabels(pod, 'infra', 'infra'), [RESTART_COUNT_LABEL]: '0' },
      HostConfig: { NetworkMode: 'host', UTSMode: 'host', Init: false },
    };
  }
  return {
    Image: INFRA_IMAGE,
    Cmd: INFRA_COMMAND,
    Hostname: (pod.spec.hostname ?? pod.name).slice(0, 63),
    Labels: { ...podLabels(pod, 'infra', 'infra'), [RESTART_COUNT_LABEL]: '0' },
    // NetworkMode alone attaches the network (Docker and Podman alike); Podman's "bridge" alias has no endpoint config.
    HostConfig: { NetworkMode: network, Init: false },
  };
}

/**
 * The create body for an init or app container; throws EnvError for an
 * unresolvable reference. `imageUser` is the image's Config.User (a
 * runAsGroup without runAsUser applies to it).
 */
export function containerBody(
  pod: DesiredPod, container: Container, role: 'init' | 'app', attempt: number,
  infraId: string, volumes: VolumePlan, ctx: FieldContext & { shareHostname?: boolean; imageUser?: string },
): ContainerCreateBody {
  const env = resolveEnv(pod, container, ctx);
  const limits = container.resources?.limits ?? {};
  const requests = container.resources?.requests ?? {};
  const memory = limits.memory !== undefined ? bytes(limits.memory) : undefined;
  const cpu = limits.cpu !== undefined ? cpuMillis(limits.cpu) * 1_000_000 : undefined;
  const cpuRequest = requests.cpu !== undefined ? cpuMillis(requests.cpu) / 1000 : undefined;
  const security = securityFields(pod, container, ctx.imageUser);
  const body: ContainerCreateBody = {
    Image: container.image ?? '',
    ...(security.User !== undefined ? { User: security.User } : {}),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...podLabels(pod, container.name, role), [LABELS.specHash]: specHash(container), [RESTART_COUNT_LABEL]: String(attempt) },
    Tty: container.tty ?? false,
    HostConfig: {
      NetworkMode: `container:${infraId}`,
      Init: true,
      ...(memory !== undefined ? { Memory: memory } : {}),
      ...(cpu !== undefined ? { NanoCpus: cpu } : {}),
      ...(cpuRequest !== undefined ? { CpuShares: Math.max(2, Math.round(cpuRequest * 1024)) } : {}),
      Binds: bindsFor(container, volumes),
      ...security.HostConfig,
      ...(pod.spec.hostNetwork ? { UTSMode: 'host' } : {}),
    },
  };
  // Kubernetes: command replaces the image's ENTRYPOINT, args its CMD; both expand $(VAR).
  if (container.command) body.Entrypoint = container.command.map((c) => expand(c, env));
  if (container.args) body.Cmd = container.args.map((a) => expand(a, env));
  else if (container.command) body.Cmd = [];
  // Podman lets a container that joins a sandbox carry the pod's hostname (Docker refuses the combination).
  if (ctx.shareHostname && !pod.spec.hostNetwork) body.Hostname = (pod.spec.hostname ?? pod.name).slice(0, 63);
  if (container.workingDir) body.WorkingDir = container.workingDir;
  return body;
}
