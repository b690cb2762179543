/**
 * Resource usage as cAdvisor gives it to a kubelet: per-container CPU (rate
 * from two cumulative samples) and memory working set from the runtime's
 * stats API; node totals from /proc and statfs; the node conditions
 * MemoryPressure, DiskPressure and PIDPressure from eviction-style thresholds.
 */
import { readFile, readdir, statfs } from 'node:fs/promises';
import os from 'node:os';
import type { NodeCondition, ResourceList } from '../../common/agent-api.ts';

export interface NodeUsage {
  cpuCores: number;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  /** Cumulative CPU seconds of the whole node (all cores, non-idle). */
  cpuUsageSeconds: number;
  diskTotalBytes: number;
  diskAvailableBytes: number;
  pidMax: number;
  pidsInUse: number;
}

export interface Thresholds {
  /** MemoryPressure when available memory is below this many bytes (kubelet's memory.available<100Mi). */
  memoryAvailableBytes: number;
  /** DiskPressure when the image/container filesystem has less than this fraction free (nodefs.available<10%). */
  diskAvailableFraction: number;
  /** PIDPressure when fewer than this fraction of PIDs are free. */
  pidAvailableFraction: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { memoryAvailableBytes: 100 * 2 ** 20, diskAvailableFraction: 0.1, pidAvailableFraction: 0.05 };
export const MAX_PODS = 110;

export function parseMeminfo(text: string): { total: number; available: number } {
  const get = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { total: get('MemTotal'), available: get('MemAvailable') };
}

/** Non-idle CPU seconds from /proc/stat's first line (USER_HZ = 100). */
export function parseProcStat(text: string): number {
  const fields = (text.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

export async function readNodeUsage(diskPath: string): Promise<NodeUsage> {
  const [meminfo, stat, pidMax, procs, fs] = await Promise.all([
    readFile('/proc/meminfo', 'utf8'),
    readFile('/proc/stat', 'utf8'),
    readFile('/proc/sys/kernel/pid_max', 'utf8').then(Number, () => 32768),
    readdir('/proc').then((names) => names.filter((n) => /^\d+$/.test(n)).length, () => 0),
    statfs(diskPath).catch(() => statfs('/')),
  ]);
  const mem = parseMeminfo(meminfo);
  return {
    cpuCores: os.availableParallelism(),
    memoryTotalBytes: mem.total,
    memoryAvailableBytes: mem.available,
    cpuUsageSeconds: parseProcStat(stat),
    diskTotalBytes: fs.blocks * fs.bsize,
    diskAvailableBytes: fs.bavail * fs.bsize,
    pidMax,
    pidsInUse: procs,
  };
}

export function capacityOf(u: NodeUsage): ResourceList {
  return { cpu: String(u.cpuCores), memory: `${Math.floor(u.memoryTotalBytes / 1024)}Ki`, pods: String(MAX_PODS), 'ephemeral-storage': `${Math.floor(u.diskTotalBytes / 1024)}Ki` };
}

/** Capacity less the eviction threshold, as kubelet computes allocatable without reservations. */
export function allocatableOf(u: NodeUsage, t: Thresholds): ResourceList {
  const mem = Math.max(0, u.memoryTotalBytes - t.memoryAvailableBytes);
  const disk = Math.max(0, u.diskTotalBytes * (1 - t.diskAvailableFraction));
  return { cpu: String(u.cpuCores), memory: `${Math.floor(mem / 1024)}Ki`, pods: String(MAX_PODS), 'ephemeral-storage': `${Math.floor(disk / 1024)}Ki` };
}

export function pressureConditions(u: NodeUsage, t: Thresholds): NodeCondition[] {
  const mem = u.memoryAvailableBytes < t.memoryAvailableBytes;
  const disk = u.diskTotalBytes > 0 && u.diskAvailableBytes / u.diskTotalBytes < t.diskAvailableFraction;
  const pid = u.pidMax > 0 && (u.pidMax - u.pidsInUse) / u.pidMax < t.pidAvailableFraction;
  return [
    mem ? { type: 'MemoryPressure', status: 'True', reason: 'KubeletHasInsufficientMemory', message: `available memory ${mib(u.memoryAvailableBytes)} is below ${mib(t.memoryAvailableBytes)}` }
      : { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    disk ? { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: `available disk ${pct(u.diskAvailableBytes / u.diskTotalBytes)} is below ${pct(t.diskAvailableFraction)}` }
      : { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    pid ? { type: 'PIDPressure', status: 'True', reason: 'KubeletHasInsufficientPID', message: `${u.pidMax - u.pidsInUse} of ${u.pidMax} PIDs free` }
      : { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
  ];
}

function mib(b: number): string {
  return `${Math.round(b / 2 ** 20)}Mi`;
}
function pct(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}

/** CPU rate in nano-cores between two cumulative samples. */
export function cpuRate(prev: { cpuTotalNs: number; readAtMs: number } | undefined, cur: { cpuTotalNs: number; readAtMs: number }): number {
  if (!prev || cur.readAtMs <= prev.readAtMs || cur.cpuTotalNs < prev.cpuTotalNs) return 0;
  return Math.round(((cur.cpuTotalNs - prev.cpuTotalNs) * 1000) / (cur.readAtMs - prev.readAtMs));
}
