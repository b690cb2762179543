/**
 * status-commit: one status commit of 10 changed files on a 10,000-object
 * status tree (10 namespaces x 900 pods, 50 services, 50 deployments).
 *
 *   oursMs   median time of StatusWriter.commitDelta (blobs, changed trees, commit, CAS ref update)
 *   gitMs    median time of the same commit with git plumbing, measured alternately in the same run:
 *            hash-object -w --stdin-paths, update-index --index-info (a private index primed with
 *            read-tree), write-tree, commit-tree, update-ref <new> <old>
 *   ratio    oursMs / gitMs (target <= 1.0)
 *   flushMs  median of the whole update()+flush() path with the 10,000-object observed state
 *            (change detection over every object, rendering, STATUS.md, commit)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './run.ts';
import { StatusWriter } from '../engine/status/index.ts';
import { renderObject } from '../engine/status/render.ts';
import { deployment, observedOf, pod, service } from '../engine/status/testing.ts';
import type { PodObject } from '../engine/model.ts';

const NAMESPACES = 10;
const PODS_PER_NAMESPACE = 900;
const CHANGED = 10;
const ROUNDS = 40;

export default async function (log: (line: string) => void): Promise<Record<string, number | string | boolean>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cox-bench-status-'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 'Coxswain', GIT_AUTHOR_EMAIL: 'coxswain@localhost', GIT_COMMITTER_NAME: 'Coxswain', GIT_COMMITTER_EMAIL: 'coxswain@localhost', GIT_INDEX_FILE: path.join(dir, 'bench-index') };
  const git = (args: string[], input?: string) => execFileSync('git', ['--git-dir', dir, ...args], { input, env, encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
  try {
    git(['init', '-q', '--bare']);
    const pods: PodObject[] = [];
    const services = [];
    const workloads = [];
    for (let n = 0; n < NAMESPACES; n++) {
      const ns = `team-${n}`;
      for (let i = 0; i < PODS_PER_NAMESPACE; i++) pods.push(pod(`web-${n}-${i.toString(36)}-x2k`, { namespace: ns, node: `h${i % 5}`, phase: 'Running', ip: `100.64.${i % 5}.${i % 250}` }));
      for (let i = 0; i < 50; i++) {
        services.push(service(`svc-${i}`, [{ ip: `100.64.0.${i}`, podName: `web-${n}-${i}` }], ns));
        workloads.push(deployment(`web-${i}`, 3, 3, ns));
      }
    }
    const observed = observedOf({ pods, services, workloads });
    log(`writing the initial ${pods.length + services.length + workloads.length}-object tree`);
    const ours = await StatusWriter.open({ repoDir: dir, branch: 'ours', packEvery: 0 });
    ours.update(observed, { desiredCommit: '0'.repeat(40) });
    const initial = await ours.flush();
    git(['update-ref', 'refs/heads/gitcli', initial!.oid]);
    git(['read-tree', 'gitcli']);

    const oursMs: number[] = [];
    const gitMs: number[] = [];
    const scratch = path.join(dir, 'scratch');
    execFileSync('mkdir', ['-p', scratch]);
    let gitTip = initial!.oid;
    for (let round = 0; round < ROUNDS; round++) {
      const changed = Array.from({ length: CHANGED }, (_, k) => pods[(round * 7919 + k * 104729) % pods.length]);
      const files = changed.map((p, k) => {
        const next = structuredClone(p);
        next.status.containerStatuses[0].restartCount = round + 1;
        return { path: `${p.metadata.namespace}/pods/${p.metadata.name}.yaml`, text: renderObject(next), k };
      });
      // ours
      const oursText = new Map(files.map((f) => [f.path, `${f.text}# ours\n`]));
      let t = performance.now();
      await ours.commitDelta(oursText, `bench round ${round}: ${CHANGED} pods restarted\n\nCoxswain-Desired: ${'0'.repeat(40)}\n`);
      oursMs.push(performance.now() - t);
      // git plumbing, same change
      t = performance.now();
      const paths = files.map((f) => {
        const p = path.join(scratch, `f${f.k}`);
        writeFileSync(p, `${f.text}# git\n`);
        return p;
      });
      const oids = git(['hash-object', '-w', '--stdin-paths'], `${paths.join('\n')}\n`).split('\n');
      git(['update-index', '--index-info'], files.map((f, i) => `100644 ${oids[i]}\t${f.path}`).join('\n') + '\n');
      const tree = git(['write-tree']);
      const commit = git(['commit-tree', tree, '-p', gitTip], `bench round ${round}: ${CHANGED} pods restarted\n\nCoxswain-Desired: ${'0'.repeat(40)}\n`);
      git(['update-ref', 'refs/heads/gitcli', commit, gitTip]);
      gitTip = commit;
      gitMs.push(performance.now() - t);
    }
    if (git(['rev-parse', 'ours^{tree}']) === git(['rev-parse', 'gitcli^{tree}'])) throw new Error('the two branches should differ by their marker line');
    // The whole path: update() with the full observed state, flush().
    const flushMs: number[] = [];
    for (let round = 0; round < 10; round++) {
      for (let k = 0; k < CHANGED; k++) {
        const i = (round * 31 + k * 997) % pods.length;
        const next = structuredClone(pods[i]);
        next.status.containerStatuses[0].restartCount += 100 + round;
        pods[i] = next;
        observed.pods.set(next.metadata.uid, next);
      }
      const t = performance.now();
      ours.update(observed, { desiredCommit: '0'.repeat(40) });
      await ours.flush();
      flushMs.push(performance.now() - t);
    }
    execFileSync('git', ['--git-dir', dir, 'fsck', '--strict', '--no-progress'], { env, stdio: 'pipe' });
    const o = median(oursMs);
    const g = median(gitMs);
    log(`ours ${o.toFixed(2)} ms, git plumbing ${g.toFixed(2)} ms per commit`);
    return {
      objects: pods.length + services.length + workloads.length,
      changedPerCommit: CHANGED,
      rounds: ROUNDS,
      oursMs: round2(o),
      gitMs: round2(g),
      ratio: round2(o / g),
      flushMs: round2(median(flushMs)),
      fsckClean: true,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
