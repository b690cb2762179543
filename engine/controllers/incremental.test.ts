import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Deployment, Node, Service } from '../../schemas/types.generated.ts';
import { reconcile, type ReconcileResult } from './index.ts';
import { deployment, dropDeleted, emptyObserved, markReady, node, service, store } from './testing.ts';
import type { ObservedState } from '../model.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

/** Everything a pass returns, as text: Maps in their order, so a difference in any order shows too. */
function serialize(r: ReconcileResult): string {
  const o = r.observed;
  return JSON.stringify({ actions: r.actions, nodes: [...o.nodes], pods: [...o.pods], services: [...o.services], workloads: [...o.workloads], errors: o.errors, nodeStates: [...r.nodeStates], requeueAfterMs: r.requeueAfterMs });
}

function firstDifference(actual: string, expected: string): string {
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  return `  incremental: …${actual.slice(Math.max(0, i - 300), i + 200)}\n  fresh:       …${expected.slice(Math.max(0, i - 300), i + 200)}`;
}

type Edit =
  | { type: 'image' | 'scale' | 'remove' | 'antiAffinity'; index: number; value: number }
  | { type: 'addDeployment' | 'addNode' | 'removeNode' | 'zone' | 'cordon'; index: number }
  | { type: 'ready'; fraction: number }
  | { type: 'forgetDeleted' };

// Removing a Service is left out: a running pod keeps the service variables it was first sent with (node-state.ts
// caches them per pod), while a fresh pass recomputes them without the removed Service — a known difference.
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ type: fc.constantFrom('image' as const, 'scale' as const, 'remove' as const, 'antiAffinity' as const), index: fc.nat(30), value: fc.nat(4) }),
  fc.record({ type: fc.constantFrom('addDeployment' as const, 'addNode' as const, 'removeNode' as const, 'zone' as const, 'cordon' as const), index: fc.nat(30) }),
  fc.record({ type: fc.constant('ready' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ type: fc.constant('forgetDeleted' as const) }),
);

interface World {
  nodes: Node[];
  deployments: Deployment[];
  services: Service[];
}

/** Applies one edit the way the loader does: a changed object is a new object, every other object stays the same one. */
function apply(world: World, e: Edit, step: number): World {
  const pick = <T>(list: T[], index: number): number => (list.length === 0 ? -1 : index % list.length);
  const w = { nodes: [...world.nodes], deployments: [...world.deployments], services: [...world.services] };
  const d = pick(w.deployments, 'index' in e ? e.index : 0);
  const n = pick(w.nodes, 'index' in e ? e.index : 0);
  switch (e.type) {
    case 'image':
      if (d >= 0) w.deployments[d] = withTemplate(w.deployments[d], { image: `app:${step}` });
      break;
    case 'scale':
      if (d >= 0) w.deployments[d] = { ...w.deployments[d], spec: { ...w.deployments[d].spec, replicas: e.value } };
      break;
    case 'antiAffinity':
      if (d >= 0) {
        const name = w.deployments[d].metadata.name;
        w.deployments[d] = withTemplate(w.deployments[d], { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: name } }, topologyKey: 'kubernetes.io/hostname' }] } } });
      }
      break;
    case 'remove':
      if (d >= 0) w.deployments.splice(d, 1);
      break;
    case 'addDeployment':
      w.deployments.push(deployment(`new-${step}`, { replicas: 1 + (e.index % 3), cpu: '100m', memory: '64Mi' }));
      w.services.push(service(`new-${step}`));
      break;
    case 'addNode':
      w.nodes.push(node(`n${100 + step}`, { address: `198.18.1.${step % 250}` }));
      break;
    case 'removeNode':
      if (n >= 0 && w.nodes.length > 1) w.nodes.splice(n, 1);
      break;
    case 'zone':
      if (n >= 0) w.nodes[n] = { ...w.nodes[n], metadata: { ...w.nodes[n].metadata, labels: { 'topology.kubernetes.io/zone': `z${e.index % 2}` } } };
      break;
    case 'cordon':
      if (n >= 0) w.nodes[n] = { ...w.nodes[n], spec: { ...w.nodes[n].spec, unschedulable: !w.nodes[n].spec.unschedulable } };
      break;
    default:
      break;
  }
  return w;
}

function withTemplate(d: Deployment, change: { image?: string; affinity?: object }): Deployment {
  const spec = d.spec.template.spec;
  const containers = change.image ? [{ ...spec.containers[0], image: change.image }, ...spec.containers.slice(1)] : spec.containers;
  return { ...d, spec: { ...d.spec, template: { ...d.spec.template, spec: { ...spec, containers, ...(change.affinity ? { affinity: change.affinity } : {}) } } } } as Deployment;
}

/** What the agents would report between passes: some bound pods become ready, deleted pods are forgotten. */
function observe(observed: ObservedState, e: Edit, step: number): ObservedState {
  if (e.type === 'ready') {
    let i = 0;
    return markReady(observed, () => (i++ * 0.618) % 1 < e.fraction, at(step).toISOString());
  }
  if (e.type === 'forgetDeleted') return dropDeleted(observed);
  return observed;
}

describe('incremental passes', () => {
  it('a pass over objects the caches have already seen gives exactly what a pass over fresh copies gives', () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 12 }), (edits) => {
        let world: World = {
          nodes: Array.from({ length: 6 }, (_, i) => node(`n${i}`, { address: `198.18.0.${10 + i}` })),
          deployments: Array.from({ length: 12 }, (_, i) => deployment(`app-${i}`, { replicas: 1 + (i % 3), cpu: '200m', memory: '128Mi' })),
          services: Array.from({ length: 12 }, (_, i) => service(`app-${i}`)),
        };
        const steps: Array<{ objects: unknown[]; observed: ObservedState; now: Date; commit: string; result: string }> = [];
        let observed = emptyObserved();
        for (let step = 0; step <= edits.length; step++) {
          if (step > 0) {
            world = apply(world, edits[step - 1], step);
            observed = observe(observed, edits[step - 1], step);
          }
          const objects = [...world.nodes, ...world.deployments, ...world.services];
          const input = { objects, observed, now: at(step), commit: `c${step}` };
          const r = reconcile({ desired: store(objects), commit: input.commit, observed, now: input.now });
          steps.push({ ...input, result: serialize(r) });
          observed = r.observed;
        }
        // Fresh copies share no object with anything a cache has seen: every cache misses.
        for (const [i, s] of steps.entries()) {
          const fresh = reconcile({ desired: store(structuredClone(s.objects)), commit: s.commit, observed: structuredClone(s.observed), now: s.now });
          const expected = serialize(fresh);
          if (expected !== s.result) assert.fail(`step ${i} (after ${JSON.stringify(edits.slice(0, i))}) differs from a fresh pass:\n${firstDifference(s.result, expected)}`);
        }
      }),
      { numRuns: 40 },
    );
  });
});
