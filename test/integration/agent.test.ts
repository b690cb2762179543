/**
 * cox-agent against real Podman in lab hosts (lab index 2): pods with probes,
 * crash-loop back-off, graceful stop, adoption across an agent restart,
 * generation fencing, logs, and pod-to-pod traffic between two hosts with
 * source addresses kept.
 */
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { labExec, labSpawn } from '../../engine/lab/index.ts';
import { StaleGeneration } from '../../common/errors.ts';
import { labIndex, useLab } from './lab-fixture.ts';
import type { DesiredPod } from '../../common/agent-api.ts';
import { bridgeMac, gatewayOf, type HostLink } from '../../agent/network/index.ts';
import { busyboxPod, desiredFor, isReady, observedPod, startAgent, waitFor, waitForPod, type RunningAgent } from './agent-harness.ts';

const INDEX = labIndex(2);
const FAST = ['--backoff-initial-ms', '1000', '--backoff-max-ms', '4000', '--poll-ms', '300'];

const web = busyboxPod('web', 'uid-web-00000001', {
  command: ['httpd', '-f', '-p', '8080', '-h', '/etc'],
  ports: [{ name: 'http', containerPort: 8080 }],
  readinessProbe: { httpGet: { path: '/hostname', port: 'http' }, periodSeconds: 1 },
  env: [{ name: 'MY_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
});
const crasher = busyboxPod('crasher', 'uid-crash-0000001', { command: ['sh', '-c', 'echo crashing now; exit 3'] });

describe('cox-agent in a lab host (integration)', function () {
  this.timeout(180_000);
  const handle = useLab({ index: INDEX, nodes: 2, name: 'agent-test' });
  let h1: RunningAgent | undefined;
  let h2: RunningAgent | undefined;

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const [name, a] of [['h1', h1], ['h2', h2]] as const) if (a) process.stderr.write(`--- cox-agent on ${name} (last lines) ---\n${a.output().split('\n').slice(-40).join('\n')}\n`);
  });

  after(async () => {
    await h1?.stop();
    await h2?.stop();
  });

  it('runs a pod whose readiness probe makes it Ready with a pod IP in the node subnet', async () => {
    h1 = await startAgent(handle.lab, 'h1', FAST);
    await h1.client.putDesired(desiredFor(handle.lab, 'h1', 1, [web]));
    const pod = await waitForPod(h1.client, 'web', 'to be Ready', isReady);
    assert.equal(pod.status.phase, 'Running');
    assert.match(pod.status.podIP ?? '', /^100\.64\.1\.\d+$/);
    assert.equal(pod.status.hostIP, handle.lab.nodes[0].address);
    assert.match(pod.status.containerStatuses[0].containerID ?? '', /^podman:\/\/[0-9a-f]{64}$/);
    const got = await labExec(handle.lab, 'h1', ['timeout', '5', 'busybox', 'wget', '-qO-', `http://${pod.status.podIP}:8080/hostname`]);
    assert.equal(got.stdout.trim(), 'web', got.stderr);
    const env = await labExec(handle.lab, 'h1', ['podman', 'exec', pod.status.containerStatuses[0].containerID!.slice('podman://'.length), 'sh', '-c', 'echo $MY_POD_IP']);
    assert.equal(env.stdout.trim(), pod.status.podIP);
  });

  it('refuses a stale generation with StaleGeneration and keeps the accepted state', async () => {
    const before = (await observedPod(h1!.client, 'web'))!.status.containerStatuses[0].containerID;
    await assert.rejects(h1!.client.putDesired(desiredFor(handle.lab, 'h1', 0, [])), (err: unknown) => err instanceof StaleGeneration && err.data.accepted === 1);
    assert.equal((await h1!.client.getDesired())?.generation, 1);
    // Ready at once, not after a flap: Ready is reported only once a probe passed, never before the first probe ran.
    const after = (await observedPod(h1!.client, 'web'))!;
    assert.ok(isReady(after), JSON.stringify(after.status.conditions));
    assert.equal(after.status.containerStatuses[0].containerID, before, 'the refused PUT left the pod running as it was');
  });

  it('crash-loops a failing container with a growing back-off and a rising restartCount', async () => {
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 2, [web, crasher]));
    const seen: { restartCount: number; at: number }[] = [];
    const backoffReasons = new Set<string>();
    await waitFor('crasher to restart 4 times', async () => {
      const p = await observedPod(h1!.client, 'crasher');
      const c = p?.status.containerStatuses[0];
      if (c?.state.waiting?.reason) backoffReasons.add(c.state.waiting.reason);
      if (c && (seen.length === 0 || seen[seen.length - 1].restartCount !== c.restartCount)) seen.push({ restartCount: c.restartCount, at: Date.now() });
      return c && c.restartCount >= 4 ? c : undefined;
    }, 60_000, 100);
    assert.ok(backoffReasons.has('CrashLoopBackOff'), `waiting reasons seen: ${[...backoffReasons].join(', ')}`);
    const p = (await observedPod(h1!.client, 'crasher'))!;
    const c = p.status.containerStatuses[0];
    const last = c.lastState?.terminated ?? c.state.terminated;
    assert.equal(last?.exitCode, 3);
    assert.equal(last?.reason, 'Error');
    assert.equal(c.ready, false);
    // Back-off 1 s doubling to 4 s: the gap before the 4th restart is longer than before the 2nd.
    const gap = (n: number) => seen.find((s) => s.restartCount === n)!.at - seen.find((s) => s.restartCount === n - 1)!.at;
    assert.ok(gap(4) >= 3000, `gap before restart 4 was ${gap(4)} ms (restarts: ${JSON.stringify(seen)})`);
    assert.ok(gap(4) > gap(2), `gaps ${gap(2)} then ${gap(4)} ms`);
    const logs = await text(await h1!.client.logs('default', 'crasher', { tail: 1, previous: true }));
    assert.equal(logs, 'crashing now\n');
  });

  it('keeps container IDs unchanged when the agent restarts, and leaves unlabelled containers alone', async () => {
    const stranger = await labExec(handle.lab, 'h1', ['podman', 'run', '-d', '--name', 'stranger', 'coxswain/busybox:1', 'sleep', '600']);
    assert.equal(stranger.code, 0, stranger.stderr);
    const before = (await observedPod(h1!.client, 'web'))!;
    await h1!.stop();
    h1 = await startAgent(handle.lab, 'h1', FAST);
    const after = await waitForPod(h1.client, 'web', 'to be Ready after the agent restarted', isReady);
    assert.equal(after.status.containerStatuses[0].containerID, before.status.containerStatuses[0].containerID);
    assert.equal(after.status.containerStatuses[0].restartCount, before.status.containerStatuses[0].restartCount);
    assert.equal(after.status.podIP, before.status.podIP);
    const ps = await labExec(handle.lab, 'h1', ['podman', 'inspect', '--format', '{{.State.Running}}', 'stranger']);
    assert.equal(ps.stdout.trim(), 'true');
  });

  it('stops a pod that left the desired state within its grace period, and removes its containers', async () => {
    const stubborn = busyboxPod('stubborn', 'uid-stubborn-0001', { command: ['sh', '-c', "trap '' TERM; while true; do sleep 0.2; done"] }, { terminationGracePeriodSeconds: 2 });
    const polite = busyboxPod('polite', 'uid-polite-000001', { command: ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 0.2; done"] }, { terminationGracePeriodSeconds: 20 });
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 3, [web, stubborn, polite]));
    const doomed = await waitForPod(h1!.client, 'stubborn', 'to be Ready', isReady);
    await waitForPod(h1!.client, 'polite', 'to be Ready', isReady);
    const started = Date.now();
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 4, [web]));
    // The sandbox holds the pod's address through the grace period: while stubborn's container runs, its IP answers.
    const appId = doomed.status.containerStatuses[0].containerID!.slice('podman://'.length);
    const cutOff = (async () => {
      const silent: number[] = [];
      for (;;) {
        const ping = await labExec(handle.lab, 'h1', ['busybox', 'ping', '-c1', '-W1', doomed.status.podIP!]);
        // Podman says "stopping" (not running) during the grace period.
        const state = (await labExec(handle.lab, 'h1', ['podman', 'inspect', '--format', '{{.State.Status}}', appId])).stdout.trim();
        if (state !== 'running' && state !== 'stopping') return silent;
        if (ping.code !== 0) silent.push(Date.now() - started);
      }
    })();
    const goneAt: Record<string, number> = {};
    await waitFor('both pods to be gone', async () => {
      const pods = (await h1!.client.observed()).state.pods.map((p) => p.name);
      for (const n of ['stubborn', 'polite']) if (!pods.includes(n)) goneAt[n] ??= Date.now() - started;
      return Object.keys(goneAt).length === 2 ? true : undefined;
    }, 30_000);
    assert.ok(goneAt.polite < 8000, `polite pod took ${goneAt.polite} ms`);
    assert.ok(goneAt.stubborn >= 2000 && goneAt.stubborn < 12000, `stubborn pod took ${goneAt.stubborn} ms (grace 2 s)`);
    assert.deepEqual(await cutOff, [], 'ms after the PUT at which stubborn did not answer a ping while its container still ran');
    const left = await labExec(handle.lab, 'h1', ['podman', 'ps', '-a', '--filter', 'label=io.coxswain.pod.name=stubborn', '--filter', 'label=io.coxswain.pod.name=polite', '-q']);
    assert.equal(left.stdout.trim(), '');
  });

  it('lets pods on two hosts reach each other by pod IP with the source address kept, and masquerades egress', async () => {
    h2 = await startAgent(handle.lab, 'h2', FAST);
    // The tcpSocket probe connects and closes at once, as kubelet's does: the answer then meets a reset, which must
    // not kill the server (unhandled, it crash-looped echo, and a client saw "connection refused" from a Ready pod).
    const echo: DesiredPod = { uid: 'uid-echo-00000001', name: 'echo', namespace: 'default', spec: { containers: [{ name: 'echo', image: 'coxswain/node:20', command: ['node', '-e', "require('net').createServer((s) => { s.on('error', () => {}); s.end(s.remoteAddress.replace('::ffff:', '') + '\\n'); }).listen(9000)"], readinessProbe: { tcpSocket: { port: 9000 }, periodSeconds: 1 } }] } };
    await h2.client.putDesired(desiredFor(handle.lab, 'h2', 1, [echo]));
    const target = await waitForPod(h2.client, 'echo', 'to be Ready', isReady);
    assert.match(target.status.podIP ?? '', /^100\.64\.2\.\d+$/);
    const source = (await observedPod(h1!.client, 'web'))!;
    const id = source.status.containerStatuses[0].containerID!.slice('podman://'.length);
    // One attempt: the agent installs its routes before it starts pods, and echo survives its probes.
    const answer = await labExec(handle.lab, 'h1', ['podman', 'exec', id, 'sh', '-c', `nc -w 3 ${target.status.podIP} 9000 </dev/null`], { timeoutMs: 10_000 });
    assert.equal(answer.stdout.trim(), source.status.podIP, `pod-to-pod answer: ${answer.stdout} ${answer.stderr}`);
    // Traffic from a pod to an address outside the cluster CIDR leaves with the node's address.
    const [h1Address, h2Address] = handle.lab.nodes.map((n) => n.address);
    const listener = labSpawn(handle.lab, 'h2', ['node', '-e', `require('net').createServer((s) => s.end(s.remoteAddress.replace('::ffff:', '') + '\\n')).listen(9100, '${h2Address}')`]);
    try {
      const out = await waitFor('the host listener on h2 to answer a pod on h1', async () => {
        const r = await labExec(handle.lab, 'h1', ['podman', 'exec', id, 'sh', '-c', `nc -w 2 ${h2Address} 9100 </dev/null`], { timeoutMs: 10_000 });
        return r.stdout.trim() || undefined;
      }, 20_000, 300);
      assert.equal(out, h1Address);
    } finally {
      listener.kill('SIGTERM');
    }
    const routes = await labExec(handle.lab, 'h1', ['ip', 'route', 'show', 'proto', '147']);
    assert.ok(routes.stdout.includes(`100.64.2.0/24 via ${h2Address} `), routes.stdout);
    // Fifty clients that close at once, as probes do, then one that reads: the same echo container answers.
    const abrupt = `const net = require('net'); let n = 0; const next = () => { const c = net.connect(9000, '${target.status.podIP}'); c.on('error', () => {}); c.once('connect', () => { c.destroy(); if (++n < 50) setTimeout(next, 20); }); }; next();`;
    assert.equal((await labExec(handle.lab, 'h2', ['node', '-e', abrupt], { timeoutMs: 20_000 })).code, 0);
    const again = await labExec(handle.lab, 'h1', ['podman', 'exec', id, 'sh', '-c', `nc -w 3 ${target.status.podIP} 9000 </dev/null`], { timeoutMs: 10_000 });
    assert.equal(again.stdout.trim(), source.status.podIP, `echo after clients that closed at once: ${again.stderr}`);
    assert.equal((await observedPod(h2.client, 'echo'))?.status.containerStatuses[0].restartCount, 0, 'echo served its probes and clients without restarting');
  });

  it('runs init containers in order, then the app with configMap, secret (0400) and emptyDir volumes, env refs and cgroup limits', async () => {
    const pod: DesiredPod = {
      uid: 'uid-config-000001', name: 'configured', namespace: 'default',
      configMaps: { site: { 'greeting.txt': 'hello from a configmap' } },
      secrets: { creds: { password: 's3cret' } },
      spec: {
        volumes: [{ name: 'work', emptyDir: {} }, { name: 'site', configMap: { name: 'site' } }, { name: 'creds', secret: { secretName: 'creds' } }],
        initContainers: [
          { name: 'first', image: 'coxswain/busybox:1', command: ['sh', '-c', 'echo first >> /work/order'], volumeMounts: [{ name: 'work', mountPath: '/work' }] },
          { name: 'second', image: 'coxswain/busybox:1', command: ['sh', '-c', 'echo second >> /work/order'], volumeMounts: [{ name: 'work', mountPath: '/work' }] },
        ],
        containers: [{
          name: 'main', image: 'coxswain/busybox:1', command: ['sleep', '3600'],
          env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          resources: { limits: { memory: '64Mi', cpu: '500m' } },
          volumeMounts: [{ name: 'work', mountPath: '/work' }, { name: 'site', mountPath: '/etc/site', readOnly: true }, { name: 'creds', mountPath: '/run/creds' }],
        }],
      },
    };
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 5, [web, pod]));
    const p = await waitForPod(h1!.client, 'configured', 'to be Ready', isReady);
    assert.deepEqual(p.status.initContainerStatuses?.map((c) => c.state.terminated?.reason), ['Completed', 'Completed']);
    const id = p.status.containerStatuses[0].containerID!.slice('podman://'.length);
    const inside = await labExec(handle.lab, 'h1', ['podman', 'exec', id, 'sh', '-c', 'cat /work/order; cat /etc/site/greeting.txt; echo; stat -c %a /run/creds/password; cat /run/creds/password; echo; echo $PASSWORD $POD_NAME; hostname']);
    assert.equal(inside.stdout, 'first\nsecond\nhello from a configmap\n400\ns3cret\ns3cret configured\nconfigured\n', inside.stderr);
    const limits = await labExec(handle.lab, 'h1', ['podman', 'inspect', '--format', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', id]);
    assert.equal(limits.stdout.trim(), `${64 * 2 ** 20} 500000000`);
    const mounts = await labExec(handle.lab, 'h1', ['sh', '-c', `grep ' /var/lib/coxswain/pods/${pod.uid}/tmpfs ' /proc/mounts | cut -d' ' -f3`]);
    assert.equal(mounts.stdout.trim(), 'tmpfs', 'secrets live on a tmpfs of the pod');
  });

  it('reports an image that cannot be pulled as ErrImagePull or ImagePullBackOff with the runtime message', async () => {
    const missing = busyboxPod('missing', 'uid-missing-00001', { image: 'coxswain/not-here:1' });
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 6, [web, missing]));
    const p = await waitForPod(h1!.client, 'missing', 'to wait on its image', (x) => ['ErrImagePull', 'ImagePullBackOff'].includes(x.status.containerStatuses[0].state.waiting?.reason ?? ''));
    assert.match(p.status.containerStatuses[0].state.waiting?.message ?? '', /coxswain\/not-here/);
    assert.equal(p.status.phase, 'Pending');
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 7, [web]));
  });

  it('restarts a container whose liveness probe fails, and follows a container log as it grows', async () => {
    const sick = busyboxPod('sick', 'uid-sick-00000001', {
      command: ['sh', '-c', 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600'],
      livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 },
    }, { terminationGracePeriodSeconds: 1 });
    const ticker = busyboxPod('ticker', 'uid-ticker-000001', { command: ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done'] });
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 8, [web, sick, ticker]));
    const restarted = await waitForPod(h1!.client, 'sick', 'to be restarted by its liveness probe', (p) => p.status.containerStatuses[0].restartCount >= 1, 60_000);
    const c = restarted.status.containerStatuses[0];
    assert.ok(c.lastState?.terminated, JSON.stringify(c));
    await waitForPod(h1!.client, 'ticker', 'to be Ready', isReady);
    const abort = new AbortController();
    const stream = await h1!.client.logs('default', 'ticker', { follow: true, tail: 1, signal: abort.signal });
    const lines: string[] = [];
    await waitFor('three new ticks on the followed log', async () => {
      const chunk = stream.read() as Buffer | null;
      if (chunk) lines.push(...chunk.toString().split('\n').filter(Boolean));
      return lines.length >= 4 ? lines : undefined;
    }, 15_000, 100);
    abort.abort();
    stream.destroy();
    const numbers = lines.map((l) => Number(/^tick (\d+)$/.exec(l)?.[1]));
    assert.ok(numbers.every((n, i) => i === 0 || n === numbers[i - 1] + 1), `lines: ${lines.join(' | ')}`);
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 9, [web]));
  });

  it('keeps the pod bridge on its own MAC address while sandboxes come and go, so the pods that stay answer their host at once', async () => {
    // A Linux bridge left alone takes the lowest MAC of its ports: removing the sandbox that owned it changed the
    // gateway's address under the running pods, whose replies then went to the old one for tens of seconds.
    const gateway = gatewayOf(handle.lab.nodes[0].podCIDR);
    const bridge = async () => {
      const links = JSON.parse((await labExec(handle.lab, 'h1', ['ip', '-j', '-d', '-4', 'addr', 'show'])).stdout) as HostLink[];
      return links.find((l) => l.linkinfo?.info_kind === 'bridge' && l.addr_info?.some((a) => a.local === gateway));
    };
    const others = [1, 2, 3].map((i) => busyboxPod(`churn-${i}`, `uid-churn-000000${i}`, { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'] }, { terminationGracePeriodSeconds: 1 }));
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 10, [web, ...others]));
    for (const p of others) await waitForPod(h1!.client, p.name, 'to be Ready', isReady);
    assert.equal((await bridge())?.address, bridgeMac(gateway), 'the bridge has its pinned address with four sandboxes on it');
    await h1!.client.putDesired(desiredFor(handle.lab, 'h1', 11, [web]));
    await waitFor('the other pods to be gone', async () => (await h1!.client.observed()).state.pods.every((p) => p.name === 'web') || undefined, 30_000, 200);
    assert.equal((await bridge())?.address, bridgeMac(gateway), 'the bridge kept its address when the other sandboxes left');
    const pod = (await observedPod(h1!.client, 'web'))!;
    const got = await labExec(handle.lab, 'h1', ['timeout', '3', 'busybox', 'wget', '-qO-', `http://${pod.status.podIP}:8080/hostname`]);
    assert.equal(got.stdout.trim(), 'web', `the web pod answered its host at once after the others left (exit ${got.code}) ${got.stderr}`);
  });

  it('programs a Service VIP through the proxier and reports the proxy table in observed state', async () => {
    // The long-lived web pod, after the agent restart and the pods that came and went before.
    const pod = await waitForPod(h1!.client, 'web', 'to be Ready', isReady);
    const state = desiredFor(handle.lab, 'h1', 12, [web]);
    state.services = [{ namespace: 'default', name: 'web', type: 'ClusterIP', clusterIP: '100.127.0.10', ports: [{ name: 'http', protocol: 'TCP', port: 80, endpoints: [{ ip: pod.status.podIP!, port: 8080, nodeName: 'h1' }] }] }];
    await h1!.client.putDesired(state);
    const table = await waitFor('the proxy table with the web service', async () => {
      const t = (await h1!.client.observed()).state.proxy;
      return t.services.some((s) => s.vip === '100.127.0.10') ? t : undefined;
    }, 30_000, 200);
    assert.deepEqual(table.services.find((s) => s.vip === '100.127.0.10')?.backends, [`${pod.status.podIP}:8080`]);
    const got = await waitFor('the VIP to answer from the host', async () => {
      const r = await labExec(handle.lab, 'h1', ['timeout', '3', 'busybox', 'wget', '-qO-', 'http://100.127.0.10/hostname']);
      return r.stdout.trim() || undefined;
    }, 20_000, 500);
    assert.equal(got, 'web');
  });

  it('tears a pod with a long grace period down in the background: a pod added meanwhile gets Ready and its endpoint programmed at once', async () => {
    const grace = 25;
    const lingering = busyboxPod('lingering', 'uid-linger-000001', { command: ['sh', '-c', "trap '' TERM; while true; do sleep 0.2; done"] }, { terminationGracePeriodSeconds: grace });
    const fresh = busyboxPod('fresh', 'uid-fresh-0000001', {
      command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], ports: [{ name: 'http', containerPort: 8080 }],
      readinessProbe: { httpGet: { path: '/hostname', port: 'http' }, periodSeconds: 1 },
    });
    const webPod = await waitForPod(h1!.client, 'web', 'to be Ready', isReady);
    const services = (freshIP?: string) => [
      { namespace: 'default', name: 'web', type: 'ClusterIP' as const, clusterIP: '100.127.0.10', ports: [{ name: 'http', protocol: 'TCP' as const, port: 80, endpoints: [{ ip: webPod.status.podIP!, port: 8080, nodeName: 'h1' }] }] },
      { namespace: 'default', name: 'fresh', type: 'ClusterIP' as const, clusterIP: '100.127.0.11', ports: [{ name: 'http', protocol: 'TCP' as const, port: 80, endpoints: freshIP ? [{ ip: freshIP, port: 8080, nodeName: 'h1' }] : [] }] },
    ];
    const put = (generation: number, pods: DesiredPod[], freshIP?: string) => h1!.client.putDesired({ ...desiredFor(handle.lab, 'h1', generation, pods), services: services(freshIP) });
    await put(13, [web, lingering]);
    const doomed = await waitForPod(h1!.client, 'lingering', 'to be Ready', isReady);
    const appId = doomed.status.containerStatuses[0].containerID!.slice('podman://'.length);
    const stillStopping = async () => ['running', 'stopping'].includes((await labExec(handle.lab, 'h1', ['podman', 'inspect', '--format', '{{.State.Status}}', appId])).stdout.trim());

    // The same PUT removes the pod with the long grace period and adds a new one.
    const started = Date.now();
    await put(14, [web, fresh]);
    await waitFor('generation 14 to be converged', async () => ((await h1!.client.observed()).state.generation >= 14 ? true : undefined), 10_000, 100);
    const convergedMs = Date.now() - started;
    const ready = await waitForPod(h1!.client, 'fresh', 'to be Ready', isReady, 15_000);
    const readyMs = Date.now() - started;
    // The engine's next PUT carries the new pod's endpoint: the proxy programs it while the old pod still stops.
    await put(15, [web, fresh], ready.status.podIP);
    const table = await waitFor('the proxy table with the fresh endpoint', async () => {
      const t = (await h1!.client.observed()).state.proxy;
      const s = t.services.find((x) => x.vip === '100.127.0.11');
      return s && s.backends.length > 0 ? s : undefined;
    }, 10_000, 100);
    const programmedMs = Date.now() - started;
    assert.deepEqual(table.backends, [`${ready.status.podIP}:8080`]);
    const got = await waitFor('the fresh VIP to answer from the host', async () => {
      const r = await labExec(handle.lab, 'h1', ['timeout', '3', 'busybox', 'wget', '-qO-', 'http://100.127.0.11/hostname']);
      return r.stdout.trim() || undefined;
    }, 10_000, 200);
    assert.equal(got, 'fresh');
    assert.ok(await stillStopping(), `the lingering container stopped already (${Date.now() - started} ms): the test proves nothing`);
    assert.ok((await observedPod(h1!.client, 'lingering')) !== undefined, 'the pod being torn down is still in observed state while its container runs');
    assert.ok(programmedMs < grace * 1000 / 2, `converged after ${convergedMs} ms, Ready after ${readyMs} ms, endpoint programmed after ${programmedMs} ms (grace ${grace} s)`);
    process.stderr.write(`      background teardown: generation 14 converged after ${convergedMs} ms, fresh Ready after ${readyMs} ms, its endpoint programmed after ${programmedMs} ms (grace ${grace} s)\n`);

    // The teardown finishes on its own once the grace period is over, and the pod leaves observed state then.
    const goneMs = await waitFor('the lingering pod to be gone', async () => ((await observedPod(h1!.client, 'lingering')) ? undefined : Date.now() - started), (grace + 20) * 1000, 200);
    assert.ok(goneMs >= (grace - 1) * 1000, `lingering left observed state after ${goneMs} ms, before its grace period of ${grace} s ended`);
    const left = await labExec(handle.lab, 'h1', ['podman', 'ps', '-a', '--filter', 'label=io.coxswain.pod.name=lingering', '-q']);
    assert.equal(left.stdout.trim(), '');
  });

  it('serves Prometheus metrics with container usage and node conditions', async () => {
    await waitFor('container usage in metrics', async () => {
      const m = await h1!.client.metrics();
      return /container_memory_working_set_bytes\{namespace="default",pod="web",container="main"\} [1-9]/.test(m) ? m : undefined;
    }, 40_000, 1000);
    const m = await h1!.client.metrics();
    assert.match(m, /kube_node_status_condition\{condition="Ready",status="true"\} 1/);
    assert.match(m, /kube_pod_container_status_restarts_total\{namespace="default",pod="web",container="main"\} 0/);
  });
});
