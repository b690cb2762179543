import assert from 'node:assert/strict';
import type { NodeObservedState } from '../../common/agent-api.ts';
import { emptyObserved, type PodObject } from '../model.ts';
import { applyWatch, foldAgents, type NodeRuntime } from './agent-view.ts';
import type { DesiredObject } from './ports.ts';

const h1 = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'h1' }, spec: { ssh: { address: '198.18.9.11' } } } as unknown as DesiredObject;

function boundPod(uid: string): PodObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { uid, name: uid, namespace: 'default' }, spec: { nodeName: 'h1', containers: [] }, status: { phase: 'Pending', conditions: [], containerStatuses: [] } } as unknown as PodObject;
}

function runtime(view: NodeObservedState): NodeRuntime {
  return { connection: { state: 'connected' }, view } as unknown as NodeRuntime;
}

describe('folding agent views into observed state', () => {
  const snapshot = {
    node: 'h1', generation: 1, conditions: [], info: { hostname: 'h1' }, images: [], capacity: {}, allocatable: {}, heartbeatTime: '2026-01-01T00:00:00Z', pods: [
      { uid: 'a', name: 'a', namespace: 'default', status: { phase: 'Running', conditions: [], containerStatuses: [] } },
      { uid: 'b', name: 'b', namespace: 'default', status: { phase: 'Running', conditions: [], containerStatuses: [] } },
    ],
  } as unknown as NodeObservedState;

  it('keeps a pod the same object when the agent reports the status it already has, and replaces it when the status changed', () => {
    const observed = { ...emptyObserved(), pods: new Map([['a', boundPod('a')], ['b', boundPod('b')]]) };
    let view = applyWatch(undefined, { snapshot, changes: [] } as never)!;
    const first = foldAgents(observed, [h1], new Map([['h1', runtime(view)]]));
    assert.equal(first.pods.get('a')!.status.phase, 'Running');

    const again = foldAgents(first, [h1], new Map([['h1', runtime(view)]]));
    assert.equal(again.pods.get('a'), first.pods.get('a'));
    assert.equal(again.pods.get('b'), first.pods.get('b'));

    view = applyWatch(view, { changes: [{ type: 'pod', pod: { ...snapshot.pods[1], status: { phase: 'Failed', conditions: [], containerStatuses: [] } } }] } as never)!;
    const changed = foldAgents(again, [h1], new Map([['h1', runtime(view)]]));
    assert.equal(changed.pods.get('a'), again.pods.get('a'));
    assert.notEqual(changed.pods.get('b'), again.pods.get('b'));
    assert.equal(changed.pods.get('b')!.status.phase, 'Failed');
  });
});
