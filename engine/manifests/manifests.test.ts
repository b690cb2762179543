import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Deployment, DaemonSet, Node, Pod, ReplicationController, Secret, Service } from '../../schemas/types.generated.ts';
import { readManifestFiles } from './files.ts';
import { defaultCluster, formatDiagnostic, loadManifests, parseManifestFile, positionOf, sourceOf, type SourceFile } from './index.ts';
import { editDistance, didYouMean } from './suggest.ts';

const testdata = path.join(import.meta.dirname, 'testdata');
const repoRoot = path.resolve(import.meta.dirname, '../..');

function fixture(dir: 'valid' | 'invalid', name: string): SourceFile {
  return { path: name, text: readFileSync(path.join(testdata, dir, name), 'utf8') };
}

function load(text: string, file = 'test.yaml') {
  return loadManifests([{ path: file, text }]);
}

const deployment = (extra = '') => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "coxswain/busybox:1"}]
${extra}`;

describe('manifests: valid fixtures', () => {
  const sentences: Record<string, string> = {
    'deployment-full.yaml': 'a Deployment using every supported pod-spec field, with its ConfigMap, Secret and Services, loads without a diagnostic',
    'kubectl-output.yaml': "kubectl's dry-run output (creationTimestamp: null, status: {}, strategy: {}) loads without a diagnostic",
    'list.yaml': 'a kind: List of a Pod and a Service loads both items without a diagnostic',
    'workloads.json': 'a DaemonSet written as JSON loads without a diagnostic',
    'controllers.yaml': 'a ReplicaSet and a ReplicationController without a selector load without a diagnostic',
    'cluster.yaml': 'the example cluster.yaml loads without a diagnostic',
    'node.yaml': 'a Node with a real pinned ed25519 host key loads without a diagnostic',
  };
  const files = readdirSync(path.join(testdata, 'valid')).sort();
  it('every valid fixture has a sentence in this table', () => assert.deepEqual(files, Object.keys(sentences).sort()));
  for (const name of files) {
    it(sentences[name] ?? name, () => {
      const result = loadManifests([fixture('valid', name)]);
      assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
      assert.ok(result.store.size > 0);
    });
  }

  it('all valid fixtures load together as one repository without a diagnostic', () => {
    const result = loadManifests(files.map((name) => fixture('valid', name)));
    assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
    assert.equal(result.cluster.metadata.name, 'examples');
  });

  it('examples-repo validates with neither errors nor warnings, and its example Node file is valid too', async () => {
    const files = await readManifestFiles(['examples-repo', 'examples-repo/docs/node.yaml.example'], repoRoot);
    const result = loadManifests(files);
    assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
    assert.deepEqual(result.store.list('Deployment', 'demo').map((d) => [d.metadata.name, d.spec.replicas]), [['api', 2], ['web', 3]]);
    assert.ok(files.every((f) => !f.path.includes('.github')), 'hidden directories are not manifests');
  });
});

describe('manifests: invalid fixtures report exactly the expected diagnostics', () => {
  const sentences: Record<string, string> = {
    'unknown-fields.yaml': 'unknown fields are errors at their key, with "did you mean" for near misses (and no second error for the misspelt required field)',
    'field-classes.yaml': 'fields without effect are warnings and unsupported fields (hostPID, lifecycle, persistentVolumeClaim) are errors naming them',
    'yaml-syntax.yaml': 'YAML syntax errors and duplicate keys are reported at their position while the file\'s valid documents still load',
    'types.yaml': 'wrong types, enum near misses, port ranges, malformed quantities and relative mount paths are one sentence each',
    'semantics.yaml': 'names, selector against template labels, strategy, restartPolicy, probe ports and handlers, volumes, limits and duplicate containers are checked',
    'policy.yaml': 'hostNetwork, privileged, hostPort and hostPath are refused naming the cluster policy setting that would allow each',
    'services.yaml': 'Service port names, node ports outside the range, a clusterIP outside the service CIDR and undeclared target port names are reported',
    'nodes.yaml': 'duplicate node addresses, malformed host keys and pod subnets outside the cluster or overlapping are errors',
    'kinds.yaml': 'unsupported, ignored, misspelt and wrong-apiVersion kinds, and documents that are not manifests, are reported',
    'selectors.yaml': 'a controller whose selector also matches another controller\'s pods or a bare Pod gets a warning naming them',
    'references.yaml': 'references to missing ConfigMaps, Secrets and keys are errors, and a second object of the same name names the first',
    'topology-spread.yaml': 'topology spread constraints with maxSkew below 1, an unknown whenUnsatisfiable or policy, minDomains without DoNotSchedule, matchLabelKeys without a labelSelector and a repeated topologyKey are errors at their field',
  };
  const files = readdirSync(path.join(testdata, 'invalid')).sort();
  it('every invalid fixture has a sentence in this table', () => assert.deepEqual(files, Object.keys(sentences).sort()));
  for (const name of files) {
    it(sentences[name] ?? name, () => {
      const file = fixture('invalid', name);
      const expected = [...file.text.matchAll(/^# expect: (.*)$/gm)].map((m) => m[1]);
      assert.ok(expected.length > 0, 'the fixture lists its expected diagnostics');
      const actual = loadManifests([file]).diagnostics.map((d) => `${d.line}:${d.column} ${d.severity}: ${d.message}`);
      assert.deepEqual(actual, expected);
    });
  }
});

describe('manifests: messages', () => {
  it('prints a diagnostic as file:line:col: severity: field: message, as in the issue', () => {
    const text = `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replcas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: x}]}\n`;
    const [d] = load(text, 'apps/web.yaml').diagnostics;
    assert.equal(formatDiagnostic(d), 'apps/web.yaml:5:3: error: spec.replcas: unknown field (did you mean "replicas"?)');
    assert.equal(d.field, 'spec.replcas');
  });

  it('positions errors inside a JSON file at the offending value', () => {
    const text = '{\n  "apiVersion": "v1",\n  "kind": "Service",\n  "metadata": {"name": "api"},\n  "spec": {"ports": [{"port": "eighty"}]}\n}\n';
    const [d] = load(text, 'svc.json').diagnostics;
    assert.equal(formatDiagnostic(d), 'svc.json:5:31: error: spec.ports[0].port: must be an integer, not the string "eighty"');
  });

  it('names both places when the same object is defined in two files', () => {
    const result = loadManifests([{ path: 'a.yaml', text: deployment() }, { path: 'b.yaml', text: `# copy\n${deployment()}` }]);
    assert.deepEqual(result.diagnostics.map(formatDiagnostic), ['b.yaml:4:18: error: metadata.name: Deployment demo/web is defined twice: also at a.yaml:1:1']);
    assert.equal(result.store.list('Deployment').length, 1);
  });

  it('refuses a second Cluster and keeps the first', () => {
    const cluster = (name: string) => `apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata: {name: ${name}}\n`;
    const result = loadManifests([{ path: 'cluster.yaml', text: cluster('one') }, { path: 'other.yaml', text: cluster('two') }]);
    assert.deepEqual(result.diagnostics.map(formatDiagnostic), ['other.yaml:2:7: error: kind: a repository has one Cluster; the first is at cluster.yaml:1:1']);
    assert.equal(result.cluster.metadata.name, 'one');
  });

  it('accepts what the cluster policy allows', () => {
    const cluster = 'apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata: {name: lax}\nspec:\n  policy: {allowHostNetwork: true, allowPrivileged: true, allowHostPath: true, allowHostPorts: true}\n';
    const result = loadManifests([{ path: 'cluster.yaml', text: cluster }, fixture('invalid', 'policy.yaml')]);
    assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
  });

  const suggestions: Array<[string, string, string[], string | undefined]> = [
    ['a transposition is one edit', 'replcias', ['replicas', 'selector'], 'replicas'],
    ['case alone is always a match', 'containerport', ['containerPort', 'hostPort'], 'containerPort'],
    ['a missing word within reach is suggested', 'imagePolicy', ['image', 'imagePullPolicy'], 'imagePullPolicy'],
    ['nothing close means no suggestion', 'banana', ['replicas', 'selector', 'template'], undefined],
  ];
  for (const [name, input, candidates, expected] of suggestions) {
    it(`did-you-mean: ${name}`, () => assert.equal(didYouMean(input, candidates), expected));
  }
  it('edit distance counts an adjacent swap once', () => assert.deepEqual([editDistance('ab', 'ba'), editDistance('kitten', 'sitting')], [1, 3]));
});

