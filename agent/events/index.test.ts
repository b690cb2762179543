import assert from 'node:assert/strict';
import { ObservedStream } from './index.ts';
import type { NodeObservedState, ObservedPod } from '../../common/agent-api.ts';

function emptyState(): NodeObservedState {
  return {
    node: 'h1', generation: 0, agent: { version: '0', apiVersion: 'v1', build: 'x' },
    info: { hostname: 'h1', osImage: '', kernelVersion: '', architecture: 'amd64', containerRuntimeVersion: '', operatingSystem: 'linux' },
    capacity: { cpu: '2', memory: '1Gi', pods: '110' }, allocatable: { cpu: '2', memory: '1Gi', pods: '110' },
    conditions: [], images: [], pods: [], proxy: { mode: 'none', services: [] }, heartbeatTime: '',
  };
}

function pod(phase: 'Pending' | 'Running', cpu = 0): ObservedPod {
  return { uid: 'u1', name: 'web', namespace: 'default', status: { phase, conditions: [], containerStatuses: [] }, usage: { cpuNanoCores: cpu, memoryBytes: 0 } };
}

describe('observed change stream', () => {
  it('gives the changes after a sequence number, in order', () => {
    const s = new ObservedStream(emptyState(), 100, 1000);
    s.setPod(pod('Pending'));
    s.setPod(pod('Running'));
    const r = s.since(1000);
    assert.deepEqual(r.changes.map((c) => [c.seq, c.type === 'pod' ? c.pod.status.phase : c.type]), [[1001, 'Pending'], [1002, 'Running']]);
    assert.deepEqual(s.since(1001).changes.map((c) => c.seq), [1002]);
  });

  it('drops an update that changes nothing but resource usage', () => {
    const s = new ObservedStream(emptyState(), 100, 1000);
    assert.equal(s.setPod(pod('Running', 1)), true);
    assert.equal(s.setPod(pod('Running', 999)), false);
    assert.equal(s.currentSeq, 1001);
    assert.equal(s.state.pods[0].usage?.cpuNanoCores, 999);
  });

  it('answers with a snapshot when the client is older than the retained history', () => {
    const s = new ObservedStream(emptyState(), 2, 1000);
    for (let i = 0; i < 5; i++) s.setPod({ ...pod('Running'), name: `p${i}` });
    assert.ok(s.since(1001).snapshot);
    assert.equal(s.since(1003).snapshot, undefined);
  });

  it('answers with a snapshot when the sequence number comes from an earlier agent run', () => {
    const s = new ObservedStream(emptyState(), 100, 5000);
    assert.ok(s.since(4000).snapshot);
    assert.ok(s.since(9000).snapshot);
  });

  it('wakes a long-poll as soon as a change arrives', async () => {
    const s = new ObservedStream(emptyState(), 100, 1000);
    const started = Date.now();
    const waiting = s.watch(1000, 5000);
    setTimeout(() => s.deletePod('none') || s.setPod(pod('Running')), 20);
    const r = await waiting;
    assert.equal(r.changes.length, 1);
    assert.ok(Date.now() - started < 2000);
  });

  it('returns an empty answer at the long-poll timeout', async () => {
    const s = new ObservedStream(emptyState(), 100, 1000);
    const r = await s.watch(1000, 30);
    assert.deepEqual(r, { seq: 1000, changes: [] });
  });

  it('keeps only the newest heartbeat when nothing else happened in between', () => {
    const s = new ObservedStream(emptyState(), 100, 1000);
    s.heartbeat('t1');
    s.heartbeat('t2');
    assert.deepEqual(s.since(1000).changes.map((c) => c.type === 'heartbeat' && c.time), ['t2']);
  });
});
