/**
 * The GitHub Action's plan on a pull request, as the runner runs it: the
 * committed bundle (node action/dist/index.js) against `cox plan` through tsx
 * on the same repository and status branch, interleaved in one run. Also the
 * bundle's size and the time to rebuild it (what the staleness test pays).
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median } from './run.ts';
import { clusterRepository, pullRequestEvent, runAction, webYaml, write } from '../action/src/testing.ts';
import { ACTION_BUNDLE_PATH, buildActionBundle } from '../action/src/bundle.ts';
import { StatusWriter } from '../engine/status/index.ts';
import { DesiredLoader } from '../engine/source/loader.ts';
import { resolveGitDir } from '../engine/status/git.ts';
import { reconcile, type DesiredObjects } from '../engine/controllers/index.ts';
import { markReady } from '../engine/controllers/testing.ts';
import { emptyObserved } from '../engine/model.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 5;

export default async function (log: (line: string) => void): Promise<Record<string, number | string | boolean>> {
  const cluster = clusterRepository();
  try {
    const head = cluster.head();
    const loaded = await new DesiredLoader(resolveGitDir(cluster.repo)).load(head);
    const now = new Date();
    let observed = reconcile({ desired: loaded.store as unknown as DesiredObjects, commit: head, observed: emptyObserved(), now }).observed;
    observed = reconcile({ desired: loaded.store as unknown as DesiredObjects, commit: head, observed: markReady(observed), now }).observed;
    const writer = await StatusWriter.open({ repoDir: cluster.origin, now: () => now });
    writer.update(observed, { desiredCommit: head, reason: 'bench' });
    await writer.flush();
    await writer.close();
    write(cluster.repo, 'demo/web.yaml', webYaml('coxswain/busybox:2', 6));
    const pr = cluster.commit('web v2, 6 replicas');
    execFileSync('git', ['fetch', '-q', 'origin', '+refs/heads/coxswain/status:refs/heads/coxswain/status'], { cwd: cluster.repo });

    const action: number[] = [];
    const cli: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      const run = await runAction({ workspace: cluster.repo, inputs: { comment: 'false' }, event: pullRequestEvent(1, pr) });
      if (run.code !== 0 || !run.summary.includes('#### Rollouts')) throw new Error(`the action failed: ${run.stdout}`);
      action.push(performance.now() - t);
      t = performance.now();
      execFileSync(process.execPath, [path.join(ROOT, 'bin/cox.mjs'), 'plan'], { cwd: cluster.repo, stdio: 'pipe' });
      cli.push(performance.now() - t);
      log(`run ${i + 1}: action ${action[i].toFixed(0)} ms, cox plan ${cli[i].toFixed(0)} ms`);
    }
    const t = performance.now();
    await buildActionBundle();
    const buildMs = performance.now() - t;
    return {
      action_plan_run_median_ms: Math.round(median(action)),
      cox_plan_tsx_median_ms: Math.round(median(cli)),
      bundle_bytes: statSync(ACTION_BUNDLE_PATH).size,
      bundle_build_ms: Math.round(buildMs),
      runs: RUNS,
    };
  } finally {
    cluster.cleanup();
  }
}
