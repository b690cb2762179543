/**
 * The control plane's pass over a large repository: 10,000 Deployments
 * (2 replicas each, with requests) and 10,000 Services on 1,000 nodes.
 * coldMs: reconcile from nothing observed (creates, schedules and binds
 * 20,000 pods, allocates 10,000 VIPs). incrementalMs: with all of that
 * running and ready, one Deployment's image changes (the next store made
 * with ObjectStore.with, sharing every other object, as the loader makes it) and the pass
 * that starts its rollout runs; five such changes (each to another
 * Deployment, each from the settled state) per round. steadyMs: a pass where
 * nothing changed. Medians over three rounds; the first change of each
 * round also pays for the garbage the cold pass left (incrementalFirstMs).
 * CPU time alongside wall time (the machine is shared).
 */
import { median } from './run.ts';
import { reconcile } from '../engine/controllers/index.ts';
import { deployment, emptyObserved, markReady, node, service, store } from '../engine/controllers/testing.ts';
import type { Cluster } from '../schemas/types.generated.ts';
import type { ObjectStore, ManifestObject } from '../engine/manifests/index.ts';
import type { DesiredObjects } from '../engine/controllers/index.ts';

const NODES = 1000;
const DEPLOYMENTS = 10_000;
const CHANGES_PER_ROUND = 5;
const CLUSTER: Cluster = { apiVersion: 'coxswain.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'bench' }, spec: { podCIDR: '100.64.0.0/10', serviceCIDR: '100.96.0.0/16' } };

function timed<T>(fn: () => T): { value: T; ms: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, ms, cpuMs: (c.user + c.system) / 1000 };
}

export default async function (log: (line: string) => void): Promise<Record<string, number>> {
  const nodes = Array.from({ length: NODES }, (_, i) => node(`node-${String(i).padStart(4, '0')}`, { address: `198.18.${(i >> 8) & 255}.${i & 255}` }));
  const apps = Array.from({ length: DEPLOYMENTS }, (_, i) => deployment(`app-${i}`, { replicas: 2, cpu: '50m', memory: '64Mi' }));
  const services = apps.map((d) => service(d.metadata.name));
  const objects = [...nodes, ...apps, ...services];
  const now = (s: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000);

  const cold: number[] = [];
  const coldCpu: number[] = [];
  const incremental: number[] = [];
  const incrementalFirst: number[] = [];
  const incrementalCpu: number[] = [];
  const steady: number[] = [];
  let pods = 0;
  let incrementalActions = 0;
  for (let round = 0; round < 3; round++) {
    const desired = store(objects, CLUSTER);
    const c = timed(() => reconcile({ desired, commit: 'c1', observed: emptyObserved(), now: now(0) }));
    cold.push(c.ms);
    coldCpu.push(c.cpuMs);
    pods = c.value.observed.pods.size;
    const running = markReady(c.value.observed);
    const settled = reconcile({ desired, commit: 'c1', observed: running, now: now(10) }).observed;
    const s = timed(() => reconcile({ desired, commit: 'c1', observed: settled, now: now(20) }));
    steady.push(s.ms);

    for (let change = 0; change < CHANGES_PER_ROUND; change++) {
      const name = apps[round * 17 + change * 1009].metadata.name;
      const changed = deployment(name, { replicas: 2, cpu: '50m', memory: '64Mi', image: `coxswain/busybox:${round + 2}` });
      const next = (desired as ObjectStore).with([{ kind: 'Deployment', namespace: 'default', name, object: changed as unknown as ManifestObject }], CLUSTER) as unknown as DesiredObjects;
      const inc = timed(() => reconcile({ desired: next, commit: `c${change + 2}`, observed: settled, now: now(30) }));
      incremental.push(inc.ms);
      incrementalCpu.push(inc.cpuMs);
      if (change === 0) incrementalFirst.push(inc.ms);
      incrementalActions = inc.value.actions.filter((a) => a.type === 'createPod').length;
    }
    const changes = incremental.slice(-CHANGES_PER_ROUND).map((ms) => ms.toFixed(1)).join(' ');
    log(`round ${round + 1}: cold ${c.ms.toFixed(0)} ms (cpu ${c.cpuMs.toFixed(0)}), steady ${s.ms.toFixed(1)} ms, incremental ${changes} ms, ${pods} pods`);
  }
  return {
    coldMs: Math.round(median(cold)),
    coldCpuMs: Math.round(median(coldCpu)),
    incrementalMs: Math.round(median(incremental) * 10) / 10,
    incrementalCpuMs: Math.round(median(incrementalCpu) * 10) / 10,
    incrementalFirstMs: Math.round(median(incrementalFirst) * 10) / 10,
    steadyMs: Math.round(median(steady) * 10) / 10,
    deployments: DEPLOYMENTS,
    nodes: NODES,
    pods,
    podsCreatedByIncrementalPass: incrementalActions,
  };
}
