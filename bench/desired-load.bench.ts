/**
 * desired-load: the desired state of a 10,000-manifest repository.
 *
 *   coldMs         median of loading the tip with a fresh loader (read every blob, parse, validate, cross-check)
 *   incrementalMs  median of loading a commit that changed one file, against the previous load
 *                  (diff the trees, read and parse one blob, update the previous load's snapshot:
 *                  one namespace's checks, the checks across namespaces, a few store keys)
 *   incrementalCpuMs  the same in CPU time of this process (steadier on a busy machine)
 *   coldGitMs      the part of coldMs spent reading trees and blobs (isomorphic-git)
 *   coldParseMs    the part spent in parseManifestFile (YAML + ajv + defaults)
 *   coldStoreMs    the part spent in loadManifests over cached parses (cross-object checks, store)
 *   incrementalStoreMs  the snapshot update of the one-file change (the rest of incrementalMs is git and one parse)
 *
 * The repository (4,000 Deployments, 4,000 Services, 2,000 ConfigMaps in 20
 * namespace directories) is written with `git fast-import` and packed, as a clone is.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './run.ts';
import { DesiredLoader } from '../engine/source/loader.ts';

const NAMESPACES = 20;
const PER_NAMESPACE = 500;

function manifest(ns: string, i: number, replicas: number): string {
  if (i % 5 === 4) return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-${i}\n  namespace: ${ns}\ndata:\n  LEVEL: info\n  INDEX: "${i}"\n`;
  if (i % 5 >= 2) {
    return `apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-${i}\n  namespace: ${ns}\nspec:\n  selector:\n    app: app-${i}\n  ports:\n    - name: http\n      port: 80\n      targetPort: 8080\n`;
  }
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${i}
  namespace: ${ns}
  labels:
    app: app-${i}
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: app-${i}
  template:
    metadata:
      labels:
        app: app-${i}
    spec:
      containers:
        - name: app
          image: coxswain/busybox:1
          command: ["httpd", "-f", "-p", "8080"]
          ports:
            - containerPort: 8080
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
`;
}

export default async function (log: (line: string) => void): Promise<Record<string, number | string | boolean>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cox-bench-desired-'));
  const git = (args: string[], input?: string) => execFileSync('git', ['--git-dir', dir, ...args], { input, encoding: 'utf8', maxBuffer: 256 << 20 }).trim();
  try {
    git(['init', '-q', '--bare', '-b', 'main']);
    log(`writing ${NAMESPACES * PER_NAMESPACE} manifests with git fast-import`);
    const lines: string[] = [];
    const commit = (mark: number, files: Array<[string, string]>, parent?: number) => {
      lines.push(`commit refs/heads/main`, `mark :${mark}`, `committer Ada <ada@example.com> ${1_790_000_000 + mark} +0000`, `data 8`, `manifest`);
      if (parent) lines.push(`from :${parent}`);
      for (const [file, text] of files) lines.push(`M 100644 inline ${file}`, `data ${Buffer.byteLength(text)}`, text);
    };
    const files: Array<[string, string]> = [];
    for (let n = 0; n < NAMESPACES; n++) {
      const ns = `team-${n}`;
      files.push([`${ns}/namespace.yaml`, `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`]);
      for (let i = 0; i < PER_NAMESPACE; i++) files.push([`${ns}/obj-${i}.yaml`, manifest(ns, i, 2)]);
    }
    files.push(['cluster.yaml', 'apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: bench\n']);
    commit(1, files);
    const ROUNDS = 15;
    for (let r = 0; r < ROUNDS; r++) commit(2 + r, [[`team-${r % NAMESPACES}/obj-${r * 5}.yaml`, manifest(`team-${r % NAMESPACES}`, r * 5, 3 + r)]], 1 + r);
    git(['fast-import', '--quiet'], `${lines.join('\n')}\n`);
    git(['gc', '-q']);
    const commits = git(['rev-list', '--reverse', 'main']).split('\n');
    const total = files.length;

    const coldMs: number[] = [];
    const cold: Array<{ gitMs: number; parseMs: number; storeMs: number }> = [];
    let firstLoad;
    for (let r = 0; r < 3; r++) {
      const loader = new DesiredLoader(dir);
      const t = performance.now();
      firstLoad = await loader.load(commits[0]);
      coldMs.push(performance.now() - t);
      cold.push(firstLoad.timings);
      log(`cold load ${r + 1}: ${coldMs[r].toFixed(0)} ms (git ${firstLoad.timings.gitMs.toFixed(0)}, parse ${firstLoad.timings.parseMs.toFixed(0)}, store ${firstLoad.timings.storeMs.toFixed(0)}; ${firstLoad.store.size} objects)`);
      if (!firstLoad.valid) throw new Error(`the bench repository should validate: ${firstLoad.diagnostics.find((d) => d.severity === 'error')?.message}`);
    }
    const loader = new DesiredLoader(dir);
    let previous = await loader.load(commits[0]);
    const incrementalMs: number[] = [];
    const incrementalCpuMs: number[] = [];
    const incrementalStoreMs: number[] = [];
    for (const oid of commits.slice(1)) {
      const t = performance.now();
      const cpu = process.cpuUsage();
      const next = await loader.load(oid, previous);
      incrementalMs.push(performance.now() - t);
      const used = process.cpuUsage(cpu);
      incrementalCpuMs.push((used.user + used.system) / 1000);
      incrementalStoreMs.push(next.timings.storeMs);
      if (next.parsed !== 1 || next.changes.modified.length !== 1) throw new Error(`one changed file should parse once and modify one object (parsed ${next.parsed}, modified ${next.changes.modified.length})`);
      previous = next;
    }
    return {
      manifests: total,
      objects: firstLoad!.store.size,
      coldMs: Math.round(median(coldMs)),
      coldGitMs: Math.round(median(cold.map((c) => c.gitMs))),
      coldParseMs: Math.round(median(cold.map((c) => c.parseMs))),
      coldStoreMs: Math.round(median(cold.map((c) => c.storeMs))),
      incrementalMs: Math.round(median(incrementalMs) * 10) / 10,
      incrementalCpuMs: Math.round(median(incrementalCpuMs) * 10) / 10,
      incrementalStoreMs: Math.round(median(incrementalStoreMs) * 10) / 10,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
