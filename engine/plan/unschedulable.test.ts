import assert from 'node:assert/strict';
import { gitCli, tempRepo, TEST_HOST_KEY as HOST_KEY, write } from '../status/testing.ts';
import { run } from '../cli/plan.ts';

/** A repository with two nodes in two zones; h2 is cordoned. */
function seed(dir: string): void {
  write(dir, 'cluster.yaml', 'apiVersion: coxswain.dev/v1alpha1\nkind: Cluster\nmetadata: {name: test}\nspec: {podCIDR: 100.64.0.0/16, serviceCIDR: 100.127.0.0/24}\n');
  write(dir, 'nodes/h1.yaml', `apiVersion: v1\nkind: Node\nmetadata: {name: h1, labels: {topology.kubernetes.io/zone: z1}}\nspec:\n  ssh: {address: 198.18.9.11, hostKeys: ["${HOST_KEY}"]}\n`);
  write(dir, 'nodes/h2.yaml', `apiVersion: v1\nkind: Node\nmetadata: {name: h2, labels: {topology.kubernetes.io/zone: z2}}\nspec:\n  unschedulable: true\n  ssh: {address: 198.18.9.12, hostKeys: ["${HOST_KEY}"]}\n`);
}

function io(cwd: string) {
  const out: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), cwd, env: {} }, out };
}

async function plan(dir: string, format: 'text' | 'json'): Promise<string> {
  const cli = io(dir);
  assert.equal(await run(['-o', format], cli.io), 0);
  return cli.out.join('');
}

describe('cox plan names why a pod cannot be placed', function () {
  this.timeout(60_000);
  let repo: ReturnType<typeof tempRepo>;
  beforeEach(() => {
    repo = tempRepo();
    seed(repo.dir);
  });
  afterEach(() => repo.cleanup());

  it('a replica that would break a DoNotSchedule zone spread is planned unschedulable with the topology spread reason', async () => {
    write(repo.dir, 'apps/web.yaml', `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: DoNotSchedule
          labelSelector: {matchLabels: {app: web}}
      containers:
        - {name: web, image: coxswain/busybox:1}
`);
    gitCli(repo.dir, ['add', '-A']);
    gitCli(repo.dir, ['commit', '-q', '-m', 'web spread over zones']);
    const reason = "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) were unschedulable.";
    const json = JSON.parse(await plan(repo.dir, 'json')) as { create: Array<{ node?: string; unschedulable?: string }>; unschedulable: Array<{ message: string }> };
    assert.deepEqual(json.create.map((p) => p.node ?? p.unschedulable).sort(), [reason, 'h1']);
    assert.deepEqual(json.unschedulable.map((u) => u.message), [reason]);
    assert.ok((await plan(repo.dir, 'text')).includes(reason));
  });

  it('a DaemonSet pod that does not fit its node is planned unschedulable with Insufficient cpu, the other created on its node', async () => {
    // Nodes without observed status are assumed to have 4 cpus; h2 is cordoned, which a daemon pod tolerates.
    write(repo.dir, 'apps/hog.yaml', `apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  nodeName: h1
  containers:
    - {name: hog, image: coxswain/busybox:1, resources: {requests: {cpu: "3500m"}}}
`);
    write(repo.dir, 'apps/agent.yaml', `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
        - {name: agent, image: coxswain/busybox:1, resources: {requests: {cpu: "1"}}}
`);
    gitCli(repo.dir, ['add', '-A']);
    gitCli(repo.dir, ['commit', '-q', '-m', 'a daemon that does not fit next to the hog']);
    const reason = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't satisfy plugin(s) [NodeAffinity].";
    const json = JSON.parse(await plan(repo.dir, 'json')) as { create: Array<{ owner?: string; node?: string; unschedulable?: string }> };
    const daemons = json.create.filter((p) => p.owner === 'DaemonSet/default/agent');
    assert.deepEqual(daemons.map((p) => p.node ?? p.unschedulable).sort(), [reason, 'h2']);
    assert.ok((await plan(repo.dir, 'text')).includes(reason));
  });
});
