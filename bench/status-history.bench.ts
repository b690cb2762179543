/**
 * status-history: the repository after 10,000 status commits.
 *
 * A cluster of 5 nodes, 300 pods in 3 namespaces, 30 services and 30
 * deployments; every commit goes through StatusWriter.update()+flush() with
 * 10 pods changed (restart count, readiness), STATUS.md re-rendered, and the
 * writer's periodic packing. Reports the repository's size on disk, loose
 * objects and packs left, and whether `git fsck --strict` is clean.
 * COX_BENCH_STATUS_COMMITS overrides the number of commits.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './run.ts';
import { StatusWriter } from '../engine/status/index.ts';
import { deployment, node, observedOf, pod, service } from '../engine/status/testing.ts';

export default async function (log: (line: string) => void): Promise<Record<string, number | string | boolean>> {
  const commits = Number(process.env.COX_BENCH_STATUS_COMMITS ?? 10_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cox-bench-history-'));
  const git = (args: string[]) => execFileSync('git', ['--git-dir', dir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
  try {
    git(['init', '-q', '--bare']);
    const nodes = Array.from({ length: 5 }, (_, i) => node(`h${i + 1}`));
    const pods = Array.from({ length: 300 }, (_, i) => pod(`web-${i.toString(36)}-x2k`, { namespace: `team-${i % 3}`, node: `h${(i % 5) + 1}`, phase: 'Running', ip: `100.64.${i % 5}.${10 + (i % 200)}` }));
    const services = Array.from({ length: 30 }, (_, i) => service(`svc-${i}`, [{ ip: `100.64.0.${i}`, podName: `web-${i}` }], `team-${i % 3}`));
    const workloads = Array.from({ length: 30 }, (_, i) => deployment(`web-${i}`, 3, 3, `team-${i % 3}`));
    const observed = observedOf({ nodes, pods, services, workloads });
    let t0 = Date.now();
    const writer = await StatusWriter.open({ repoDir: dir, now: () => new Date(1_790_000_000_000 + (Date.now() - t0)) });
    const times: number[] = [];
    for (let c = 0; c < commits; c++) {
      for (let k = 0; k < 10; k++) {
        const i = (c * 37 + k * 31) % pods.length;
        const next = structuredClone(pods[i]);
        next.status.containerStatuses[0].restartCount += 1;
        const ready = (c + k) % 3 !== 0;
        next.status.containerStatuses[0].ready = ready;
        next.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }];
        pods[i] = next;
        observed.pods.set(next.metadata.uid, next);
      }
      const t = performance.now();
      writer.update(observed, { desiredCommit: '0'.repeat(40), reason: 'bench' });
      await writer.flush();
      times.push(performance.now() - t);
      if ((c + 1) % 1000 === 0) log(`${c + 1} commits, median ${median(times.slice(-1000)).toFixed(1)} ms per commit`);
    }
    const counted = Object.fromEntries(git(['count-objects', '-v']).split('\n').map((l) => l.split(': ')).map(([k, v]) => [k, Number(v)]));
    const bytes = Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
    let fsckClean = true;
    try {
      execFileSync('git', ['--git-dir', dir, 'fsck', '--strict', '--no-progress'], { stdio: 'pipe' });
    } catch (err) {
      fsckClean = false;
      log(`fsck: ${(err as { stderr?: Buffer }).stderr?.toString().slice(0, 500)}`);
    }
    const history = Number(git(['rev-list', '--count', 'coxswain/status']));
    t0 = 0;
    return {
      commits: history,
      objects: pods.length + nodes.length + services.length + workloads.length,
      flushMs: Math.round(median(times) * 100) / 100,
      repoMiB: Math.round((bytes / (1 << 20)) * 10) / 10,
      looseObjects: counted.count,
      packs: counted.packs,
      packMiB: Math.round((counted['size-pack'] / 1024) * 10) / 10,
      fsckClean,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
