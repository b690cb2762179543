import assert from 'node:assert/strict';
import { emptyObserved, type ObservedState, type WorkloadObject } from '../model.ts';
import { rolloutProgress } from './rollout.ts';

const tip = 'a'.repeat(40);
function observedWith(status: Partial<WorkloadObject['status']> | undefined, applied = tip): ObservedState {
  const observed = { ...emptyObserved(), appliedCommit: applied };
  if (status) observed.workloads.set('Deployment/default/web', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, status: { replicas: 0, updatedReplicas: 0, readyReplicas: 0, availableReplicas: 0, conditions: [], ...status } });
  return observed;
}

describe('cox rollout status', () => {
  const cases: Array<{ name: string; observed: ObservedState & { refusedCommit?: string }; replicas?: number; line: string; done: boolean; ok?: boolean }> = [
    { name: 'waits for the engine to apply the tip of the desired branch', observed: observedWith(undefined, 'b'.repeat(40)), replicas: 3, done: false, line: 'Waiting for the engine to apply aaaaaaaaaaaa (status reflects bbbbbbbbbbbb)...' },
    { name: 'counts new replicas as they are updated', observed: observedWith({ replicas: 4, updatedReplicas: 1, availableReplicas: 3 }), replicas: 3, done: false, line: 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...' },
    { name: 'waits for old replicas to terminate', observed: observedWith({ replicas: 4, updatedReplicas: 3, availableReplicas: 3 }), replicas: 3, done: false, line: 'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...' },
    { name: 'waits for updated replicas to become available', observed: observedWith({ replicas: 3, updatedReplicas: 3, availableReplicas: 2 }), replicas: 3, done: false, line: 'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...' },
    { name: 'finishes when every replica is updated and available', observed: observedWith({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 }), replicas: 3, done: true, ok: true, line: 'deployment "web" successfully rolled out' },
    { name: 'fails when the progress deadline was exceeded', observed: observedWith({ replicas: 3, updatedReplicas: 1, availableReplicas: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] }), replicas: 3, done: true, ok: false, line: 'error: deployment "web" exceeded its progress deadline' },
    { name: 'fails with the first error when the newest commit was refused', observed: { ...observedWith(undefined, 'b'.repeat(40)), refusedCommit: tip, errors: [{ file: 'web.yaml', line: 7, column: 3, message: 'spec.replicas: must be integer' }] }, replicas: 3, done: true, ok: false, line: 'desired commit aaaaaaaaaaaa was refused: web.yaml:7:3: spec.replicas: must be integer' },
    { name: 'fails when the Deployment is not in Git', observed: observedWith(undefined), replicas: undefined, done: true, ok: false, line: 'deployment "web" not found in namespace default at aaaaaaaaaaaa' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const progress = rolloutProgress({ name: 'web', namespace: 'default', tip, replicas: c.replicas, observed: c.observed });
      assert.equal(progress.line, c.line);
      assert.equal(progress.done, c.done);
      if (progress.done) assert.equal(progress.ok, c.ok);
    });
  }
});
