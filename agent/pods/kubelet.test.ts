import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kubelet } from './kubelet.ts';
import { FakeRuntime } from '../runtime/fake.ts';
import { LABELS, type DesiredPod, type NodeDesiredState, type ObservedPod } from '../../common/agent-api.ts';
import { podWith } from './testing.ts';

function desired(pods: DesiredPod[], generation = 1): NodeDesiredState {
  return { generation, node: 'h1', nodeAddress: '198.18.2.11', podCIDR: '100.64.1.0/24', clusterCIDR: '100.64.0.0/16', serviceCIDR: '100.127.0.0/24', proxyMode: 'nftables', pods, services: [], routes: [] };
}

describe('kubelet loop with a fake runtime', () => {
  let dir: string;
  let runtime: FakeRuntime;
  let statuses: Map<string, ObservedPod>;
  let deleted: string[];
  const make = () => new Kubelet({
    runtime, stateDir: dir, log: () => undefined, network: () => 'coxswain', runtimeName: () => 'fake',
    backoff: { initialMs: 60_000, maxMs: 300_000 },
    onPodStatus: (p) => statuses.set(p.name, p), onPodDeleted: (uid) => deleted.push(uid),
  });
  const app = (name: string) => runtime.byLabel(LABELS.podName, name).filter((c) => c.labels[LABELS.containerRole] === 'app').sort((a, b) => a.created.localeCompare(b.created));

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cox-kubelet-'));
    runtime = new FakeRuntime();
    statuses = new Map();
    deleted = [];
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('creates the sandbox, then the app container joining it, and reports the pod Running and Ready', async () => {
    const k = make();
    await k.setDesired(desired([podWith({})]));
    const [infra] = runtime.byLabel(LABELS.containerRole, 'infra');
    const [c] = app('web');
    assert.equal(c.networkMode, `container:${infra.id}`);
    assert.equal(c.body.HostConfig.Init, true);
    const s = statuses.get('web')!.status;
    assert.equal(s.phase, 'Running');
    assert.equal(s.podIP, infra.ipAddresses.fake);
    assert.ok(s.conditions.some((x) => x.type === 'Ready' && x.status === 'True'));
  });

  it('refuses a runAsNonRoot container whose image runs as root before creating it: waiting with CreateContainerConfigError', async () => {
    const pod = podWith({ containers: [{ name: 'app', image: 'coxswain/busybox:1', securityContext: { runAsNonRoot: true } }] });
    await make().setDesired(desired([pod]));
    assert.equal(app('web').length, 0, 'no container was created');
    const s = statuses.get('web')!.status;
    assert.deepEqual(s.containerStatuses[0].state, { waiting: { reason: 'CreateContainerConfigError', message: 'container has runAsNonRoot and image will run as root (pod: "web_default(uid-0001-abcdef)", container: app)' } });
    assert.equal(s.phase, 'Pending');
  });

  it('runs a runAsNonRoot container whose image user is numeric and not root, and names an image user it cannot verify', async () => {
    runtime.images.set('example/numeric:1', 'sha256:numeric');
    runtime.imageUsers.set('example/numeric:1', '1000:1000');
    runtime.images.set('example/named:1', 'sha256:named');
    runtime.imageUsers.set('example/named:1', 'app');
    const pod = podWith({ securityContext: { runAsNonRoot: true, runAsGroup: 7 }, containers: [{ name: 'numeric', image: 'example/numeric:1' }, { name: 'named', image: 'example/named:1' }] });
    await make().setDesired(desired([pod]));
    const [c] = app('web');
    assert.equal(c.labels[LABELS.containerName], 'numeric');
    assert.equal(c.body.User, '1000:7', 'the pod\'s runAsGroup for the image\'s user');
    assert.deepEqual(statuses.get('web')!.status.containerStatuses[1].state.waiting, { reason: 'CreateContainerConfigError', message: 'container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: "web_default(uid-0001-abcdef)", container: named)' });
  });

  it('gives a hostNetwork pod the node\'s network: no pod address is allocated, its pod IP is the node address', async () => {
    const pod = podWith({ hostNetwork: true, containers: [{ name: 'app', image: 'coxswain/busybox:1', env: [{ name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] }] });
    await make().setDesired(desired([pod]));
    const [infra] = runtime.byLabel(LABELS.containerRole, 'infra');
    assert.equal(infra.body.HostConfig.NetworkMode, 'host');
    assert.deepEqual(infra.ipAddresses, {});
    const [c] = app('web');
    assert.equal(c.networkMode, `container:${infra.id}`);
    assert.deepEqual(c.body.Env, ['IP=198.18.2.11']);
    const s = statuses.get('web')!.status;
    assert.deepEqual([s.phase, s.podIP, s.hostIP], ['Running', '198.18.2.11', '198.18.2.11']);
  });

  it('reports a container with a readiness probe not ready before its probe passed, also when a new kubelet adopts it', async () => {
    const pod = podWith({ containers: [{ name: 'app', image: 'coxswain/busybox:1', readinessProbe: { exec: { command: ['true'] }, periodSeconds: 60 } }] });
    const notReady = () => {
      const s = statuses.get('web')!.status;
      assert.equal(s.containerStatuses[0].ready, false);
      assert.ok(s.conditions.some((x) => x.type === 'Ready' && x.status === 'False'), JSON.stringify(s.conditions));
    };
    await make().setDesired(desired([pod]));
    notReady();
    statuses.clear();
    await make().setDesired(desired([pod]));
    notReady();
  });

  it('restarts a crashed container at once the first time, then holds it in CrashLoopBackOff', async () => {
    const k = make();
    await k.setDesired(desired([podWith({})]));
    runtime.exit(app('web')[0].id, 1, 'boom\n');
    await k.poll();
    assert.equal(app('web').length, 2);
    assert.equal(statuses.get('web')!.status.containerStatuses[0].restartCount, 1);
    runtime.exit(app('web')[1].id, 1);
    await k.poll();
    assert.equal(app('web').length, 2);
    const c = statuses.get('web')!.status.containerStatuses[0];
    assert.equal(c.state.waiting?.reason, 'CrashLoopBackOff');
    assert.equal(c.lastState?.terminated?.exitCode, 1);
  });

  it('adopts running containers after an agent restart without creating or stopping anything', async () => {
    await make().setDesired(desired([podWith({})]));
    const before = runtime.calls.length;
    const again = make();
    await again.setDesired(desired([podWith({})]));
    assert.deepEqual(runtime.calls.slice(before), []);
    assert.equal(statuses.get('web')!.status.phase, 'Running');
  });

  it('touches no container before it has a desired state, so a restarting agent never tears down what runs', async () => {
    await make().setDesired(desired([podWith({})]));
    const before = runtime.calls.length;
    await make().poll(true);
    assert.deepEqual(runtime.calls.slice(before), []);
  });

  it('tears down a pod that left the desired state, sandbox last, and never touches unlabelled containers', async () => {
    const k = make();
    await k.setDesired(desired([podWith({})]));
    const stranger = await runtime.createContainer('stranger', { Image: 'coxswain/busybox:1', HostConfig: {} });
    await runtime.startContainer(stranger);
    await k.setDesired(desired([], 2));
    await k.settled();
    assert.deepEqual([...runtime.containers.values()].map((c) => c.name), ['stranger']);
    const removes = runtime.calls.filter((c) => c.startsWith('remove'));
    assert.match(removes[removes.length - 1], /_infra_/);
    assert.deepEqual(deleted, ['uid-0001-abcdef']);
  });

  describe('a pod that left the desired state while its stop takes its grace period', () => {
    const old = podWith({}, { uid: 'uid-old-000000001', name: 'old' });
    const fresh = podWith({}, { uid: 'uid-new-000000001', name: 'fresh' });
    let release: () => void;
    let stopsOfOld: string[];
    beforeEach(() => {
      stopsOfOld = [];
      const gate = new Promise<void>((r) => { release = r; });
      const stop = runtime.stopContainer.bind(runtime);
      runtime.stopContainer = async (id, t) => {
        const c = runtime.containers.get(id);
        if (c?.labels[LABELS.podName] === 'old' && c.labels[LABELS.containerRole] === 'app') { stopsOfOld.push(id); await gate; }
        return stop(id, t);
      };
    });
    afterEach(() => release());
    /** Resolves with `p`, or fails when it is still pending after `ms`. */
    const within = <T>(p: Promise<T>, ms: number, what: string) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms).unref())]);

    it('returns from the new desired state at once and starts the new pod, while the old one stays observed until its containers are gone', async () => {
      const k = make();
      await k.setDesired(desired([old]));
      await within(k.setDesired(desired([fresh], 2)), 2000, 'setDesired');
      assert.equal(statuses.get('fresh')?.status.phase, 'Running');
      assert.equal(stopsOfOld.length, 1, 'the teardown runs');
      assert.deepEqual(k.terminating(), [old.uid]);
      assert.deepEqual(deleted, [], 'the old pod is still reported while its container runs');
      assert.ok(app('old').length === 1 && app('old')[0].state.running);
      // Polls and new desired states meanwhile never start a second teardown of the same pod.
      await k.poll(true);
      await within(k.setDesired(desired([fresh], 3)), 2000, 'setDesired');
      assert.equal(stopsOfOld.length, 1, 'one teardown of the pod at a time');
      release();
      await k.settled();
      assert.deepEqual(deleted, [old.uid]);
      assert.deepEqual(runtime.byLabel(LABELS.podName, 'old'), []);
      assert.deepEqual(k.terminating(), []);
    });

    it('logs a teardown that failed and tries it again on the next poll', async () => {
      const lines: string[] = [];
      const k = new Kubelet({
        runtime, stateDir: dir, log: (l) => lines.push(l), network: () => 'coxswain', runtimeName: () => 'fake',
        onPodStatus: (p) => statuses.set(p.name, p), onPodDeleted: (uid) => deleted.push(uid),
      });
      await k.setDesired(desired([old]));
      const remove = runtime.removeContainer.bind(runtime);
      let failures = 1;
      runtime.removeContainer = async (id) => { if (failures-- > 0) throw new Error('device or resource busy'); return remove(id); };
      release();
      await k.setDesired(desired([], 2));
      await k.settled();
      assert.equal(k.counters.teardownErrors, 1);
      assert.ok(lines.some((l) => /teardown failed.*device or resource busy/.test(l)), lines.join('\n'));
      assert.deepEqual(deleted, []);
      await k.poll();
      await k.settled();
      assert.deepEqual(deleted, [old.uid]);
      assert.deepEqual(runtime.byLabel(LABELS.podName, 'old'), []);
    });
  });

  it('reports ErrImagePull with the runtime message and does not create the container', async () => {
    runtime.pullFailures.set('registry.example/app:2', 'manifest unknown');
    const k = make();
    await k.setDesired(desired([podWith({ containers: [{ name: 'app', image: 'registry.example/app:2' }] })]));
    const c = statuses.get('web')!.status.containerStatuses[0];
    assert.equal(c.state.waiting?.reason, 'ErrImagePull');
    assert.match(c.state.waiting?.message ?? '', /manifest unknown/);
    assert.equal(app('web').length, 0);
  });

  it('reports CreateContainerConfigError naming a missing secret', async () => {
    const k = make();
    await k.setDesired(desired([podWith({ containers: [{ name: 'app', image: 'coxswain/busybox:1', env: [{ name: 'PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }] })]));
    const c = statuses.get('web')!.status.containerStatuses[0];
    assert.equal(c.state.waiting?.reason, 'CreateContainerConfigError');
    assert.match(c.state.waiting?.message ?? '', /key "password" of secret "db" not found/);
  });

  it('runs the init containers again before the app when the sandbox is recreated', async () => {
    const k = make();
    const pod = podWith({ initContainers: [{ name: 'setup', image: 'coxswain/busybox:1' }] });
    const role = (r: string) => runtime.byLabel(LABELS.containerRole, r).sort((a, b) => a.created.localeCompare(b.created));
    await k.setDesired(desired([pod]));
    runtime.exit(role('init')[0].id, 0);
    await k.poll();
    assert.equal(app('web').length, 1);
    runtime.exit(role('infra')[0].id, 137);
    await k.poll();
    const sandbox = role('infra').find((c) => c.state.running)!;
    assert.deepEqual(role('init').map((c) => [c.networkMode, c.state.running]), [[`container:${sandbox.id}`, true]], 'the init container of the dead sandbox is replaced by one in the new sandbox');
    assert.deepEqual(app('web').map((c) => c.state.running), [false], 'the app waits for the init container');
    assert.equal(statuses.get('web')!.status.conditions.find((c) => c.type === 'Initialized')?.status, 'False');
    runtime.exit(role('init')[0].id, 0);
    await k.poll();
    assert.deepEqual(app('web').map((c) => [c.networkMode, c.state.running]), [[`container:${role('infra')[0].id}`, false], [`container:${sandbox.id}`, true]]);
    assert.equal(statuses.get('web')!.status.phase, 'Running');
  });

  it('recreates a container whose spec changed, keeping the restart count rising', async () => {
    const k = make();
    await k.setDesired(desired([podWith({})]));
    await k.setDesired(desired([podWith({ containers: [{ name: 'app', image: 'coxswain/busybox:1', args: ['sleep', '9'] }] })], 2));
    const list = app('web');
    assert.equal(list.length, 2);
    assert.deepEqual(list[1].body.Cmd, ['sleep', '9']);
    assert.equal(list[0].state.running, false);
  });
});
