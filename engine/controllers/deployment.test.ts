import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Deployment } from '../../schemas/types.generated.ts';
import { reconcile } from './index.ts';
import { rollingBounds } from './deployment.ts';
import { configMap, deployment, dropDeleted, emptyObserved, markReady, node, store } from './testing.ts';
import type { DeploymentStatus, ObservedState, PodObject } from '../model.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);
const nodes = [node('h1'), node('h2'), node('h3')];

function active(o: ObservedState): PodObject[] {
  return [...o.pods.values()].filter((p) => !p.metadata.deletionTimestamp);
}
function ready(o: ObservedState): PodObject[] {
  return active(o).filter((p) => p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
}
function images(o: ObservedState): string[] {
  return active(o).map((p) => p.spec.containers[0].image).sort();
}

/** Runs passes, making every bound pod ready and forgetting deleted ones, until nothing changes. */
function converge(objects: unknown[], observed = emptyObserved(), start = 0): { observed: ObservedState; passes: number } {
  let o = observed;
  for (let i = 0; i < 50; i++) {
    const r = reconcile({ desired: store(objects), commit: 'c', observed: o, now: at(start + i) });
    if (r.actions.filter((a) => a.type !== 'endpoints').length === 0) return { observed: r.observed, passes: i };
    o = markReady(dropDeleted(r.observed), () => true, at(start + i).toISOString());
  }
  throw new Error('did not converge in 50 passes');
}

function status(o: ObservedState, name: string): DeploymentStatus {
  return o.workloads.get(`Deployment/default/${name}`)!.status as DeploymentStatus;
}

describe('Deployment controller', () => {
  const bounds: Array<[string, Deployment['spec']['strategy'], number, { maxSurge: number; maxUnavailable: number }]> = [
    ['the defaults 25%/25% of 10 replicas round surge up to 3 and unavailable down to 2', undefined, 10, { maxSurge: 3, maxUnavailable: 2 }],
    ['25%/25% of 1 replica gives surge 1 and unavailable 0', undefined, 1, { maxSurge: 1, maxUnavailable: 0 }],
    ['zero surge and zero unavailable become one unavailable', { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } }, 4, { maxSurge: 0, maxUnavailable: 1 }],
    ['absolute numbers are taken as they are', { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: 1 } }, 5, { maxSurge: 2, maxUnavailable: 1 }],
    ['33% of 10 is 4 surge and 3 unavailable', { type: 'RollingUpdate', rollingUpdate: { maxSurge: '33%', maxUnavailable: '33%' } }, 10, { maxSurge: 4, maxUnavailable: 3 }],
  ];
  for (const [name, strategy, replicas, expected] of bounds) {
    it(name, () => assert.deepEqual(rollingBounds(deployment('web', { replicas, strategy })), expected));
  }

  it('creates replicas pods named <deployment>-<template-hash>-<suffix>, bound to nodes', () => {
    const r = reconcile({ desired: store([...nodes, deployment('web', { replicas: 3 })]), commit: 'c1', observed: emptyObserved(), now: at(0) });
    const pods = active(r.observed);
    assert.equal(pods.length, 3);
    for (const p of pods) {
      assert.match(p.metadata.name, /^web-[a-z0-9]{10}-[a-z0-9]{5}$/);
      assert.equal(p.metadata.name.split('-')[1], p.metadata.labels?.['pod-template-hash']);
      assert.ok(p.spec.nodeName);
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', controller: true }]);
    }
  });

  it('running a pass twice on its own result changes nothing', () => {
    const desired = store([...nodes, deployment('web', { replicas: 3 })]);
    const first = reconcile({ desired, commit: 'c1', observed: emptyObserved(), now: at(0) });
    const second = reconcile({ desired, commit: 'c1', observed: first.observed, now: at(1) });
    assert.deepEqual(second.actions, []);
    assert.deepEqual([...second.observed.pods.keys()], [...first.observed.pods.keys()]);
  });

  it('scales down by deleting not-ready pods before ready ones', () => {
    const { observed } = converge([...nodes, deployment('web', { replicas: 3 })]);
    const notReady = active(observed)[0];
    const pods = new Map(observed.pods);
    pods.set(notReady.metadata.uid, { ...notReady, status: { ...notReady.status, conditions: [] } });
    const r = reconcile({ desired: store([...nodes, deployment('web', { replicas: 2 })]), commit: 'c2', observed: { ...observed, pods }, now: at(100) });
    const deleted = r.actions.filter((a) => a.type === 'deletePod');
    assert.equal(deleted.length, 1);
    assert.equal((deleted[0] as { uid: string }).uid, notReady.metadata.uid);
  });

  it('a rolling update replaces every pod and ends complete', () => {
    const { observed } = converge([...nodes, deployment('web', { replicas: 4, image: 'app:1' })]);
    const done = converge([...nodes, deployment('web', { replicas: 4, image: 'app:2' })], observed, 100).observed;
    assert.deepEqual(images(done), ['app:2', 'app:2', 'app:2', 'app:2']);
    const s = status(done, 'web');
    assert.equal(s.updatedReplicas, 4);
    assert.equal(s.availableReplicas, 4);
    assert.equal(s.conditions.find((c) => c.type === 'Progressing')?.reason, 'NewReplicaSetAvailable');
  });

  it('Recreate deletes every old pod first and creates new ones only when they are gone', () => {
    const { observed } = converge([...nodes, deployment('web', { replicas: 3, image: 'app:1' })]);
    const desired = store([...nodes, deployment('web', { replicas: 3, image: 'app:2', strategy: { type: 'Recreate' } })]);
    const first = reconcile({ desired, commit: 'c2', observed, now: at(100) });
    assert.equal(first.actions.filter((a) => a.type === 'deletePod').length, 3);
    assert.equal(first.actions.filter((a) => a.type === 'createPod').length, 0);
    const waiting = reconcile({ desired, commit: 'c2', observed: first.observed, now: at(101) });
    assert.equal(waiting.actions.filter((a) => a.type === 'createPod').length, 0, 'old pods still terminating');
    const after = reconcile({ desired, commit: 'c2', observed: dropDeleted(waiting.observed), now: at(102) });
    assert.equal(after.actions.filter((a) => a.type === 'createPod').length, 3);
  });

  it('a paused Deployment keeps its old pods and says it is paused', () => {
    const { observed } = converge([...nodes, deployment('web', { replicas: 2, image: 'app:1' })]);
    const r = reconcile({ desired: store([...nodes, deployment('web', { replicas: 2, image: 'app:2', paused: true })]), commit: 'c2', observed, now: at(100) });
    assert.deepEqual(r.actions.filter((a) => a.type === 'createPod' || a.type === 'deletePod'), []);
    assert.equal(status(r.observed, 'web').conditions.find((c) => c.type === 'Progressing')?.reason, 'DeploymentPaused');
  });

  it('a paused Deployment still scales (pausing holds the rollout, not the replica count), and starts no rollout while doing so', () => {
    const { observed } = converge([...nodes, deployment('web', { replicas: 2, image: 'app:1' })]);
    const up = reconcile({ desired: store([...nodes, deployment('web', { replicas: 4, image: 'app:1', paused: true })]), commit: 'c2', observed, now: at(100) });
    assert.equal(up.actions.filter((a) => a.type === 'createPod').length, 2);
    const down = reconcile({ desired: store([...nodes, deployment('web', { replicas: 1, image: 'app:2', paused: true })]), commit: 'c3', observed, now: at(100) });
    assert.equal(down.actions.filter((a) => a.type === 'deletePod').length, 1);
    assert.equal(down.actions.filter((a) => a.type === 'createPod').length, 0);
  });

  it('a rollout that makes no progress past progressDeadlineSeconds reports ProgressDeadlineExceeded', () => {
    const { observed } = converge([...nodes, deployment('web', { replicas: 2, image: 'app:1' })]);
    const desired = store([...nodes, deployment('web', { replicas: 2, image: 'app:broken', progressDeadlineSeconds: 30 })]);
    let o = reconcile({ desired, commit: 'c2', observed, now: at(100) }).observed;
    o = reconcile({ desired, commit: 'c2', observed: o, now: at(110) }).observed;
    const before = status(o, 'web').conditions.find((c) => c.type === 'Progressing');
    assert.equal(before?.status, 'True');
    const late = reconcile({ desired, commit: 'c2', observed: o, now: at(200) });
    const progressing = status(late.observed, 'web').conditions.find((c) => c.type === 'Progressing');
    assert.equal(progressing?.status, 'False');
    assert.equal(progressing?.reason, 'ProgressDeadlineExceeded');
  });

  it('minReadySeconds holds availability back and asks to be called again', () => {
    const desired = store([...nodes, deployment('web', { replicas: 1, minReadySeconds: 30 })]);
    const first = reconcile({ desired, commit: 'c', observed: emptyObserved(), now: at(0) });
    const readyNow = markReady(first.observed, () => true, at(5).toISOString());
    const r = reconcile({ desired, commit: 'c', observed: readyNow, now: at(10) });
    assert.equal(status(r.observed, 'web').availableReplicas, 0);
    assert.equal(r.requeueAfterMs, 25_000);
    const later = reconcile({ desired, commit: 'c', observed: readyNow, now: at(40) });
    assert.equal(status(later.observed, 'web').availableReplicas, 1);
  });

  it('a change to a referenced ConfigMap rolls the Deployment', () => {
    const env = [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } }];
    const { observed } = converge([...nodes, configMap('settings', { greeting: 'hello' }), deployment('web', { replicas: 2, env })]);
    const before = active(observed).map((p) => p.metadata.labels?.['pod-template-hash']);
    const after = converge([...nodes, configMap('settings', { greeting: 'bonjour' }), deployment('web', { replicas: 2, env })], observed, 100).observed;
    const hashes = active(after).map((p) => p.metadata.labels?.['pod-template-hash']);
    assert.notEqual(hashes[0], before[0]);
    const r = reconcile({ desired: store([...nodes, configMap('settings', { greeting: 'bonjour' }), deployment('web', { replicas: 2, env })]), commit: 'c', observed: after, now: at(200) });
    const sent = [...r.nodeStates.values()].flatMap((s) => s.pods);
    assert.deepEqual(sent[0].configMaps, { settings: { greeting: 'bonjour' } });
  });

  it('a missing required ConfigMap creates no pods and records ReplicaFailure', () => {
    const env = [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'absent', key: 'x' } } }];
    const r = reconcile({ desired: store([...nodes, deployment('web', { replicas: 2, env })]), commit: 'c', observed: emptyObserved(), now: at(0) });
    assert.equal(active(r.observed).length, 0);
    assert.deepEqual(r.actions.find((a) => a.type === 'configError'), { type: 'configError', workload: 'Deployment/default/web', message: 'configmap "default/absent" not found' });
    assert.equal(status(r.observed, 'web').conditions.find((c) => c.type === 'ReplicaFailure')?.reason, 'ConfigMissing');
  });
});

