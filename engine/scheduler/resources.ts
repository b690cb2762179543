/**
 * Resource arithmetic in the units the scheduler counts: millicores and bytes.
 * Quantities are parsed by common/quantity.ts.
 */
import type { PodSpec } from '../../schemas/types.generated.ts';
import { bytes, cpuMillis, isQuantity } from '../../common/quantity.ts';

export interface Resources {
  milliCPU: number;
  memory: number;
  pods: number;
}

/** kube-scheduler's stand-ins for pods that request nothing, used only for scoring. */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** Allocatable assumed for a node that has never reported (said so in plans). */
export const DEFAULT_ALLOCATABLE: Resources = { milliCPU: 4000, memory: 8 * 1024 ** 3, pods: 110 };

/** A request value in millicores; a malformed value counts as nothing (validation reports it, not the scheduler). */
export function milliCPU(value: string | number | undefined | null): number {
  if (value === undefined || value === null || !isQuantity(value)) return 0;
  return cpuMillis(value);
}

export function memoryBytes(value: string | number | undefined | null): number {
  if (value === undefined || value === null || !isQuantity(value)) return 0;
  return bytes(value);
}

/** A container's requests, with a limit standing in for a request it does not give (Kubernetes' defaulting). */
function requestsOf(c: NonNullable<PodSpec['containers']>[number]): Record<string, string | number> {
  const requests = (c.resources?.requests ?? {}) as Record<string, string | number>;
  const limits = (c.resources?.limits ?? {}) as Record<string, string | number>;
  if (limits.cpu === undefined && limits.memory === undefined) return requests;
  return { ...(limits.cpu !== undefined ? { cpu: limits.cpu } : {}), ...(limits.memory !== undefined ? { memory: limits.memory } : {}), ...requests };
}

/**
 * A pod's effective request, as Kubernetes computes it: the sum over app
 * containers, or the largest init container when that is larger.
 */
export function podRequests(spec: PodSpec): { requested: Resources; nonZero: Resources } {
  let cpu = 0;
  let mem = 0;
  let nzCpu = 0;
  let nzMem = 0;
  for (const c of spec.containers ?? []) {
    const req = requestsOf(c);
    const c1 = milliCPU(req.cpu);
    const m1 = memoryBytes(req.memory);
    cpu += c1;
    mem += m1;
    nzCpu += req.cpu === undefined ? DEFAULT_MILLI_CPU_REQUEST : c1;
    nzMem += req.memory === undefined ? DEFAULT_MEMORY_REQUEST : m1;
  }
  for (const c of spec.initContainers ?? []) {
    const req = requestsOf(c as NonNullable<PodSpec['containers']>[number]);
    cpu = Math.max(cpu, milliCPU(req.cpu));
    mem = Math.max(mem, memoryBytes(req.memory));
  }
  return { requested: { milliCPU: cpu, memory: mem, pods: 1 }, nonZero: { milliCPU: nzCpu, memory: nzMem, pods: 1 } };
}