describe('manifests: defaults', () => {
  const loaded = (text: string) => {
    const result = load(text);
    assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
    return result.store;
  };

  it('a Deployment gets replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600 and minReadySeconds 0', () => {
    const spec = loaded(deployment()).get('Deployment', 'demo', 'web')!.spec;
    assert.deepEqual(
      { replicas: spec.replicas, strategy: spec.strategy, revisionHistoryLimit: spec.revisionHistoryLimit, progressDeadlineSeconds: spec.progressDeadlineSeconds, minReadySeconds: spec.minReadySeconds, paused: spec.paused },
      { replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }, revisionHistoryLimit: 10, progressDeadlineSeconds: 600, minReadySeconds: 0, paused: false },
    );
  });

  it('a pod spec gets restartPolicy Always, terminationGracePeriodSeconds 30, hostNetwork false', () => {
    const spec = loaded(deployment()).get('Deployment', 'demo', 'web')!.spec.template.spec;
    assert.deepEqual([spec.restartPolicy, spec.terminationGracePeriodSeconds, spec.hostNetwork], ['Always', 30, false]);
  });

  const pullPolicies: Array<[string, string]> = [['coxswain/busybox:1', 'IfNotPresent'], ['busybox', 'Always'], ['busybox:latest', 'Always'], ['registry:5000/app', 'Always'], ['registry:5000/app:2', 'IfNotPresent'], ['app@sha256:abc', 'IfNotPresent']];
  for (const [image, policy] of pullPolicies) {
    it(`imagePullPolicy of ${image} defaults to ${policy}`, () => {
      const pod = loaded(`apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: "${image}"}]}\n`).get('Pod', 'default', 'p') as Pod;
      assert.equal(pod.spec.containers[0].imagePullPolicy, policy);
    });
  }

  it('probes get Kubernetes timings and ports get protocol TCP', () => {
    const pod = loaded('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x:1\n    ports: [{containerPort: 80}]\n    readinessProbe: {httpGet: {port: 80}}\n').get('Pod', 'default', 'p')!;
    const container = pod.spec.containers[0];
    assert.equal(container.ports![0].protocol, 'TCP');
    const { httpGet, initialDelaySeconds, timeoutSeconds, periodSeconds, successThreshold, failureThreshold } = container.readinessProbe!;
    assert.deepEqual({ httpGet, initialDelaySeconds, timeoutSeconds, periodSeconds, successThreshold, failureThreshold }, { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, initialDelaySeconds: 0, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  });

  it('a Service gets type ClusterIP, protocol TCP, targetPort = port and sessionAffinity None', () => {
    const service = loaded('apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n').get('Service', 'default', 's') as Service;
    assert.deepEqual([service.spec.type, service.spec.ports[0], service.spec.sessionAffinity], ['ClusterIP', { port: 80, protocol: 'TCP', targetPort: 80 }, 'None']);
  });

  it('a Node gets ssh port 22, user root and unschedulable false', () => {
    const node = loaded(fixture('valid', 'node.yaml').text.replace(/\n\s*port: 22\n/, '\n').replace(/\n\s*user: root\n/, '\n')).get('Node', undefined, 'web-1') as Node;
    assert.deepEqual([node.spec.ssh.port, node.spec.ssh.user, node.spec.unschedulable], [22, 'root', false]);
  });

  it('a missing cluster.yaml means every Cluster default: pod and service CIDRs, node ports, proxy mode, timings, scoring, a closed policy and preview limits', () => {
    assert.deepEqual(load('').cluster.spec, defaultCluster().spec);
    assert.deepEqual(defaultCluster().spec, {
      podCIDR: '100.64.0.0/16',
      serviceCIDR: '100.127.0.0/24',
      nodePortRange: '30000-32767',
      proxyMode: 'auto',
      nodeHeartbeatIntervalSeconds: 2,
      nodeMonitorGracePeriodSeconds: 8,
      podEvictionTimeoutSeconds: 15,
      scheduler: { scoringStrategy: 'LeastAllocated' },
      policy: { allowPrivileged: false, allowHostNetwork: false, allowHostPath: false, allowHostPorts: false },
      previews: { enabled: true, limits: { maxPods: 10, maxReplicas: 1 }, ttlHours: 72 },
    });
  });

  it('a namespaced object without a namespace is in "default"; a Node never has one', () => {
    const store = loaded(`${deployment().replace('namespace: demo', 'labels: {}')}`);
    assert.equal(store.list('Deployment')[0].metadata.namespace, 'default');
  });

  it('a ReplicationController without a selector selects its template labels', () => {
    const rc = loadManifests([fixture('valid', 'controllers.yaml')]).store.get('ReplicationController', 'ops', 'legacy') as ReplicationController;
    assert.deepEqual(rc.spec.selector, { app: 'legacy' });
  });

  it('a DaemonSet gets RollingUpdate with maxUnavailable 1 and maxSurge 0 unless it says otherwise', () => {
    const ds = loadManifests([fixture('valid', 'workloads.json')]).store.get('DaemonSet', 'ops', 'agent-logs') as DaemonSet;
    assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2, maxSurge: 0 } });
  });

  it("a Secret's stringData is folded into data as base64, as the API server does", () => {
    const secret = loadManifests([fixture('valid', 'deployment-full.yaml')]).store.get('Secret', 'shop', 'shop-secret') as Secret;
    assert.deepEqual(secret.data, { password: 'c2VjcmV0', token: Buffer.from('plain-text').toString('base64') });
    assert.equal(secret.stringData, undefined);
  });

  it('an octal file mode is read as YAML 1.1 reads it, as kubectl does (0644 is 420)', () => {
    const deploymentFull = loadManifests([fixture('valid', 'deployment-full.yaml')]).store.get('Deployment', 'shop', 'shop') as Deployment;
    assert.equal(deploymentFull.spec.template.spec.volumes![1].configMap!.defaultMode, 0o644);
  });
});

