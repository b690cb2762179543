import assert from 'node:assert/strict';
import { containerBody, infraBody, specHash } from './container-spec.ts';
import { expand, resolveEnv, EnvError } from './env.ts';
import { planVolumes, bindsFor } from './volumes.ts';
import { podWith } from './testing.ts';
import { LABELS, type DesiredPod } from '../../common/agent-api.ts';

describe('container create bodies', () => {
  const pod = podWith({
    terminationGracePeriodSeconds: 5,
    volumes: [{ name: 'cache', emptyDir: {} }, { name: 'conf', configMap: { name: 'web-conf' } }, { name: 'creds', secret: { secretName: 'web-creds' } }, { name: 'logs', hostPath: { path: '/var/log/web' } }],
    containers: [{
      name: 'app', image: 'coxswain/busybox:1', command: ['httpd'], args: ['-f', '-p', '$(PORT)'],
      env: [{ name: 'PORT', value: '8080' }, { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }, { name: 'PASS', valueFrom: { secretKeyRef: { name: 'web-creds', key: 'password' } } }],
      resources: { limits: { memory: '64Mi', cpu: '500m' }, requests: { cpu: '250m' } },
      volumeMounts: [{ name: 'cache', mountPath: '/cache' }, { name: 'conf', mountPath: '/etc/web', readOnly: true }, { name: 'creds', mountPath: '/run/creds' }, { name: 'logs', mountPath: '/logs' }],
    }],
  }, { configMaps: { 'web-conf': { 'site.conf': 'x=1' } }, secrets: { 'web-creds': { password: 's3cret' } }, serviceEnv: { WEB_SERVICE_HOST: '100.127.0.10', PORT: '1' } });

  it('gives the sandbox the pause image, the pod network and the pod labels', () => {
    const b = infraBody(pod, 'coxswain');
    assert.equal(b.Image, 'coxswain/pause:1');
    assert.equal(b.HostConfig.NetworkMode, 'coxswain');
    assert.equal(b.NetworkingConfig, undefined);
    assert.equal(b.Labels?.[LABELS.containerRole], 'infra');
    assert.equal(b.Labels?.[LABELS.podUid], pod.uid);
  });

  it('joins the sandbox network namespace with an init process and cgroup limits', () => {
    const b = containerBody(pod, pod.spec.containers[0], 'app', 2, 'infra123', planVolumes(pod, '/var/lib/coxswain'), { podIP: '100.64.1.9' });
    assert.equal(b.HostConfig.NetworkMode, 'container:infra123');
    assert.equal(b.HostConfig.Init, true);
    assert.equal(b.HostConfig.Memory, 64 * 2 ** 20);
    assert.equal(b.HostConfig.NanoCpus, 500_000_000);
    assert.equal(b.HostConfig.CpuShares, 256);
    assert.equal(b.Labels?.['io.coxswain.container.restart-count'], '2');
    assert.equal(b.Labels?.[LABELS.specHash], specHash(pod.spec.containers[0]));
  });

  it('maps command to Entrypoint and args to Cmd, expanding $(VAR)', () => {
    const b = containerBody(pod, pod.spec.containers[0], 'app', 0, 'i', planVolumes(pod, '/s'), {});
    assert.deepEqual(b.Entrypoint, ['httpd']);
    assert.deepEqual(b.Cmd, ['-f', '-p', '8080']);
  });

  it('builds env from service variables, then env with field and secret references, later winning', () => {
    const b = containerBody(pod, pod.spec.containers[0], 'app', 0, 'i', planVolumes(pod, '/s'), { podIP: '100.64.1.9' });
    assert.deepEqual(b.Env, ['WEB_SERVICE_HOST=100.127.0.10', 'PORT=8080', 'POD=web', 'IP=100.64.1.9', 'PASS=s3cret']);
  });

  it('binds emptyDir, configMap, secret and hostPath volumes at their mount paths', () => {
    const b = containerBody(pod, pod.spec.containers[0], 'app', 0, 'i', planVolumes(pod, '/s'), {});
    const dir = `/s/pods/${pod.uid}`;
    assert.deepEqual(b.HostConfig.Binds, [`${dir}/volumes/empty-dir/cache:/cache`, `${dir}/tmpfs/conf:/etc/web:ro`, `${dir}/tmpfs/creds:/run/creds`, '/var/log/web:/logs']);
  });

  it('writes configMap files 0644 and secret files 0400 on the pod tmpfs', () => {
    const plan = planVolumes(pod, '/s');
    assert.equal(plan.tmpfs, `/s/pods/${pod.uid}/tmpfs`);
    assert.deepEqual(plan.files.map((f) => `${f.path.replace(plan.podDir, '')} ${f.mode.toString(8)} ${f.content}`), ['/tmpfs/conf/site.conf 644 x=1', '/tmpfs/creds/password 400 s3cret']);
  });

  it('refuses a volume whose secret is missing, naming the secret and the volume', () => {
    const plan = planVolumes({ ...pod, secrets: {} }, '/s');
    assert.equal(plan.error, 'secret "web-creds" not found (volume creds)');
  });

  it('refuses an env reference to a missing configmap key, naming the variable', () => {
    const p = podWith({ containers: [{ name: 'app', image: 'x', env: [{ name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'mode' } } }] }] });
    assert.throws(() => resolveEnv(p, p.spec.containers[0], {}), (e: unknown) => e instanceof EnvError && /env MODE: key "mode" of configmap "cfg" not found/.test(e.message));
  });

  it('expands known $(VAR) references, keeps unknown ones and unescapes $$', () => {
    assert.equal(expand('$(A)-$(B)-$$(A)', { A: '1' }), '1-$(B)-$(A)');
  });

  describe('emptyDir with medium Memory: a tmpfs sized as Kubernetes sizes it', () => {
    const withMemoryDir = (emptyDir: { medium: 'Memory'; sizeLimit?: string }, limits: (string | undefined)[], initLimit?: string) => podWith({
      volumes: [{ name: 'scratch', emptyDir }, { name: 'disk', emptyDir: {} }],
      ...(initLimit ? { initContainers: [{ name: 'setup', image: 'x', resources: { limits: { memory: initLimit } } }] } : {}),
      containers: limits.map((memory, i) => ({ name: `c${i}`, image: 'x', ...(memory ? { resources: { limits: { memory } } } : {}) })) as DesiredPod['spec']['containers'],
    });
    const cases: { name: string; pod: ReturnType<typeof podWith>; sizeBytes: number | undefined }[] = [
      { name: 'sizeLimit alone sets the size', pod: withMemoryDir({ medium: 'Memory', sizeLimit: '8Mi' }, [undefined]), sizeBytes: 8 * 2 ** 20 },
      { name: 'the pod memory limit caps a larger sizeLimit', pod: withMemoryDir({ medium: 'Memory', sizeLimit: '1Gi' }, ['64Mi', '32Mi']), sizeBytes: 96 * 2 ** 20 },
      { name: 'a sizeLimit under the pod memory limit is kept', pod: withMemoryDir({ medium: 'Memory', sizeLimit: '16Mi' }, ['64Mi']), sizeBytes: 16 * 2 ** 20 },
      { name: 'without sizeLimit the pod memory limit sets the size', pod: withMemoryDir({ medium: 'Memory' }, ['64Mi']), sizeBytes: 64 * 2 ** 20 },
      { name: 'a larger init container limit is the pod limit', pod: withMemoryDir({ medium: 'Memory' }, ['64Mi'], '128Mi'), sizeBytes: 128 * 2 ** 20 },
      { name: 'a container without a memory limit leaves the pod unlimited: the kernel default', pod: withMemoryDir({ medium: 'Memory' }, ['64Mi', undefined]), sizeBytes: undefined },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const plan = planVolumes(c.pod, '/s');
        const dir = `/s/pods/${c.pod.uid}/volumes/empty-dir`;
        assert.deepEqual(plan.memoryDirs, [{ path: `${dir}/scratch`, ...(c.sizeBytes !== undefined ? { sizeBytes: c.sizeBytes } : {}) }]);
        assert.deepEqual(plan.dirs, [`${dir}/scratch`, `${dir}/disk`]);
        assert.equal(plan.tmpfs, undefined, 'no configMap or secret volume: no pod tmpfs');
      });
    }
  });

  it('maps a subPath mount onto a file inside the volume', () => {
    assert.deepEqual(bindsFor({ name: 'c', image: 'x', volumeMounts: [{ name: 'conf', mountPath: '/etc/site.conf', subPath: 'site.conf' }] }, planVolumes(pod, '/s')), [`/s/pods/${pod.uid}/tmpfs/conf/site.conf:/etc/site.conf`]);
  });
});

