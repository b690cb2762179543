/**
 * Benchmark `e2e`, in a real 3-host lab (index 5; do not run it together with
 * the e2e tests):
 * - commitToServingP50Ms / P99Ms: 20 commits, each adding a Deployment of 3
 *   replicas (ready image, readiness probe period 1 s) and its Service; from
 *   the commit to the first successful request through its VIP from a host.
 * - nodeFailoverMs: from SIGKILLing a node's PID 1 to a replacement pod on
 *   another node answering through the VIP, with the default timings of
 *   cluster.yaml.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labUp } from '../engine/lab/index.ts';
import { git } from '../engine/cli/gitcli.ts';
import { ClusterRepo, getThroughVip, isReady, livePods, startEngine, waitFor, webApp } from '../test/integration/e2e-harness.ts';
import { percentile } from './run.ts';

// 5 like the e2e suite (never run both at once); COX_BENCH_LAB_INDEX moves it.
const INDEX = Number(process.env.COX_BENCH_LAB_INDEX ?? 5);
const COMMITS = 20;

/** Time until a request through `vip` succeeds, polled from inside the host by a shell loop (no per-try process start from here). */
function firstSuccess(pid: number, vip: string, timeoutSeconds: number): Promise<boolean> {
  const script = `end=$(( $(date +%s) + ${timeoutSeconds} )); while [ $(date +%s) -lt $end ]; do timeout 1 wget -qO- http://${vip}/ >/dev/null 2>&1 && exit 0; sleep 0.02; done; exit 1`;
  return new Promise((resolve) => {
    const child = spawn('nsenter', ['-t', String(pid), '-m', '-n', '-u', '-p', 'sh', '-c', script], { stdio: 'ignore' });
    child.once('exit', (code) => resolve(code === 0));
  });
}

export default async function (log: (line: string) => void): Promise<Record<string, number | string | boolean>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cox-bench-e2e-'));
  log(`lab index ${INDEX} in ${dir}`);
  const lab = await labUp({ name: 'bench-e2e', index: INDEX, nodes: 3, dir, onProgress: (line) => log(line) });
  const repo = new ClusterRepo(lab.clusterRepo!);
  const engine = startEngine({ repo: repo.dir, sshKey: lab.clientKeyPath, logFile: path.join(dir, 'engine.log') });
  try {
    for (const entry of (await git(repo.dir, ['ls-files'])).stdout.split('\n').filter(Boolean)) {
      if (!entry.startsWith('nodes/') && entry !== 'cluster.yaml') repo.remove(entry);
    }
    await repo.commit('bench: nodes and cluster only');
    await waitFor('every node Ready in status', async () => {
      const nodes = [...(await repo.status()).nodes.values()];
      return nodes.length === lab.nodes.length && nodes.every((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 120_000);

    const samples: number[] = [];
    const h1 = lab.nodes[0];
    for (let i = 1; i <= COMMITS; i++) {
      const vip = `100.127.0.${100 + i}`;
      repo.write(`apps/b${i}.yaml`, webApp({ name: `b${i}`, replicas: 3, version: 'v1', vip }));
      await repo.commit(`bench: b${i}`);
      const t0 = performance.now();
      if (!(await firstSuccess(h1.pid, vip, 60))) throw new Error(`b${i} did not serve through ${vip} within 60 s; engine log: ${path.join(dir, 'engine.log')}`);
      samples.push(performance.now() - t0);
      log(`commit ${i}: serving after ${Math.round(samples.at(-1)!)} ms`);
    }

    for (let i = 1; i <= COMMITS; i++) repo.remove(`apps/b${i}.yaml`);
    await repo.commit('bench: remove the 20 deployments');
    await waitFor('the bench pods gone', async () => (await repo.status()).pods.size === 0, 120_000);

    const vip = '100.127.0.99';
    repo.write('apps/fo.yaml', webApp({ name: 'fo', replicas: 3, version: 'v1', vip }));
    await repo.commit('bench: failover deployment');
    const pods = await waitFor('3 ready fo pods', async () => {
      const live = livePods(await repo.status(), 'fo-');
      return live.length === 3 && live.every(isReady) ? live : false;
    }, 120_000);
    const victim = lab.nodes.find((n) => n.name !== h1.name && pods.some((p) => p.spec.nodeName === n.name))!;
    const before = new Set(pods.map((p) => p.metadata.name));
    log(`killing ${victim.name} (PID ${victim.pid})`);
    const t0 = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    await waitFor('a replacement pod answering through the VIP', async () => {
      const live = livePods(await repo.status(), 'fo-').filter((p) => isReady(p) && !before.has(p.metadata.name) && p.spec.nodeName !== victim.name);
      if (live.length === 0) return false;
      for (let tries = 0; tries < 6; tries++) {
        const body = await getThroughVip(lab, h1.name, vip);
        if (body && live.some((p) => body.startsWith(p.metadata.name))) return true;
      }
      return false;
    }, 600_000, 100);
    const nodeFailoverMs = Math.round(performance.now() - t0);
    log(`failover: ${nodeFailoverMs} ms`);

    return {
      commitToServingP50Ms: Math.round(percentile(samples, 50)),
      commitToServingP99Ms: Math.round(percentile(samples, 99)),
      commitToServingMaxMs: Math.round(Math.max(...samples)),
      commits: COMMITS,
      nodeFailoverMs,
    };
  } finally {
    await engine.stop();
    await labDown(lab);
    rmSync(dir, { recursive: true, force: true });
  }
}