describe('manifests: positions and the store', () => {
  it('sourceOf gives where each object starts, including List items and later documents', () => {
    const result = loadManifests([fixture('valid', 'list.yaml'), fixture('valid', 'controllers.yaml')]);
    const at = (kind: 'Pod' | 'Service' | 'ReplicationController', ns: string, name: string) => sourceOf(result.store.get(kind, ns, name)!);
    assert.deepEqual(at('Pod', 'default', 'solo'), { file: 'list.yaml', line: 4, column: 5 });
    assert.deepEqual(at('Service', 'default', 'solo'), { file: 'list.yaml', line: 10, column: 5 });
    assert.deepEqual(at('ReplicationController', 'ops', 'legacy'), { file: 'controllers.yaml', line: 13, column: 1 });
  });

  it('positionOf finds any field of a loaded object, for later stages to report at', () => {
    const result = loadManifests([fixture('valid', 'deployment-full.yaml')]);
    const shop = result.store.get('Deployment', 'shop', 'shop')!;
    assert.deepEqual(positionOf(shop, ['spec', 'template', 'spec', 'containers', 0, 'image']), { file: 'deployment-full.yaml', line: 81, column: 18 });
    assert.deepEqual(positionOf(shop, ['spec', 'replicas'], 'key'), { file: 'deployment-full.yaml', line: 27, column: 3 });
  });

  it('lists objects by namespace then name, whatever the file order', () => {
    const pods = ['b', 'a', 'c'].map((name, i) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${i === 2 ? 'aaa' : 'zzz'}}\nspec: {containers: [{name: c, image: x:1}]}\n`);
    const store = loadManifests([{ path: 'z.yaml', text: pods[0] }, { path: 'y.yaml', text: pods[1] }, { path: 'x.yaml', text: pods[2] }]).store;
    assert.deepEqual(store.list('Pod').map((p) => `${p.metadata.namespace}/${p.metadata.name}`), ['aaa/c', 'zzz/a', 'zzz/b']);
    assert.deepEqual(store.list('Pod', 'zzz').map((p) => p.metadata.name), ['a', 'b']);
    assert.deepEqual(store.namespaces(), ['aaa', 'zzz']);
  });

  it('parseManifestFile is pure: the same text gives equal results every time', () => {
    const file = fixture('valid', 'deployment-full.yaml');
    assert.deepEqual(parseManifestFile(file), parseManifestFile(file));
  });

  it('an object with a schema error is left out of the store while the other objects of the file stay', () => {
    const result = load(`${deployment()}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: demo}\ndata: {a: 1}\n`);
    assert.deepEqual(result.diagnostics.map(formatDiagnostic), ['test.yaml:14:11: error: data.a: must be a string, not 1']);
    assert.deepEqual(result.store.all().map((o) => o.kind), ['Deployment']);
  });
});