describe('security context and hostNetwork in create bodies', () => {
  const labels = (pod: DesiredPod, container: string, role: 'infra' | 'app', attempt = 0) => ({
    [LABELS.managed]: 'true', [LABELS.podName]: pod.name, [LABELS.podNamespace]: pod.namespace, [LABELS.podUid]: pod.uid,
    [LABELS.containerName]: container, [LABELS.containerRole]: role, 'io.coxswain.pod.termination-grace-period': '30',
    ...(role === 'app' ? { [LABELS.specHash]: specHash(pod.spec.containers[0]) } : {}),
    'io.coxswain.container.restart-count': String(attempt),
  });

  it('runs as the container\'s user and group over the pod\'s, with the supplemental groups, a read-only root, no new privileges and the capabilities asked for', () => {
    const pod = podWith({
      securityContext: { runAsUser: 2000, runAsGroup: 2000, runAsNonRoot: true, supplementalGroups: [3000, 3001] },
      containers: [{ name: 'app', image: 'coxswain/busybox:1', command: ['sleep', '60'], securityContext: { runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] } } }],
    });
    assert.deepEqual(containerBody(pod, pod.spec.containers[0], 'app', 0, 'infra1', planVolumes(pod, '/s'), {}), {
      Image: 'coxswain/busybox:1',
      User: '1000:1000',
      Env: [],
      Labels: labels(pod, 'app', 'app'),
      Tty: false,
      Entrypoint: ['sleep', '60'],
      Cmd: [],
      HostConfig: {
        NetworkMode: 'container:infra1', Init: true, Binds: [],
        GroupAdd: ['3000', '3001'], ReadonlyRootfs: true, SecurityOpt: ['no-new-privileges'], CapAdd: ['NET_BIND_SERVICE'], CapDrop: ['ALL'],
      },
    });
  });

  const userCases: { name: string; pod?: { runAsUser?: number; runAsGroup?: number }; container?: { runAsUser?: number; runAsGroup?: number }; image?: string; user: string | undefined }[] = [
    { name: 'no user anywhere: the image\'s default user', user: undefined },
    { name: 'the pod\'s runAsUser alone', pod: { runAsUser: 1000 }, user: '1000' },
    { name: 'the pod\'s user and group', pod: { runAsUser: 1000, runAsGroup: 1001 }, user: '1000:1001' },
    { name: 'the container\'s runAsUser with the pod\'s runAsGroup', pod: { runAsUser: 5, runAsGroup: 6 }, container: { runAsUser: 7 }, user: '7:6' },
    { name: 'runAsGroup without runAsUser: the group for the image\'s user', container: { runAsGroup: 50 }, image: 'www:www', user: 'www:50' },
    { name: 'runAsGroup without runAsUser on an image running as root', container: { runAsGroup: 50 }, image: '', user: '0:50' },
  ];
  for (const c of userCases) {
    it(`sets User for ${c.name}`, () => {
      const pod = podWith({ ...(c.pod ? { securityContext: c.pod } : {}), containers: [{ name: 'app', image: 'x', ...(c.container ? { securityContext: c.container } : {}) }] });
      assert.equal(containerBody(pod, pod.spec.containers[0], 'app', 0, 'i', planVolumes(pod, '/s'), { imageUser: c.image }).User, c.user);
    });
  }

  it('keeps privileged and adds nothing else for a bare privileged container', () => {
    const pod = podWith({ containers: [{ name: 'app', image: 'x', securityContext: { privileged: true } }] });
    assert.deepEqual(containerBody(pod, pod.spec.containers[0], 'app', 0, 'i', planVolumes(pod, '/s'), {}).HostConfig, { NetworkMode: 'container:i', Init: true, Binds: [], Privileged: true });
  });

  it('puts a hostNetwork sandbox in the node\'s network and UTS namespaces, with no pod network and no hostname of its own', () => {
    const pod = podWith({ hostNetwork: true });
    assert.deepEqual(infraBody(pod, 'coxswain'), {
      Image: 'coxswain/pause:1', Cmd: ['/pause', '-P'], Labels: labels(pod, 'infra', 'infra'),
      HostConfig: { NetworkMode: 'host', UTSMode: 'host', Init: false },
    });
  });

  it('joins a hostNetwork pod\'s containers to its sandbox in the node\'s UTS namespace, without the pod hostname, status.podIP the node address', () => {
    const pod = podWith({ hostNetwork: true, containers: [{ name: 'app', image: 'x', env: [{ name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] }] });
    assert.deepEqual(containerBody(pod, pod.spec.containers[0], 'app', 0, 'infra1', planVolumes(pod, '/s'), { podIP: '198.18.0.11', shareHostname: true }), {
      Image: 'x', Env: ['IP=198.18.0.11'], Labels: labels(pod, 'app', 'app'), Tty: false,
      HostConfig: { NetworkMode: 'container:infra1', Init: true, Binds: [], UTSMode: 'host' },
    });
  });
});
