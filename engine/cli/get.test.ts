import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { main } from './main.ts';
import { StatusWriter } from '../status/index.ts';
import { deployment, gitCli, node, observedOf, pod, service, tempRepo } from '../status/testing.ts';
import { commitFiles, podManifest } from '../source/testing.ts';

async function cox(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd, env: {} });
  return { code, stdout, stderr };
}

describe('cox get, describe and history read the status branch of a real clone', () => {
  let repo: { dir: string; cleanup: () => void };
  let desired: string;

  before(async () => {
    repo = tempRepo();
    desired = commitFiles(repo.dir, { 'apps/web.yaml': podManifest('web-1') }, 'deploy web');
    const writer = await StatusWriter.open({ repoDir: repo.dir });
    const web = { ...pod('web-1', { node: 'h2' }), metadata: { ...pod('web-1').metadata, creationTimestamp: '2026-11-22T00:00:00Z' } };
    writer.update(observedOf({ nodes: [node('h1'), node('h2')], pods: [web, pod('db-0', { namespace: 'data', node: 'h1', phase: 'Running', ip: '100.64.1.4' })], services: [service('web', [])], workloads: [deployment('web', 0, 1)] }), { desiredCommit: desired });
    await writer.flush();
    const running = { ...pod('web-1', { node: 'h2', phase: 'Running', ip: '100.64.2.5' }), metadata: web.metadata };
    writer.update(observedOf({ nodes: [node('h1'), node('h2')], pods: [running, pod('db-0', { namespace: 'data', node: 'h1', phase: 'Running', ip: '100.64.1.4' })], services: [service('web', [{ ip: '100.64.2.5', podName: 'web-1' }])], workloads: [deployment('web', 1, 1)] }), { desiredCommit: desired, reason: 'containers started' });
    await writer.flush();
  });
  after(() => repo.cleanup());

  const cases: Array<{ name: string; argv: string[]; expect: (out: { code: number; stdout: string; stderr: string }) => void }> = [
    {
      name: 'get pods prints the default namespace as a kubectl table',
      argv: ['get', 'pods'],
      expect: ({ code, stdout }) => {
        assert.equal(code, 0);
        const [header, row, extra] = stdout.trimEnd().split('\n');
        assert.match(header, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
        assert.match(row, /^web-1\s+1\/1\s+Running\s+0\s+\S+$/);
        assert.equal(extra, undefined);
      },
    },
    {
      name: 'get pods -A -o wide adds the namespace, IP and node columns',
      argv: ['get', 'po', '-A', '-o', 'wide'],
      expect: ({ stdout }) => {
        assert.match(stdout, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\n/);
        assert.match(stdout, /\ndata\s+db-0\s+1\/1\s+Running\s+0\s+\S+\s+100\.64\.1\.4\s+h1\n/);
        assert.match(stdout, /\ndefault\s+web-1\s+1\/1\s+Running\s+0\s+\S+\s+100\.64\.2\.5\s+h2\n/);
      },
    },
    {
      name: 'get pod NAME -o json prints the object as written on the branch',
      argv: ['get', 'pod', 'web-1', '-o', 'json'],
      expect: ({ stdout }) => {
        const obj = JSON.parse(stdout);
        assert.equal(obj.kind, 'Pod');
        assert.equal(obj.status.phase, 'Running');
      },
    },
    {
      name: 'get nodes -o yaml prints a List',
      argv: ['get', 'nodes', '-o', 'yaml'],
      expect: ({ stdout }) => assert.deepEqual(parseYaml(stdout).items.map((n: { metadata: { name: string } }) => n.metadata.name), ['h1', 'h2']),
    },
    {
      name: 'get services -o wide shows the ready endpoints',
      argv: ['get', 'svc', '-o', 'wide'],
      expect: ({ stdout }) => assert.match(stdout, /web\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+80\/TCP\s+\S+\s+app=web\s+100\.64\.2\.5:8080/),
    },
    {
      name: 'get deployments shows READY as ready over desired replicas',
      argv: ['get', 'deploy'],
      expect: ({ stdout }) => assert.match(stdout, /\nweb\s+1\/1\s+1\s+1\s+/),
    },
    {
      name: 'get of a missing pod names it and fails',
      argv: ['get', 'pod', 'nope'],
      expect: ({ code, stderr }) => {
        assert.equal(code, 1);
        assert.match(stderr, /pods "nope" not found in namespace default/);
      },
    },
    {
      name: 'describe pod joins the desired spec with its file, the status and the history',
      argv: ['describe', 'pod', 'web-1'],
      expect: ({ code, stdout }) => {
        assert.equal(code, 0);
        assert.match(stdout, /^Name:\s+web-1$/m);
        assert.match(stdout, /^Status:\s+Running$/m);
        assert.match(stdout, /from apps\/web\.yaml:1 at [0-9a-f]{12} \(Ada <ada@example\.com>\)/);
        assert.match(stdout, /image: coxswain\/busybox:1/);
        assert.match(stdout, /web-1: ContainerCreating -> Running on h2/);
        assert.match(stdout, /web-1: created, ContainerCreating on h2/);
      },
    },
    {
      name: 'history of one pod names the desired commit and its author, newest first',
      argv: ['history', 'pod/web-1', '-o', 'json'],
      expect: ({ stdout }) => {
        const records = JSON.parse(stdout);
        assert.equal(records.length, 2);
        assert.deepEqual(records[0].changes, ['web-1: ContainerCreating -> Running on h2, ready 0/1 -> 1/1, IP 100.64.2.5']);
        assert.equal(records[0].desiredCommit, desired);
        assert.equal(records[0].desiredAuthor, 'Ada <ada@example.com>');
        assert.equal(records[0].desiredSubject, 'deploy web');
        assert.equal(records[0].reason, 'containers started');
      },
    },
    {
      name: 'history --since in the future lists nothing',
      argv: ['history', '--since', '2999-01-01'],
      expect: ({ code, stdout, stderr }) => {
        assert.equal(code, 0);
        assert.equal(stdout, '');
        assert.match(stderr, /No status commits since 2999/);
      },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => c.expect(await cox([...c.argv, '--repo', repo.dir], '/')));
  }

  it('get of an unknown resource type is a usage error (exit 2)', async () => {
    const { run } = await import('./get.ts');
    await assert.rejects(run(['widgets', '--repo', repo.dir], { stdout: () => {}, stderr: () => {}, cwd: '/', env: {} }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'Usage');
      assert.match(err.message, /unknown resource type "widgets"/);
      return true;
    });
  });

  describe('on a plain git clone, where the status branch is only origin/coxswain/status', () => {
    let parent: string;
    let clone: string;
    before(() => {
      parent = mkdtempSync(path.join(os.tmpdir(), 'cox-clone-'));
      clone = path.join(parent, 'clone');
      gitCli(parent, ['clone', '-q', repo.dir, clone]);
      assert.equal(gitCli(clone, ['for-each-ref', '--format=%(refname)', 'refs/heads/coxswain']), '', 'git clone makes no local status branch');
      assert.notEqual(gitCli(clone, ['for-each-ref', '--format=%(refname)', 'refs/remotes/origin/coxswain/status']), '');
    });
    after(() => rmSync(parent, { recursive: true, force: true }));

    it('get pods reads origin/coxswain/status', async () => {
      const { code, stdout } = await cox(['get', 'pods', '--repo', clone], '/');
      assert.equal(code, 0);
      assert.match(stdout, /\nweb-1\s+1\/1\s+Running\s+0\s+\S+\n/);
    });

    it('describe joins the desired spec of the applied commit with the status and history read from origin', async () => {
      const { code, stdout } = await cox(['describe', 'pod', 'web-1', '--repo', clone], '/');
      assert.equal(code, 0);
      assert.match(stdout, /^Status:\s+Running$/m);
      assert.match(stdout, /from apps\/web\.yaml:1 at [0-9a-f]{12} \(Ada <ada@example\.com>\)/);
      assert.match(stdout, /web-1: ContainerCreating -> Running on h2/);
    });

    it('history lists the status commits of origin/coxswain/status with their desired commit', async () => {
      const { code, stdout } = await cox(['history', 'pod/web-1', '-o', 'json', '--repo', clone], '/');
      assert.equal(code, 0);
      const records = JSON.parse(stdout);
      assert.equal(records.length, 2);
      assert.equal(records[0].desiredCommit, desired);
    });

    it('plan compares with origin/coxswain/status', async () => {
      const { stdout } = await cox(['plan', '-o', 'json', '--repo', clone], '/');
      assert.equal(JSON.parse(stdout).statusCommit, gitCli(repo.dir, ['rev-parse', 'coxswain/status']));
    });
  });

  describe('in a repository with no status branch anywhere', () => {
    let bare: { dir: string; cleanup: () => void };
    let parent: string;
    let clone: string;
    before(() => {
      bare = tempRepo();
      commitFiles(bare.dir, { 'apps/web.yaml': podManifest('web-1') }, 'deploy web');
      parent = mkdtempSync(path.join(os.tmpdir(), 'cox-clone-'));
      clone = path.join(parent, 'clone');
      gitCli(parent, ['clone', '-q', bare.dir, clone]);
    });
    after(() => {
      bare.cleanup();
      rmSync(parent, { recursive: true, force: true });
    });

    it('describe still shows the desired spec, and says the object was not observed yet', async () => {
      const { code, stdout } = await cox(['describe', 'pod', 'web-1', '--repo', clone], '/');
      assert.equal(code, 0);
      assert.match(stdout, /Status: +not observed yet/);
      assert.match(stdout, /from apps\/web\.yaml:1/);
    });

    for (const argv of [['get', 'pods'], ['history']]) {
      it(`${argv[0]} fails (exit 1) and names the refs it looked at instead of printing an empty cluster`, async () => {
        const { code, stdout, stderr } = await cox([...argv, '--repo', clone], '/');
        assert.equal(code, 1);
        assert.equal(stdout, '');
        assert.equal(stderr, `cox ${argv[0]}: no status branch in ${clone}: looked for refs/heads/coxswain/status, refs/remotes/origin/coxswain/status (the engine writes coxswain/status; in a clone, \`git fetch\` brings it once the engine has pushed it)\n`);
      });
    }

    it('names only the local branch where there is no remote', async () => {
      const { code, stderr } = await cox(['get', 'pods', '--repo', bare.dir], '/');
      assert.equal(code, 1);
      assert.match(stderr, /looked for refs\/heads\/coxswain\/status \(the engine writes coxswain\/status\)\n$/);
    });
  });
});
