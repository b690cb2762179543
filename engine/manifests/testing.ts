/** Arbitraries for property tests of loading (engine/manifests and engine/source). */
import fc from 'fast-check';

/**
 * Manifests drawn from a few names, namespaces, labels, ports and addresses,
 * so that random files collide: objects defined twice, selectors that overlap
 * or select nothing, references that come and go, node ports, cluster IPs and
 * node addresses in use twice, a policy that refuses what another file asks,
 * Lists spanning namespaces, and files that do not parse at all.
 */
const name = fc.constantFrom('web', 'api', 'db');
const namespace = fc.constantFrom('a', 'b');
const app = fc.constantFrom('web', 'api', 'nobody');

const deployment = fc.record({ name, namespace, app, config: fc.option(fc.constantFrom('settings', 'other')), hostNetwork: fc.boolean() }).map(
  ({ name, namespace, app, config, hostNetwork }) => `apiVersion: apps/v1
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
    spec:${hostNetwork ? '\n      hostNetwork: true' : ''}
      containers:
        - name: app
          image: coxswain/busybox:1
          ports:
            - name: http
              containerPort: 8080${config ? `\n          env:\n            - name: LEVEL\n              valueFrom:\n                configMapKeyRef:\n                  name: ${config}\n                  key: LEVEL` : ''}
`,
);

const service = fc.record({ name, namespace, app, nodePort: fc.option(fc.constantFrom(30080, 30081, 40000)), clusterIP: fc.option(fc.constantFrom('10.96.0.10', '10.96.0.11', '192.0.2.1')), targetPort: fc.constantFrom('http', 'metrics', '8080') }).map(
  ({ name, namespace, app, nodePort, clusterIP, targetPort }) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
spec:${nodePort ? '\n  type: NodePort' : ''}${clusterIP ? `\n  clusterIP: ${clusterIP}` : ''}
  selector:
    app: ${app}
  ports:
    - port: 80
      targetPort: ${targetPort}${nodePort ? `\n      nodePort: ${nodePort}` : ''}
`,
);

const configMap = fc.record({ name: fc.constantFrom('settings', 'other'), namespace, key: fc.constantFrom('LEVEL', 'MODE') }).map(
  ({ name, namespace, key }) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\ndata:\n  ${key}: info\n`,
);

const node = fc.record({ name: fc.constantFrom('h1', 'h2'), address: fc.constantFrom('192.0.2.10', '192.0.2.11'), subnet: fc.constantFrom('100.64.1.0/24', '100.64.2.0/24', '10.0.0.0/24') }).map(
  ({ name, address, subnet }) => `apiVersion: v1
kind: Node
metadata:
  name: ${name}
spec:
  ssh:
    address: ${address}
    user: root
    hostKeys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBIzcnSmZZN+K3OnmcOtneZtcD0wUnnZTMdmSaphpqzt
  podCIDR: ${subnet}
`,
);

const cluster = fc.record({ name: fc.constantFrom('lab', 'other'), allowHostNetwork: fc.boolean(), range: fc.constantFrom('30000-32767', '30000-30080') }).map(
  ({ name, allowHostNetwork, range }) => `apiVersion: coxswain.dev/v1alpha1
kind: Cluster
metadata:
  name: ${name}
spec:
  nodePortRange: ${range}
  policy:
    allowHostNetwork: ${allowHostNetwork}
`,
);

const list = fc.tuple(configMap, deployment).map(([a, b]) => {
  const indent = (text: string) => text.trimEnd().split('\n').map((line, i) => (i === 0 ? `  - ${line}` : `    ${line}`)).join('\n');
  return `apiVersion: v1\nkind: List\nitems:\n${indent(a)}\n${indent(b)}\n`;
});

const broken = fc.constantFrom('kind: [unclosed\n', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports: nope\n', 'apiVersion: apps/v1\nkind: Deplyment\nmetadata:\n  name: x\n');

export const manifestContent = fc.oneof(deployment, service, configMap, node, cluster, list, broken, deployment.map((text) => `${text}---\n${text}`));
export const manifestPath = fc.constantFrom('a/web.yaml', 'a/api.yaml', 'a/z.yaml', 'b/web.yaml', 'b/list.yaml', 'nodes.yaml', 'zz/nodes.yaml', 'cluster.yaml', 'late/cluster.yaml');
/** One commit: a few files written (text) or deleted (null). */
export const manifestCommit = fc.array(fc.tuple(manifestPath, fc.option(manifestContent, { freq: 4 })), { minLength: 1, maxLength: 3 });

/** A whole repository's files (paths may repeat: the last text wins). */
export const manifestFiles = fc.array(fc.tuple(manifestPath, manifestContent), { minLength: 4, maxLength: 9 });
