/**
 * The product end to end, in a real lab (index 5, 3 hosts): a real cluster
 * repository the test commits to, the engine as a real process driving real
 * agents over real SSH, pods in Podman, VIPs in nftables. Every check looks
 * at the hosts themselves (Podman's containers, a request through the VIP
 * from inside a host) or at the status branch, and waits with a deadline.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { labExec } from '../../engine/lab/index.ts';
import { git } from '../../engine/cli/gitcli.ts';
import { labIndex, useLab } from './lab-fixture.ts';
import { ClusterRepo, PROJECT_ROOT, getThroughVip, isReady, livePods, managedContainers, startEngine, waitFor, type EngineProcess } from './e2e-harness.ts';
import { webApp } from './e2e-harness.ts';

// 5 is this suite's lab index; COX_E2E_LAB_INDEX moves it when another run holds 5.
const INDEX = labIndex(Number(process.env.COX_E2E_LAB_INDEX ?? 5));
const VIP = '100.127.0.50';

describe(`end to end in the lab (index ${INDEX})`, function () {
  this.timeout(240_000);
  const handle = useLab({ index: INDEX, nodes: 3, name: 'e2e' });
  let repo: ClusterRepo;
  let engine: EngineProcess | undefined;
  let logFile: string;

  const nodes = () => handle.lab.nodes.map((n) => n.name);
  const start = () => (engine = startEngine({ repo: repo.dir, sshKey: handle.lab.clientKeyPath, logFile }));
  const diagnostics = () => (engine ? `\n--- engine log (tail) ---\n${engine.log().split('\n').slice(-40).join('\n')}` : '');

  async function readyWebPods(count: number, version?: string, timeoutMs = 90_000) {
    return waitFor(`${count} ready web pods${version ? ` of ${version}` : ''} and nothing else of web`, async () => {
      const observed = await repo.status();
      const pods = livePods(observed, 'web-');
      const all = [...observed.pods.values()].filter((p) => p.metadata.name.startsWith('web-'));
      if (pods.length !== count || all.length !== count || !pods.every(isReady)) return false;
      if (version && !pods.every((p) => JSON.stringify(p.spec).includes(`"${version}"`))) return false;
      return pods;
    }, timeoutMs);
  }

  async function vipAnswersEverywhere(version?: string) {
    for (const node of nodes()) {
      await waitFor(`the VIP to answer from ${node}${version ? ` with ${version}` : ''}`, async () => {
        const body = await getThroughVip(handle.lab, node, VIP);
        return body !== undefined && (!version || body.includes(version));
      }, 30_000);
    }
  }

  async function webContainers() {
    const all = [];
    for (const node of nodes()) for (const c of await managedContainers(handle.lab, node)) if (c.pod.startsWith('web-') && c.role === 'app') all.push({ ...c, node });
    return all;
  }

  before(async function () {
    this.timeout(120_000);
    repo = new ClusterRepo(handle.lab.clusterRepo ?? path.join(handle.dir, 'cluster-repo'));
    logFile = path.join(handle.dir, 'engine.log');
    rmSync(logFile, { force: true });
    // examples-repo's own app would compete for the hosts' attention; this suite deploys only its own.
    for (const entry of (await git(repo.dir, ['ls-files'])).stdout.split('\n').filter(Boolean)) {
      if (!entry.startsWith('nodes/') && entry !== 'cluster.yaml') repo.remove(entry);
    }
    await repo.commit('e2e: start from the nodes and the cluster only');
    start();
    await waitFor('every node Ready in status', async () => {
      const nodes = [...(await repo.status()).nodes.values()];
      return nodes.length === 3 && nodes.every((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 90_000);
  });

  after(async function () {
    this.timeout(60_000);
    await engine?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(diagnostics());
  });

  it('1. runs a Deployment of 3 replicas on the nodes the plan predicted, serves its VIP from every node and records the commit in status', async () => {
    repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 3, version: 'v1', vip: VIP }));
    const commit = await repo.propose('web v1, 3 replicas');
    const plan = await cox(['plan', '--repo', repo.dir, '--rev', commit, '-o', 'json'], repo.dir);
    assert.equal(plan.code, 0, plan.stderr);
    await repo.advance(commit);
    const pods = await readyWebPods(3, 'v1');
    const predicted = predictedNodes(plan.stdout, 'web-');
    assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), predicted.sort(), 'the engine bound the pods where `cox plan` said it would');
    await vipAnswersEverywhere('v1');
    const messages = (await git(repo.dir, ['log', '--format=%B', 'coxswain/status'])).stdout;
    assert.match(messages, new RegExp(`Coxswain-Desired: ${commit}`));
    assert.equal((await webContainers()).length, 3, 'Podman runs exactly 3 web app containers');
  });

  it('2. scales 3 -> 5 -> 2', async () => {
    for (const replicas of [5, 2]) {
      repo.write('apps/web.yaml', webApp({ name: 'web', replicas, version: 'v1', vip: VIP }));
      await repo.commit(`web: ${replicas} replicas`);
      await readyWebPods(replicas, 'v1');
      await waitFor(`Podman to run exactly ${replicas} web containers`, async () => (await webContainers()).length === replicas, 60_000);
    }
    repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 3, version: 'v1', vip: VIP }));
    await repo.commit('web: back to 3 replicas');
    await readyWebPods(3, 'v1');
  });

  it('3. rolls out a new version while a client loops against the VIP, with zero failed requests (and cox rollout status and cox logs see it)', async () => {
    const stopFile = path.join(handle.dir, 'stop-client');
    rmSync(stopFile, { force: true });
    const script = `n=0; while [ ! -e ${stopFile} ] && [ $n -lt 3000 ]; do n=$((n+1)); t=$(date +%T.%N); if out=$(timeout 2 wget -qO- http://${VIP}/ 2>&1); then echo "ok $t $out"; else echo "FAIL $t $out"; fi; sleep 0.05; done`;
    const client = spawn('nsenter', ['-t', String(handle.lab.nodes[0].pid), '-m', '-n', '-u', '-p', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    client.stdout.on('data', (chunk) => (output += chunk));
    const clientDone = new Promise((resolve) => client.once('exit', resolve));
    try {
      await waitFor('the client to get answers', async () => output.includes('ok '), 20_000);
      repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 3, version: 'v2', vip: VIP }));
      await repo.commit('web v2');
      await readyWebPods(3, 'v2', 120_000);
      await waitFor('the client to see v2', async () => output.includes(' v2'), 20_000);
      // A little longer, so requests during the old pods' termination are counted too (and a fast rollout still gives a sample).
      const enough = Math.max(output.split('\n').length + 20, 42);
      await waitFor(`${enough} requests in all`, async () => output.split('\n').length > enough, 30_000);
    } finally {
      await import('node:fs').then((fs) => fs.writeFileSync(stopFile, ''));
      await clientDone;
    }
    const rollout = await cox(['rollout', 'status', 'deployment/web', '--repo', repo.dir, '--timeout', '60'], repo.dir);
    assert.equal(rollout.code, 0, rollout.stdout + rollout.stderr);
    assert.match(rollout.stdout, /deployment "web" successfully rolled out/);
    const pod = livePods(await repo.status(), 'web-')[0];
    const logs = await cox(['logs', pod.metadata.name, '--repo', repo.dir, '--ssh-key', handle.lab.clientKeyPath], repo.dir);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, new RegExp(`serving ${pod.metadata.name} v2`), 'cox logs reads the container log through the agent over SSH');
    const lines = output.split('\n').filter(Boolean);
    const failed = lines.filter((l) => l.startsWith('FAIL'));
    // Every single attempt answers: no retry. (Requests used to time out when a pod left a host: the bridge
    // changed its MAC address under the pods that stayed, see agent/network.)
    assert.ok(lines.length > 40, `the client made ${lines.length} requests`);
    assert.deepEqual(failed, [], `${failed.length} of ${lines.length} requests failed during the rollout; around them:\n${lines.filter((_l, i) => lines.slice(Math.max(0, i - 2), i + 3).some((n) => n.startsWith('FAIL'))).join('\n')}`);
  });

  it('6. restarts an agent without restarting any container', async () => {
    const before = (await webContainers()).map((c) => c.id).sort();
    const node = handle.lab.nodes[0].name;
    const oldPid = (await labExec(handle.lab, node, ['cat', '/run/coxswain/agent.pid'])).stdout.trim();
    assert.match(oldPid, /^\d+$/, 'the agent runs with a pidfile');
    await labExec(handle.lab, node, ['kill', oldPid]);
    await waitFor(`a new agent on ${node}`, async () => {
      const pid = (await labExec(handle.lab, node, ['cat', '/run/coxswain/agent.pid'])).stdout.trim();
      return pid !== oldPid && /^\d+$/.test(pid) && (await labExec(handle.lab, node, ['kill', '-0', pid])).code === 0;
    }, 60_000);
    await waitFor('the engine to be connected to the new agent', async () => engine!.log().split('\n').filter((l) => l.includes('"agent.connected"') && l.includes(`"node":"${node}"`)).length >= 2, 60_000);
    await readyWebPods(3, 'v2');
    assert.deepEqual((await webContainers()).map((c) => c.id).sort(), before, 'the same containers run');
  });

  it('7. survives SIGKILL mid-rollout: no duplicate pods and the rollout completes after a restart', async () => {
    repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 3, version: 'v3', vip: VIP }));
    await repo.commit('web v3');
    await waitFor('the rollout to v3 to be under way', async () => livePods(await repo.status(), 'web-').some((p) => JSON.stringify(p.spec).includes('"v3"')), 60_000, 50);
    engine!.child.kill('SIGKILL');
    await engine!.exited;
    start();
    await readyWebPods(3, 'v3', 120_000);
    await waitFor('exactly 3 web containers on the hosts', async () => (await webContainers()).length === 3, 60_000);
    const names = (await webContainers()).map((c) => c.pod);
    assert.equal(new Set(names).size, 3, `no pod runs twice: ${names.join(', ')}`);
    await vipAnswersEverywhere('v3');
  });

  it('8. refuses an invalid commit, records its errors in the status branch and keeps the old pods serving', async () => {
    const before = (await webContainers()).map((c) => c.id).sort();
    repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 3, version: 'v4', vip: VIP }).replace('replicas: 3', 'replicas: three'));
    const bad = await repo.commit('web: an invalid replicas value');
    const observed = await waitFor('the refused commit in status', async () => {
      const status = await repo.status();
      return status.errors.length > 0 && status.errors.some((e) => e.file === 'apps/web.yaml') ? status : false;
    }, 30_000);
    assert.ok(observed.errors[0].line > 0, 'the error names a line');
    const message = (await git(repo.dir, ['log', '-n', '5', '--format=%B', 'coxswain/status'])).stdout;
    assert.match(message, new RegExp(`Coxswain-Refused: ${bad}`));
    await vipAnswersEverywhere('v3');
    assert.deepEqual((await webContainers()).map((c) => c.id).sort(), before, 'nothing was applied');
    repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 3, version: 'v3', vip: VIP }));
    await repo.commit('web: fix replicas');
    await waitFor('the errors to clear', async () => (await repo.status()).errors.length === 0, 30_000);
  });

  it('4. removes the pods and the VIP of a deleted manifest', async () => {
    repo.remove('apps/web.yaml');
    await repo.commit('remove web');
    await waitFor('no web pods in status', async () => [...(await repo.status()).pods.values()].every((p) => !p.metadata.name.startsWith('web-')), 60_000);
    await waitFor('no web containers on any host', async () => (await webContainers()).length === 0, 60_000);
    await waitFor('the web Service to leave status', async () => !(await repo.status()).services.has('default/web'), 30_000);
    for (const node of nodes()) assert.equal(await getThroughVip(handle.lab, node, VIP), undefined, `the VIP no longer answers on ${node}`);
  });

  it('5. replaces the pods of a killed node on the others and serves the VIP again', async () => {
    repo.write('apps/web.yaml', webApp({ name: 'web', replicas: 3, version: 'v5', vip: VIP }));
    await repo.commit('web v5 again');
    const pods = await readyWebPods(3, 'v5');
    const victim = handle.lab.nodes.find((n) => pods.some((p) => p.spec.nodeName === n.name) && n.name !== handle.lab.nodes[0].name)!;
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(`${victim.name} NotReady in status`, async () => {
      const ready = (await repo.status()).nodes.get(victim.name)?.status.conditions.find((c) => c.type === 'Ready');
      return ready !== undefined && ready.status !== 'True';
    }, 60_000);
    await waitFor(`3 ready web pods, none on ${victim.name}`, async () => {
      const live = livePods(await repo.status(), 'web-');
      return live.filter((p) => isReady(p) && p.spec.nodeName !== victim.name).length === 3;
    }, 90_000);
    await waitFor('the VIP to answer from the first node', async () => (await getThroughVip(handle.lab, handle.lab.nodes[0].name, VIP)) !== undefined, 30_000);
  });

  it('9. refuses a host whose pinned key is wrong and says why', async () => {
    const target = handle.lab.nodes[0].name;
    const file = `nodes/${target}.yaml`;
    const original = repo.read(file);
    // A valid ed25519 key that is not the host's.
    const wrong = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlxPnHiv8B2BkWfHqX9lz9Sb0G1ol8T5mnvrwhfVwpL';
    repo.write(file, original.replace(/ssh-ed25519 [A-Za-z0-9+/=]+/, wrong));
    await repo.commit(`${target}: a wrong pinned host key`);
    const ready = await waitFor(`${target} refused in status`, async () => {
      const condition = (await repo.status()).nodes.get(target)?.status.conditions.find((c) => c.type === 'Ready');
      return condition?.message?.includes('host key mismatch') ? condition : false;
    }, 60_000);
    assert.match(ready.message!, new RegExp(`host key mismatch for ${target}: expected SHA256:[A-Za-z0-9+/]+, got SHA256:[A-Za-z0-9+/]+`));
    assert.match(engine!.log(), /host key mismatch for/);
    repo.write(file, original);
    await repo.commit(`${target}: the right key again`);
  });

  it('10. leaves the repository clean for git fsck --strict', async () => {
    await engine?.stop();
    const fsck = await git(repo.dir, ['fsck', '--strict', '--no-progress'], { allowFailure: true });
    assert.equal(fsck.code, 0, fsck.stderr);
    assert.ok(existsSync(path.join(repo.dir, '.git')), 'a real repository');
  });
});

/** `cox COMMAND` as a user runs it. */
async function cox(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/cox.mjs'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The nodes `cox plan -o json` binds the new pods of a workload to. */
function predictedNodes(planJson: string, prefix: string): string[] {
  const plan = JSON.parse(planJson) as { create: Array<{ name: string; node?: string }> };
  return plan.create.filter((p) => p.name.startsWith(prefix)).map((p) => p.node ?? '(unscheduled)');
}
