import assert from 'node:assert/strict';
import { emptyObserved, type PodObject } from '../model.ts';
import type { PodStatus } from '../../common/agent-api.ts';
import { onceOutcome, podVerdict } from './once.ts';
import type { HostConnection } from './ports.ts';

function pod(name: string, node: string | undefined, status: Partial<PodStatus>, deleting = false): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { containers: [{ name: 'c', image: 'i' }], ...(node ? { nodeName: node } : {}) } as PodObject['spec'],
    status: { phase: 'Pending', conditions: [], containerStatuses: [], ...status },
  };
}
const ready: Partial<PodStatus> = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
const connected = new Map<string, HostConnection>([['h1', { state: 'connected' }], ['h2', { state: 'connected' }]]);

describe('cox engine --once: when a commit is done', () => {
  const cases: Array<{ name: string; pod: PodObject; connections?: Map<string, HostConnection>; expect: string }> = [
    { name: 'a Ready pod is ready', pod: pod('a', 'h1', ready), expect: 'ready' },
    { name: 'a running pod whose readiness probe has not passed is still waited for', pod: pod('a', 'h1', { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }), expect: 'waiting' },
    { name: 'a pod in CrashLoopBackOff has failed with its reason', pod: pod('a', 'h1', { phase: 'Running', containerStatuses: [{ name: 'c', ready: false, restartCount: 3, image: 'i', state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } } }] }), expect: 'failed: container c: CrashLoopBackOff: back-off 40s' },
    { name: 'an unschedulable pod has failed with the scheduler\'s sentence', pod: pod('a', undefined, { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.' }] }), expect: 'failed: Unschedulable: 0/3 nodes are available: 3 Insufficient memory.' },
    { name: 'a pod on a host refused for its key has failed with the host\'s reason', pod: pod('a', 'h2', {}), connections: new Map([['h2', { state: 'refused', code: 'HostKeyMismatch', reason: 'host key mismatch for h2: expected SHA256:a, got SHA256:b' }]]), expect: 'failed: host key mismatch for h2: expected SHA256:a, got SHA256:b' },
    { name: 'a terminating pod is waited for until it is gone', pod: pod('a', 'h1', ready, true), expect: 'waiting' },
    { name: 'a pod that ran to completion counts as done', pod: pod('a', 'h1', { phase: 'Succeeded' }), expect: 'ready' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const verdict = podVerdict(c.pod, c.connections ?? connected);
      assert.equal(verdict.state === 'ready' || verdict.state === 'waiting' ? verdict.state : `failed: ${verdict.why}`, c.expect);
    });
  }

  it('is not done while the last pass still sent a node a new state', () => {
    const observed = { ...emptyObserved(), pods: new Map([['uid-a', pod('a', 'h1', ready)]]) };
    assert.equal(onceOutcome({ commit: 'c'.repeat(40), actions: 0, puts: 1, observed }, connected).done, false);
  });

  it('exits 0 with one summary line when every pod is ready', () => {
    const observed = { ...emptyObserved(), pods: new Map([['uid-a', pod('a', 'h1', ready)], ['uid-b', pod('b', 'h2', ready)]]) };
    assert.deepEqual(onceOutcome({ commit: 'c'.repeat(40), actions: 0, puts: 0, observed }, connected), { done: true, ok: true, lines: ['cccccccccccc: 2 pods ready on h1, h2'] });
  });

  it('exits 1 with the file, line and message of every error when the newest commit is refused', () => {
    const observed = { ...emptyObserved(), errors: [{ file: 'web.yaml', line: 4, column: 3, message: 'spec.replicas: must be integer' }] };
    const outcome = onceOutcome({ commit: 'a'.repeat(40), refusedCommit: 'b'.repeat(40), actions: 0, puts: 0, observed }, connected);
    assert.deepEqual(outcome, { done: true, ok: false, lines: ['bbbbbbbbbbbb refused; still running aaaaaaaaaaaa', 'web.yaml:4:3: error: spec.replicas: must be integer'] });
  });
});
