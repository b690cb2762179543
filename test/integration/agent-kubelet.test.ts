/**
 * cox-agent against real Podman in a lab host (lab index 9), for kubelet
 * behaviours beyond agent.test.ts: init containers running again when the
 * pod's sandbox is recreated, emptyDir volumes with medium Memory, security
 * contexts (user and groups, read-only root, capabilities, runAsNonRoot)
 * and hostNetwork pods.
 */
import assert from 'node:assert/strict';
import { labExec } from '../../engine/lab/index.ts';
import { LABELS, type DesiredPod } from '../../common/agent-api.ts';
import { labIndex, useLab } from './lab-fixture.ts';
import { desiredFor, isReady, nodeOf, startAgent, waitFor, waitForPod, type RunningAgent } from './agent-harness.ts';

const INDEX = labIndex(9);
const FAST = ['--backoff-initial-ms', '1000', '--backoff-max-ms', '4000', '--poll-ms', '300'];

const idOf = (containerID: string | undefined) => (containerID ?? '').slice('podman://'.length);

describe('cox-agent kubelet behaviours in a lab host (integration)', function () {
  this.timeout(180_000);
  const handle = useLab({ index: INDEX, nodes: 1, name: 'agent-kubelet-test' });
  let agent: RunningAgent | undefined;
  let generation = 0;
  const put = (pods: DesiredPod[]) => agent!.client.putDesired(desiredFor(handle.lab, 'h1', ++generation, pods));
  const sh = async (argv: string[]) => {
    const r = await labExec(handle.lab, 'h1', argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => { agent = await startAgent(handle.lab, 'h1', FAST); });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && agent) process.stderr.write(`--- cox-agent on h1 (last lines) ---\n${agent.output().split('\n').slice(-40).join('\n')}\n`);
  });

  after(async () => { await agent?.stop(); });

  it('runs the init containers again, before the app, when the sandbox is killed and recreated', async () => {
    const pod: DesiredPod = {
      uid: 'uid-reinit-000001', name: 'reinit', namespace: 'default',
      spec: {
        terminationGracePeriodSeconds: 2,
        volumes: [{ name: 'work', emptyDir: {} }],
        initContainers: [{ name: 'count', image: 'coxswain/busybox:1', command: ['sh', '-c', 'echo run >> /work/init-runs'], volumeMounts: [{ name: 'work', mountPath: '/work' }] }],
        // The app writes down how many init runs it found when it started.
        containers: [{ name: 'main', image: 'coxswain/busybox:1', command: ['sh', '-c', 'wc -l < /work/init-runs >> /work/seen-by-app; exec sleep 3600'], volumeMounts: [{ name: 'work', mountPath: '/work' }] }],
      },
    };
    await put([pod]);
    const first = await waitForPod(agent!.client, 'reinit', 'to be Ready', isReady);
    const infra = (await sh(['podman', 'ps', '-q', '--no-trunc', '--filter', `label=${LABELS.podUid}=${pod.uid}`, '--filter', `label=${LABELS.containerRole}=infra`])).trim();
    assert.match(infra, /^[0-9a-f]{64}$/);
    assert.equal((await sh(['podman', 'exec', idOf(first.status.containerStatuses[0].containerID), 'cat', '/work/seen-by-app'])).trim(), '1');

    await sh(['podman', 'kill', infra]);
    const second = await waitForPod(agent!.client, 'reinit', 'to be Ready in a new sandbox', (p) => isReady(p) && p.status.containerStatuses[0].restartCount >= 1);
    const init = second.status.initContainerStatuses?.[0];
    assert.equal(init?.restartCount, 1, 'the init container ran once more');
    assert.equal(init?.state.terminated?.reason, 'Completed');
    const app = idOf(second.status.containerStatuses[0].containerID);
    assert.notEqual(app, idOf(first.status.containerStatuses[0].containerID));
    // Both the new init container and the new app container joined the new sandbox, not the killed one.
    const newInfra = (await sh(['podman', 'ps', '-q', '--no-trunc', '--filter', `label=${LABELS.podUid}=${pod.uid}`, '--filter', `label=${LABELS.containerRole}=infra`])).trim();
    assert.match(newInfra, /^[0-9a-f]{64}$/);
    assert.notEqual(newInfra, infra);
    const modes = await sh(['podman', 'inspect', '--format', '{{.HostConfig.NetworkMode}}', idOf(init?.containerID), app]);
    assert.deepEqual(modes.trim().split('\n'), [`container:${newInfra}`, `container:${newInfra}`]);
    assert.equal(await sh(['podman', 'exec', app, 'cat', '/work/init-runs']), 'run\nrun\n');
    assert.equal(await sh(['podman', 'exec', app, 'cat', '/work/seen-by-app']), '1\n2\n', 'the new app attempt started after the second init run');
    // The pod answers on its new sandbox's address.
    assert.match(second.status.podIP ?? '', /^100\.64\.1\.\d+$/);
    await put([]);
  });

  it('mounts an emptyDir with medium Memory as a tmpfs of its sizeLimit, shared by the pod\'s containers and gone with the pod', async () => {
    const mount = { name: 'scratch', mountPath: '/scratch' };
    const pod: DesiredPod = {
      uid: 'uid-memdir-000001', name: 'memdir', namespace: 'default',
      spec: {
        terminationGracePeriodSeconds: 2,
        volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } }],
        containers: [
          { name: 'writer', image: 'coxswain/busybox:1', command: ['sh', '-c', 'echo from the writer > /scratch/note; exec sleep 3600'], volumeMounts: [mount] },
          { name: 'reader', image: 'coxswain/busybox:1', command: ['sleep', '3600'], volumeMounts: [mount] },
        ],
      },
    };
    await put([pod]);
    const p = await waitForPod(agent!.client, 'memdir', 'to be Ready', isReady);
    const [writer, reader] = p.status.containerStatuses.map((c) => idOf(c.containerID));
    const inside = await sh(['podman', 'exec', reader, 'sh', '-c', "awk '$2 == \"/scratch\" { print $3 }' /proc/mounts; df -k /scratch | awk 'NR == 2 { print $2 }'; cat /scratch/note"]);
    assert.equal(inside, 'tmpfs\n8192\nfrom the writer\n');
    const full = await labExec(handle.lab, 'h1', ['podman', 'exec', writer, 'dd', 'if=/dev/zero', 'of=/scratch/big', 'bs=1M', 'count=16']);
    assert.notEqual(full.code, 0, 'writing 16 MiB into an 8 MiB volume fails');
    assert.match(full.stderr, /No space left on device/);
    const host = `/var/lib/coxswain/pods/${pod.uid}/volumes/empty-dir/scratch`;
    const hostMount = async () => (await sh(['cat', '/proc/mounts'])).split('\n').find((l) => l.split(' ')[1] === host);
    assert.match((await hostMount()) ?? '', /^tmpfs \S+ tmpfs \S*size=8192k/);

    await put([]);
    await waitFor('pod memdir to leave the observed state', async () => ((await agent!.client.observed()).state.pods.some((x) => x.name === 'memdir') ? undefined : true), 30_000, 200);
    assert.equal(await hostMount(), undefined, 'the tmpfs is unmounted with the pod');
  });
  const logsOf = async (name: string, container: string) => {
    const stream = await agent!.client.logs('default', name, { container });
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    return text;
  };
  const gone = (name: string) => waitFor(`pod ${name} to leave the observed state`, async () => ((await agent!.client.observed()).state.pods.some((x) => x.name === name) ? undefined : true), 30_000, 200);

  it('runs a container as its runAsUser and runAsGroup (over the pod\'s), with the supplemental groups, capabilities and no-new-privileges asked for', async () => {
    const pod: DesiredPod = {
      uid: 'uid-runas-0000001', name: 'runas', namespace: 'default',
      spec: {
        terminationGracePeriodSeconds: 2,
        securityContext: { runAsUser: 2000, runAsGroup: 2000, runAsNonRoot: true, supplementalGroups: [3000] },
        containers: [{
          name: 'main', image: 'coxswain/busybox:1',
          command: ['sh', '-c', 'id -u; id -g; id -G; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; exec sleep 3600'],
          securityContext: { runAsUser: 1000, runAsGroup: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } },
        }],
      },
    };
    await put([pod]);
    await waitForPod(agent!.client, 'runas', 'to be Ready', isReady);
    const log = await waitFor('the log of runas to hold its five lines', async () => {
      const text = await logsOf('runas', 'main');
      return text.split('\n').filter(Boolean).length >= 5 ? text : undefined;
    }, 30_000, 200);
    // CAP_NET_BIND_SERVICE is bit 10; the runtime's init (HostConfig.Init) runs the command with the same set.
    assert.equal(log.replace(/\t+/g, ' '), '1000\n1000\n1000 3000\nCapEff: 0000000000000400\nNoNewPrivs: 1\n');
    await put([]);
    await gone('runas');
  });

  it('keeps a readOnlyRootFilesystem container from writing to / but lets it write to an emptyDir', async () => {
    const pod: DesiredPod = {
      uid: 'uid-rootfs-000001', name: 'rootfs', namespace: 'default',
      spec: {
        terminationGracePeriodSeconds: 2,
        volumes: [{ name: 'data', emptyDir: {} }],
        containers: [{ name: 'main', image: 'coxswain/busybox:1', command: ['sleep', '3600'], securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      },
    };
    await put([pod]);
    const p = await waitForPod(agent!.client, 'rootfs', 'to be Ready', isReady);
    const id = idOf(p.status.containerStatuses[0].containerID);
    const root = await labExec(handle.lab, 'h1', ['podman', 'exec', id, 'touch', '/written']);
    assert.notEqual(root.code, 0, 'writing to / fails');
    assert.match(root.stderr, /Read-only file system/);
    await sh(['podman', 'exec', id, 'sh', '-c', 'echo kept > /data/note']);
    assert.equal(await sh(['podman', 'exec', id, 'cat', '/data/note']), 'kept\n');
    await put([]);
    await gone('rootfs');
  });

  it('refuses to start a runAsNonRoot container whose image runs as root: waiting with CreateContainerConfigError', async () => {
    const pod: DesiredPod = {
      uid: 'uid-nonroot-00001', name: 'nonroot', namespace: 'default',
      spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'main', image: 'coxswain/busybox:1', command: ['sleep', '3600'], securityContext: { runAsNonRoot: true } }] },
    };
    await put([pod]);
    const p = await waitForPod(agent!.client, 'nonroot', 'to wait with CreateContainerConfigError', (x) => x.status.containerStatuses[0]?.state.waiting?.reason === 'CreateContainerConfigError');
    assert.equal(p.status.containerStatuses[0].state.waiting?.message, `container has runAsNonRoot and image will run as root (pod: "nonroot_default(${pod.uid})", container: main)`);
    assert.equal(p.status.phase, 'Pending');
    const created = await sh(['podman', 'ps', '-a', '-q', '--filter', `label=${LABELS.podUid}=${pod.uid}`, '--filter', `label=${LABELS.containerRole}=app`]);
    assert.equal(created.trim(), '', 'no app container was created');
    await put([]);
    await gone('nonroot');
  });

  it('runs a hostNetwork pod in the node\'s network namespace: the node address is its pod IP, probes reach it there', async () => {
    const node = nodeOf(handle.lab, 'h1');
    const pod: DesiredPod = {
      uid: 'uid-hostnet-00001', name: 'hostnet', namespace: 'default',
      spec: {
        terminationGracePeriodSeconds: 2, hostNetwork: true,
        containers: [{
          name: 'main', image: 'coxswain/busybox:1', command: ['sh', '-c', 'mkdir -p /www && echo "$MY_IP" > /www/index.html && exec httpd -f -p 18080 -h /www'],
          env: [{ name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
          readinessProbe: { httpGet: { path: '/', port: 18080 }, periodSeconds: 1 },
        }],
      },
    };
    await put([pod]);
    const p = await waitForPod(agent!.client, 'hostnet', 'to be Ready', isReady);
    assert.equal(p.status.podIP, node.address);
    assert.equal(p.status.hostIP, node.address);
    const infra = (await sh(['podman', 'ps', '-q', '--no-trunc', '--filter', `label=${LABELS.podUid}=${pod.uid}`, '--filter', `label=${LABELS.containerRole}=infra`])).trim();
    assert.equal((await sh(['podman', 'inspect', '--format', '{{.HostConfig.NetworkMode}}', infra])).trim(), 'host');
    const app = idOf(p.status.containerStatuses[0].containerID);
    assert.equal(await sh(['podman', 'exec', app, 'cat', '/www/index.html']), `${node.address}\n`, 'status.podIP in env is the node address');
    assert.equal((await sh(['podman', 'exec', app, 'hostname'])).trim(), (await sh(['hostname'])).trim(), 'the node\'s hostname');
    // The node itself reaches the server on its own address: the pod listens in the node's network namespace.
    assert.equal(await sh(['sh', '-c', `timeout 5 busybox wget -q -O - http://${node.address}:18080/`]), `${node.address}\n`);
    await put([]);
    await gone('hostnet');
  });
});
