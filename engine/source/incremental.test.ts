import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { keyOf } from '../manifests/index.ts';
import { manifestCommit } from '../manifests/testing.ts';
import { DesiredLoader, objectChanges, type DesiredCommit, type ObjectChanges } from './index.ts';
import { gitCli, tempRepo } from '../status/testing.ts';
import { commitFiles } from './testing.ts';

function deployment(name: string, namespace: string, options: { app?: string; image?: string; config?: string } = {}): string {
  const app = options.app ?? name;
  const env = options.config ? `\n          env:\n            - name: LEVEL\n              valueFrom:\n                configMapKeyRef:\n                  name: ${options.config}\n                  key: LEVEL` : '';
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  selector:
    matchLabels:
      app: ${app}
  template:
    metadata:
      labels:
        app: ${app}
    spec:
      containers:
        - name: app
          image: ${options.image ?? 'coxswain/busybox:1'}
          ports:
            - name: http
              containerPort: 8080${env}
`;
}

function service(name: string, namespace: string, app: string, nodePort?: number): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  ${nodePort ? 'type: NodePort\n  ' : ''}selector:
    app: ${app}
  ports:
    - port: 80
      targetPort: http${nodePort ? `\n      nodePort: ${nodePort}` : ''}
`;
}

function configMap(name: string, namespace: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\ndata:\n  LEVEL: info\n`;
}

/** What a load means, with object identity and timings left out. */
function outcome(load: DesiredCommit) {
  return { objects: load.store.all(), cluster: load.cluster, diagnostics: load.diagnostics, valid: load.valid };
}

/** Writes (text) or deletes (null) files and commits whatever that changed, possibly nothing. */
function commitStep(dir: string, changes: Array<[string, string | null]>, message: string): string {
  for (const [file, text] of changes) {
    const full = path.join(dir, file);
    if (text === null) rmSync(full, { force: true });
    else {
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, text);
    }
  }
  gitCli(dir, ['add', '-A']);
  gitCli(dir, ['commit', '-q', '--allow-empty', '-m', message]);
  return gitCli(dir, ['rev-parse', 'HEAD']);
}

/** Changes as sorted keys, whatever order they were found in. */
function changeKeys(changes: ObjectChanges) {
  const keys = (objects: Array<{ kind: string; namespace?: string; name: string }>) => objects.map((o) => keyOf(o.kind, o.namespace, o.name)).sort();
  const refs = (objects: DesiredCommit['changes']['added']) => objects.map((o) => ({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name }));
  return { added: keys(refs(changes.added)), modified: keys(refs(changes.modified)), deleted: keys(changes.deleted) };
}

describe('DesiredLoader: loading against the previous commit', () => {
  let repo: ReturnType<typeof tempRepo>;
  beforeEach(() => {
    repo = tempRepo();
  });
  afterEach(() => repo.cleanup());

  it('gives exactly the objects and diagnostics of a cold load after every kind of edit', async () => {
    const steps: Array<[string, Record<string, string | null>]> = [
      ['a first commit', {
        'cluster.yaml': 'apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\n',
        'a/web.yaml': deployment('web', 'a', { config: 'settings' }),
        'a/web-svc.yaml': service('web', 'a', 'web'),
        'a/settings.yaml': configMap('settings', 'a'),
        'b/api.yaml': deployment('api', 'b'),
        'b/api-svc.yaml': service('api', 'b', 'api', 30080),
        'b/lonely-svc.yaml': service('lonely', 'b', 'nobody'),
      }],
      ['an added file whose selector overlaps another', { 'a/worker.yaml': deployment('worker', 'a', { app: 'web' }) }],
      ['a modified file', { 'a/web.yaml': deployment('web', 'a', { config: 'settings', image: 'coxswain/node:20' }) }],
      ['a file that duplicates an object', { 'b/copy.yaml': deployment('api', 'b') }],
      ['the duplicate deleted', { 'b/copy.yaml': null }],
      ['the referenced ConfigMap deleted', { 'a/settings.yaml': null }],
      ['the ConfigMap back under another name', { 'a/config/settings.yaml': configMap('settings', 'a') }],
      ['a renamed file', { 'a/web.yaml': null, 'a/web-renamed.yaml': deployment('web', 'a', { config: 'settings', image: 'coxswain/node:20' }) }],
      ['a node port used in another namespace', { 'a/web-svc.yaml': service('web', 'a', 'web', 30080) }],
      ['a Service that starts selecting pods', { 'b/lonely-svc.yaml': service('lonely', 'b', 'api') }],
      ['a new cluster policy', { 'cluster.yaml': 'apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: lab\nspec:\n  nodePortRange: 30000-30050\n' }],
      ['the node port conflict resolved', { 'a/web-svc.yaml': service('web', 'a', 'web') }],
    ];
    const loader = new DesiredLoader(path.join(repo.dir, '.git'));
    let previous: DesiredCommit | undefined;
    const seen = new Set<string>();
    for (const [what, files] of steps) {
      const commit = commitFiles(repo.dir, files, what);
      const incremental = await loader.load(commit, previous);
      const cold = await new DesiredLoader(path.join(repo.dir, '.git')).load(commit);
      assert.deepEqual(outcome(incremental), outcome(cold), `after ${what}`);
      for (const d of cold.diagnostics) seen.add(d.message.replace(/ \(.*$/, ''));
      previous = incremental;
    }
    const messages = [...seen].join('\n');
    for (const expected of ['is defined twice', 'ConfigMap a/settings is not in the repository', 'also selects the pods of', 'selects no Pod', 'is also used by', 'outside the cluster\'s nodePortRange']) {
      assert.ok(messages.includes(expected), `the edits should produce "${expected}" at some point:\n${messages}`);
    }
  });

  it('gives exactly a cold load after random commits, with the changes a whole-store comparison finds, and leaves the commit it started from as it was', async function () {
    this.timeout(300_000);
    await fc.assert(
      fc.asyncProperty(fc.array(manifestCommit, { minLength: 2, maxLength: 6 }), async (commits) => {
        const run = tempRepo();
        try {
          const gitdir = path.join(run.dir, '.git');
          const loader = new DesiredLoader(gitdir);
          let previous: DesiredCommit | undefined;
          for (const [i, changes] of commits.entries()) {
            const commit = commitStep(run.dir, changes, `step ${i}`);
            const before = previous && JSON.stringify(outcome(previous));
            const next = await loader.load(commit, previous);
            if (previous) assert.equal(JSON.stringify(outcome(previous)), before, 'the commit loaded against is unchanged (the last valid one stays applicable)');
            const cold = await new DesiredLoader(gitdir).load(commit);
            assert.deepEqual(outcome(next), outcome(cold), `step ${i}`);
            assert.deepEqual(changeKeys(next.changes), changeKeys(objectChanges(previous?.store, next.store)), `changes at step ${i}`);
            previous = next;
          }
        } finally {
          run.cleanup();
        }
      }),
      { numRuns: 12 },
    );
  });
});