describe('Deployment rolling update properties', () => {
  const intOrPercent = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`));
  it('never has fewer than replicas - maxUnavailable ready pods nor more than replicas + maxSurge pods', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), intOrPercent, intOrPercent, fc.infiniteStream(fc.boolean()), (replicas, maxSurge, maxUnavailable, coin) => {
        const strategy = { type: 'RollingUpdate' as const, rollingUpdate: { maxSurge, maxUnavailable } };
        const v1 = deployment('web', { replicas, image: 'app:1', strategy });
        const v2 = deployment('web', { replicas, image: 'app:2', strategy });
        const bounds = rollingBounds(v2);
        let o = converge([...nodes, v1]).observed;
        const desired = store([...nodes, v2]);
        for (let step = 0; step < 300; step++) {
          const r = reconcile({ desired, commit: 'c2', observed: o, now: at(1000 + step) });
          assert.ok(active(r.observed).length <= replicas + bounds.maxSurge, `step ${step}: ${active(r.observed).length} pods > ${replicas} + ${bounds.maxSurge}`);
          assert.ok(ready(r.observed).length >= replicas - bounds.maxUnavailable, `step ${step}: ${ready(r.observed).length} ready < ${replicas} - ${bounds.maxUnavailable}`);
          const next = dropDeleted(r.observed);
          const pending = active(next).filter((p) => p.spec.nodeName && !ready(next).includes(p));
          if (pending.length === 0 && images(next).every((i) => i === 'app:2') && active(next).length === replicas) return;
          const chosen = new Set(pending.filter(() => coin.next().value));
          if (chosen.size === 0 && pending.length > 0) chosen.add(pending[0]);
          o = markReady(next, (p) => chosen.has(p), at(1000 + step).toISOString());
        }
        assert.fail('the rollout did not finish in 300 steps');
      }),
      { numRuns: 60 },
    );
  });
});
