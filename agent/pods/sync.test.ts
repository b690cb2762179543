import assert from 'node:assert/strict';
import { BackOff } from './backoff.ts';
import { decide, teardown, type PodAction, type SyncInputs } from './sync.ts';
import { containerOf, podWith } from './testing.ts';
import type { ContainerInfo } from '../runtime/types.ts';

const T0 = Date.parse('2026-01-01T00:01:00.000Z');

function summary(actions: PodAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case 'createInfra': return 'createInfra';
      case 'startContainer': return `start ${a.role} ${a.container} #${a.attempt}`;
      case 'stopContainer': return `stop ${a.container} grace=${a.graceSeconds}`;
      case 'removeContainer': return `remove ${a.container}`;
    }
  });
}

describe('pod sync decision', () => {
  const pod = podWith({});
  const initPod = podWith({ initContainers: [{ name: 'setup', image: 'coxswain/busybox:1' }, { name: 'migrate', image: 'coxswain/busybox:1' }] });
  /** An init container of `initPod` (or `p`) that ran in `sandbox`. */
  const initIn = (sandbox: ContainerInfo, name: string, opts: Parameters<typeof containerOf>[2], p = initPod) => containerOf(p, name, { role: 'init', infraId: sandbox.id, ...opts });
  const cases: { name: string; inputs: () => Omit<SyncInputs, 'backoff'>; want: string[]; waiting?: string }[] = [
    { name: 'a new pod first gets its sandbox', inputs: () => ({ pod, containers: [], nowMs: T0 }), want: ['createInfra'] },
    { name: 'with a running sandbox the app container starts as attempt 0', inputs: () => ({ pod, containers: [containerOf(pod, 'infra')], nowMs: T0 }), want: ['start app app #0'] },
    { name: 'a converged pod needs nothing', inputs: () => ({ pod, containers: [containerOf(pod, 'infra'), containerOf(pod, 'app')], nowMs: T0 }), want: [] },
    { name: 'init containers run one at a time, in order', inputs: () => ({ pod: initPod, containers: [containerOf(initPod, 'infra')], nowMs: T0 }), want: ['start init setup #0'] },
    { name: 'the second init container starts once the first exited with 0', inputs: () => { const sandbox = containerOf(initPod, 'infra'); return { pod: initPod, containers: [sandbox, initIn(sandbox, 'setup', { running: false })], nowMs: T0 }; }, want: ['start init migrate #0'] },
    { name: 'app containers wait while an init container runs', inputs: () => { const sandbox = containerOf(initPod, 'infra'); return { pod: initPod, containers: [sandbox, initIn(sandbox, 'setup', { running: true })], nowMs: T0 }; }, want: [] },
    { name: 'app containers start after every init container completed', inputs: () => { const sandbox = containerOf(initPod, 'infra'); return { pod: initPod, containers: [sandbox, initIn(sandbox, 'setup', { running: false }), initIn(sandbox, 'migrate', { running: false })], nowMs: T0 }; }, want: ['start app app #0'] },
    { name: 'a failed init container of a Never pod is not retried', inputs: () => { const p = podWith({ ...initPod.spec, restartPolicy: 'Never' }); const sandbox = containerOf(p, 'infra'); return { pod: p, containers: [sandbox, initIn(sandbox, 'setup', { running: false, exitCode: 1 }, p)], nowMs: T0 }; }, want: [] },
    { name: 'a new sandbox runs the first init container again, without a crash back-off', inputs: () => { const dead = containerOf(initPod, 'infra', { running: false }); return { pod: initPod, containers: [dead, containerOf(initPod, 'infra'), initIn(dead, 'setup', { running: false }), initIn(dead, 'migrate', { running: false }), containerOf(initPod, 'app', { running: false, exitCode: 143, infraId: dead.id })], nowMs: T0 }; }, want: ['start init setup #1'] },
    { name: 'in a new sandbox the app containers wait while an init container runs again', inputs: () => { const dead = containerOf(initPod, 'infra', { running: false }); const sandbox = containerOf(initPod, 'infra'); return { pod: initPod, containers: [dead, sandbox, initIn(dead, 'setup', { running: false }), initIn(sandbox, 'setup', { running: true, attempt: 1 }), initIn(dead, 'migrate', { running: false }), containerOf(initPod, 'app', { running: false, exitCode: 143, infraId: dead.id })], nowMs: T0 }; }, want: ['remove setup'] },
    { name: 'in a new sandbox the second init container runs again once the first completed there', inputs: () => { const dead = containerOf(initPod, 'infra', { running: false }); const sandbox = containerOf(initPod, 'infra'); return { pod: initPod, containers: [dead, sandbox, initIn(sandbox, 'setup', { running: false, attempt: 1 }), initIn(dead, 'migrate', { running: false }), containerOf(initPod, 'app', { running: false, exitCode: 143, infraId: dead.id })], nowMs: T0 }; }, want: ['start init migrate #1'] },
    { name: 'an init container still running in a dead sandbox is stopped', inputs: () => { const dead = containerOf(initPod, 'infra', { running: false }); return { pod: initPod, containers: [dead, containerOf(initPod, 'infra'), initIn(dead, 'setup', { running: true })], nowMs: T0 }; }, want: ['stop setup grace=30'] },
    { name: 'a Never pod whose containers ran gets no new sandbox when its sandbox dies', inputs: () => { const p = podWith({ restartPolicy: 'Never' }); const dead = containerOf(p, 'infra', { running: false }); return { pod: p, containers: [dead, containerOf(p, 'app', { running: false, exitCode: 137, infraId: dead.id })], nowMs: T0 }; }, want: [] },
    { name: 'an exited container of an Always pod restarts at once the first time', inputs: () => ({ pod, containers: [containerOf(pod, 'infra'), containerOf(pod, 'app', { running: false, exitCode: 1 })], nowMs: T0 }), want: ['start app app #1'] },
    { name: 'a container that exited 0 under OnFailure stays down', inputs: () => { const p = podWith({ restartPolicy: 'OnFailure' }); return { pod: p, containers: [containerOf(p, 'infra'), containerOf(p, 'app', { running: false, exitCode: 0 })], nowMs: T0 }; }, want: [] },
    { name: 'a container that exited 2 under OnFailure restarts', inputs: () => { const p = podWith({ restartPolicy: 'OnFailure' }); return { pod: p, containers: [containerOf(p, 'infra'), containerOf(p, 'app', { running: false, exitCode: 2 })], nowMs: T0 }; }, want: ['start app app #1'] },
    { name: 'a crashed container under Never stays down', inputs: () => { const p = podWith({ restartPolicy: 'Never' }); return { pod: p, containers: [containerOf(p, 'infra'), containerOf(p, 'app', { running: false, exitCode: 137 })], nowMs: T0 }; }, want: [] },
    { name: 'a changed container spec stops the running container with the grace period', inputs: () => { const p = podWith({ terminationGracePeriodSeconds: 5 }); return { pod: p, containers: [containerOf(p, 'infra'), containerOf(p, 'app', { hash: 'old' })], nowMs: T0 }; }, want: ['stop app grace=5'] },
    { name: 'a failed liveness probe stops the container', inputs: () => { const c = containerOf(pod, 'app'); return { pod, containers: [containerOf(pod, 'infra'), c], nowMs: T0, unhealthy: new Map([[c.id, 'Liveness probe failed']]) }; }, want: ['stop app grace=30'] },
    { name: 'a dead sandbox stops the app containers and is recreated', inputs: () => ({ pod, containers: [containerOf(pod, 'infra', { running: false }), containerOf(pod, 'app')], nowMs: T0 }), want: ['remove infra', 'stop app grace=30', 'createInfra'] },
    { name: 'a dead sandbox that containers still join is kept until they are gone', inputs: () => { const dead = containerOf(pod, 'infra', { running: false }); return { pod, containers: [dead, containerOf(pod, 'infra'), containerOf(pod, 'app', { running: false, exitCode: 1, infraId: dead.id })], nowMs: T0 }; }, want: ['start app app #1'] },
    { name: 'a container no longer in the spec is stopped and removed', inputs: () => { const other = podWith({ containers: [{ name: 'app', image: 'x' }, { name: 'sidecar', image: 'x' }] }); return { pod, containers: [containerOf(pod, 'infra'), containerOf(pod, 'app'), containerOf(other, 'sidecar')], nowMs: T0 }; }, want: ['stop sidecar grace=30', 'remove sidecar'] },
    { name: 'attempts older than the previous one are removed', inputs: () => ({ pod, containers: [containerOf(pod, 'infra'), containerOf(pod, 'app', { attempt: 3 }), containerOf(pod, 'app', { attempt: 2, running: false }), containerOf(pod, 'app', { attempt: 1, running: false })], nowMs: T0 }), want: ['remove app'] },
    { name: 'a blocked image pull makes the container wait with the block reason', inputs: () => ({ pod, containers: [containerOf(pod, 'infra')], nowMs: T0, blocked: new Map([['app', { reason: 'ImagePullBackOff', message: 'Back-off pulling image' }]]) }), want: [], waiting: 'app:ImagePullBackOff' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decide({ ...c.inputs(), backoff: new BackOff({ initialMs: 10_000, maxMs: 300_000 }) });
      assert.deepEqual(summary(d.actions), c.want);
      if (c.waiting) assert.deepEqual(Object.entries(d.waiting).map(([k, v]) => `${k}:${v.reason}`), [c.waiting]);
    });
  }

  it('backs off a crash-looping container 10 s, then 20 s, doubling to the 5 min cap', () => {
    const backoff = new BackOff({ initialMs: 10_000, maxMs: 300_000 });
    let now = T0;
    const delays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const crashed = containerOf(pod, 'app', { attempt, running: false, exitCode: 1, finishedAt: new Date(now).toISOString() });
      let d = decide({ pod, containers: [containerOf(pod, 'infra'), crashed], backoff, nowMs: now });
      let waited = 0;
      while (d.actions.length === 0) {
        assert.equal(d.waiting.app?.reason, 'CrashLoopBackOff');
        assert.ok(d.requeueAfterMs && d.requeueAfterMs > 0);
        waited += d.requeueAfterMs!;
        now += d.requeueAfterMs!;
        d = decide({ pod, containers: [containerOf(pod, 'infra'), crashed], backoff, nowMs: now });
      }
      assert.deepEqual(summary(d.actions), [`start app app #${attempt + 1}`]);
      delays.push(waited);
    }
    assert.deepEqual(delays, [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });

  it('says in the waiting message how long the back-off is, as kubelet does', () => {
    const backoff = new BackOff({ initialMs: 10_000, maxMs: 300_000 });
    backoff.next('uid-0001-abcdef/app', T0);
    const d = decide({ pod, containers: [containerOf(pod, 'infra'), containerOf(pod, 'app', { running: false, exitCode: 1, finishedAt: new Date(T0).toISOString() })], backoff, nowMs: T0 + 1000 });
    assert.equal(d.waiting.app?.message, 'back-off 10s restarting failed container=app pod=web_default(uid-0001-abcdef)');
    assert.equal(d.requeueAfterMs, 9000);
  });

  it('runs init containers again in a new sandbox at once, even while their crash back-off holds', () => {
    const backoff = new BackOff({ initialMs: 10_000, maxMs: 300_000 });
    backoff.next('uid-0001-abcdef/setup', T0 - 1000);
    backoff.next('uid-0001-abcdef/setup', T0 - 1000);
    const dead = containerOf(initPod, 'infra', { running: false });
    const d = decide({ pod: initPod, containers: [dead, containerOf(initPod, 'infra'), initIn(dead, 'setup', { running: false, attempt: 2, finishedAt: new Date(T0 - 500).toISOString() })], backoff, nowMs: T0 });
    assert.deepEqual(summary(d.actions), ['start init setup #3']);
  });

  it('tears a pod down app containers first with their grace and removes them, and only then stops and removes the sandbox', () => {
    const containers = [containerOf(pod, 'infra'), containerOf(pod, 'app'), containerOf(pod, 'app', { attempt: 1, running: false })];
    assert.deepEqual(summary(teardown(containers, 7)), ['stop app grace=7', 'remove app', 'remove app', 'stop infra grace=0', 'remove infra']);
  });
});
