/** Small builders for the pod logic's tests. */
import { LABELS, type DesiredPod } from '../../common/agent-api.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { RESTART_COUNT_LABEL, podLabels, specHash } from './container-spec.ts';

export function podWith(spec: Partial<DesiredPod['spec']> & { containers?: DesiredPod['spec']['containers'] }, extra: Partial<DesiredPod> = {}): DesiredPod {
  return {
    uid: 'uid-0001-abcdef', name: 'web', namespace: 'default',
    spec: { containers: [{ name: 'app', image: 'coxswain/busybox:1' }], ...spec } as DesiredPod['spec'],
    ...extra,
  };
}

let serial = 0;

export function containerOf(pod: DesiredPod, name: string, opts: {
  role?: 'infra' | 'init' | 'app'; attempt?: number; running?: boolean; exitCode?: number; finishedAt?: string; startedAt?: string; status?: string; hash?: string; ip?: string; infraId?: string;
} = {}): ContainerInfo {
  const role = opts.role ?? (name === 'infra' ? 'infra' : 'app');
  const spec = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === name);
  const running = opts.running ?? true;
  serial += 1;
  return {
    id: `${name}-${opts.attempt ?? 0}-${serial}`,
    name: `cox_${name}_${opts.attempt ?? 0}`,
    image: spec?.image ?? 'coxswain/pause:1',
    imageID: 'sha256:0123',
    labels: {
      ...podLabels(pod, name, role),
      [RESTART_COUNT_LABEL]: String(opts.attempt ?? 0),
      ...(role !== 'infra' ? { [LABELS.specHash]: opts.hash ?? (spec ? specHash(spec) : '') } : {}),
    },
    state: {
      status: opts.status ?? (running ? 'running' : 'exited'),
      running,
      exitCode: opts.exitCode ?? 0,
      oomKilled: false,
      error: '',
      startedAt: opts.startedAt ?? '2026-01-01T00:00:00.000Z',
      finishedAt: running ? undefined : (opts.finishedAt ?? '2026-01-01T00:01:00.000Z'),
      pid: running ? 100 : 0,
    },
    networkMode: role === 'infra' ? 'coxswain' : (opts.infraId ? `container:${opts.infraId}` : ''),
    ipAddresses: role === 'infra' ? { coxswain: opts.ip ?? '100.64.1.5' } : {},
    created: `2026-01-01T00:00:${String(serial % 60).padStart(2, '0')}.000Z`,
  };
}
