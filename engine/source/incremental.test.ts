import assert from 'node:assert/strict';
import path from 'node:path';
import { DesiredLoader, type DesiredCommit } from './index.ts';
import { tempRepo } from '../status/testing.ts';
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
});
