/**
 * Scheduler throughput, like kube-scheduler's SchedulingBasic
 * 5000Nodes_10000Pods: 5,000 nodes, 10,000 pods with requests and no
 * affinity (podsPerSecond), then the same with required pod anti-affinity on
 * the hostname and the owner spread over hostname and zone (podsPerSecondSpread). One
 * thread; medians of three runs each, measured side by side. The figures
 * divide by this process's CPU time (the machine is shared by many jobs, so
 * wall time mostly measures the others); the *Wall figures divide by wall time.
 */
import { median } from './run.ts';
import { Scheduler, Snapshot, podInfo, type NodeInput, type PodInput } from '../engine/scheduler/index.ts';

const NODES = 5000;
const PODS = 10000;

function nodes(): NodeInput[] {
  return Array.from({ length: NODES }, (_, i) => ({
    name: `node-${String(i).padStart(5, '0')}`,
    labels: { 'topology.kubernetes.io/zone': `zone-${i % 10}` },
    allocatable: { milliCPU: 4000, memory: 32 * 1024 ** 3, pods: 110 },
    conditions: [{ type: 'Ready', status: 'True' }],
  }));
}

function basicPod(i: number): PodInput {
  return {
    namespace: 'default',
    name: `pod-${i}`,
    labels: { app: `app-${i % 100}` },
    owner: `ReplicaSet/default/app-${i % 100}`,
    spec: { containers: [{ name: 'c', image: 'coxswain/busybox:1', resources: { requests: { cpu: '100m', memory: '500Mi' } } }] },
  };
}

function spreadPod(i: number): PodInput {
  const app = `app-${i % 500}`;
  const selector = { matchLabels: { app } };
  return {
    namespace: 'default',
    name: `pod-${i}`,
    labels: { app },
    owner: `ReplicaSet/default/${app}`,
    spec: {
      containers: [{ name: 'c', image: 'coxswain/busybox:1', resources: { requests: { cpu: '100m', memory: '500Mi' } } }],
      affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: selector, topologyKey: 'kubernetes.io/hostname' }] } },
    },
  };
}

function run(makePod: (i: number) => PodInput): { podsPerSecond: number; podsPerSecondWall: number; unschedulable: number } {
  const snapshot = new Snapshot(nodes());
  const scheduler = new Scheduler(snapshot);
  const pods = Array.from({ length: PODS }, (_, i) => podInfo(makePod(i)));
  let unschedulable = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (const pod of pods) if (!scheduler.schedule(pod).ok) unschedulable++;
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { podsPerSecond: Math.round(PODS / cpuSeconds), podsPerSecondWall: Math.round(PODS / seconds), unschedulable };
}

export default async function (log: (line: string) => void): Promise<Record<string, number>> {
  const basic: number[] = [];
  const spread: number[] = [];
  const basicWall: number[] = [];
  const spreadWall: number[] = [];
  let unschedulable = 0;
  for (let round = 0; round < 3; round++) {
    const b = run(basicPod);
    const s = run(spreadPod);
    basic.push(b.podsPerSecond);
    spread.push(s.podsPerSecond);
    basicWall.push(b.podsPerSecondWall);
    spreadWall.push(s.podsPerSecondWall);
    unschedulable += b.unschedulable + s.unschedulable;
    log(`round ${round + 1}: basic ${b.podsPerSecond} pods/cpu-s (${b.podsPerSecondWall} wall), spread ${s.podsPerSecond} pods/cpu-s (${s.podsPerSecondWall} wall)`);
  }
  return { podsPerSecond: median(basic), podsPerSecondSpread: median(spread), podsPerSecondWall: median(basicWall), podsPerSecondSpreadWall: median(spreadWall), nodes: NODES, pods: PODS, unschedulable };
}
