import assert from 'node:assert/strict';
import { podStatus, type StatusInputs } from './pod-status.ts';
import { containerOf, podWith } from '../pods/testing.ts';
import type { ContainerInfo } from '../runtime/types.ts';

const noProbes = { ready: () => undefined, started: () => undefined };

function status(pod: StatusInputs['pod'], containers: ContainerInfo[], extra: Partial<StatusInputs> = {}) {
  return podStatus({ pod, containers, waiting: {}, probes: noProbes, hostIP: '198.18.2.11', runtimeName: 'podman', nowIso: '2026-01-01T00:02:00.000Z', ...extra });
}

function cond(s: ReturnType<typeof podStatus>, type: string): string {
  return s.conditions.find((c) => c.type === type)!.status;
}

describe('pod status', () => {
  const pod = podWith({});
  const initPod = podWith({ initContainers: [{ name: 'setup', image: 'coxswain/busybox:1' }] });

  it('reports a pod whose sandbox is being created as Pending with ContainerCreating', () => {
    const s = status(pod, []);
    assert.equal(s.phase, 'Pending');
    assert.deepEqual(s.containerStatuses[0].state, { waiting: { reason: 'ContainerCreating' } });
    assert.equal(cond(s, 'Ready'), 'False');
    assert.equal(cond(s, 'PodScheduled'), 'True');
  });

  it('reports a running pod without probes as Running and Ready with podIP, hostIP and containerID', () => {
    const app = containerOf(pod, 'app');
    const s = status(pod, [containerOf(pod, 'infra', { ip: '100.64.1.7' }), app]);
    assert.equal(s.phase, 'Running');
    assert.equal(s.podIP, '100.64.1.7');
    assert.equal(s.hostIP, '198.18.2.11');
    assert.equal(s.containerStatuses[0].containerID, `podman://${app.id}`);
    assert.equal(s.containerStatuses[0].ready, true);
    assert.deepEqual(s.conditions.map((c) => `${c.type}=${c.status}`), ['Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True']);
  });

  it('reports the node address as the pod IP of a hostNetwork pod once its sandbox runs, and none before', () => {
    const p = podWith({ hostNetwork: true });
    const infra = { ...containerOf(p, 'infra'), networkMode: 'host', ipAddresses: {} };
    assert.deepEqual([status(p, [infra, containerOf(p, 'app')]).podIP, status(p, [containerOf(p, 'app', { running: false })]).podIP], ['198.18.2.11', undefined]);
  });

  it('keeps a running container unready until its readiness probe succeeds, naming it in the condition', () => {
    const s = status(pod, [containerOf(pod, 'infra'), containerOf(pod, 'app')], { probes: { ready: () => false, started: () => undefined } });
    assert.equal(s.phase, 'Running');
    assert.equal(cond(s, 'Ready'), 'False');
    assert.equal(s.conditions.find((c) => c.type === 'ContainersReady')!.message, 'containers with unready status: [app]');
  });

  it('reports a crash-looping container as waiting CrashLoopBackOff with the crash as lastState and its restartCount', () => {
    const s = status(pod, [containerOf(pod, 'infra'), containerOf(pod, 'app', { attempt: 3, running: false, exitCode: 1 })], { waiting: { app: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } } });
    const c = s.containerStatuses[0];
    assert.equal(c.restartCount, 3);
    assert.deepEqual(c.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } });
    assert.equal(c.lastState?.terminated?.reason, 'Error');
    assert.equal(c.lastState?.terminated?.exitCode, 1);
    assert.equal(s.phase, 'Running');
  });

  it('reports an OOM-killed container with reason OOMKilled', () => {
    const app = containerOf(pod, 'app', { running: false, exitCode: 137 });
    app.state.oomKilled = true;
    const p = podWith({ restartPolicy: 'Never' });
    const s = status(p, [containerOf(p, 'infra'), { ...app, labels: { ...app.labels } }]);
    assert.equal(s.containerStatuses[0].state.terminated?.reason, 'OOMKilled');
    assert.equal(s.phase, 'Failed');
  });

  it('reports a pod whose containers all exited 0 under Never as Succeeded with Completed', () => {
    const p = podWith({ restartPolicy: 'Never' });
    const s = status(p, [containerOf(p, 'infra'), containerOf(p, 'app', { running: false, exitCode: 0 })]);
    assert.equal(s.phase, 'Succeeded');
    assert.equal(s.containerStatuses[0].state.terminated?.reason, 'Completed');
    assert.equal(s.conditions.find((c) => c.type === 'Ready')!.reason, 'PodCompleted');
  });

  it('reports a pod with an unfinished init container as Pending and not Initialized', () => {
    const s = status(initPod, [containerOf(initPod, 'infra'), containerOf(initPod, 'setup', { role: 'init', running: true })]);
    assert.equal(s.phase, 'Pending');
    assert.equal(cond(s, 'Initialized'), 'False');
    assert.deepEqual(s.containerStatuses[0].state, { waiting: { reason: 'ContainerCreating' } });
    assert.ok(s.initContainerStatuses![0].state.running);
  });

  it('reports a failed init container of a Never pod as Failed', () => {
    const p = podWith({ ...initPod.spec, restartPolicy: 'Never' });
    const s = status(p, [containerOf(p, 'infra'), containerOf(p, 'setup', { role: 'init', running: false, exitCode: 2 })]);
    assert.equal(s.phase, 'Failed');
  });

  it('reports an image pull failure as waiting ErrImagePull with the runtime message', () => {
    const s = status(pod, [containerOf(pod, 'infra')], { waiting: { app: { reason: 'ErrImagePull', message: 'pull access denied' } } });
    assert.deepEqual(s.containerStatuses[0].state, { waiting: { reason: 'ErrImagePull', message: 'pull access denied' } });
    assert.equal(s.phase, 'Pending');
  });

  it('keeps lastTransitionTime of a condition whose status did not change', () => {
    const containers = [containerOf(pod, 'infra'), containerOf(pod, 'app')];
    const first = status(pod, containers, { nowIso: '2026-01-01T00:00:00.000Z' });
    const second = status(pod, containers, { nowIso: '2026-01-01T00:05:00.000Z', previous: first });
    assert.deepEqual(second.conditions, first.conditions);
  });
});
