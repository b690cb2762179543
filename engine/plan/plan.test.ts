import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gitCli, tempRepo, webManifests, write, writeClusterFiles } from '../status/testing.ts';
import { StatusWriter } from '../status/index.ts';
import { DesiredLoader } from '../source/loader.ts';
import { resolveGitDir } from '../status/git.ts';
import { reconcile, type DesiredObjects } from '../controllers/index.ts';
import { markReady, store, node, deployment, service, emptyObserved } from '../controllers/testing.ts';
import { makePlan, planFrom, renderPlan } from './index.ts';
import { run } from '../cli/plan.ts';

function webYaml(image: string, replicas = 3): string {
  return webManifests(image, { replicas });
}

function seed(dir: string): void {
  writeClusterFiles(dir, { nodeSubnet: '198.18.9' });
  write(dir, 'apps/web.yaml', webYaml('coxswain/busybox:1'));
  gitCli(dir, ['add', '-A']);
  gitCli(dir, ['commit', '-q', '-m', 'web v1']);
}

function io(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), cwd, env: {} }, out, err };
}

describe('cox plan against a real repository', function () {
  this.timeout(60_000);
  let repo: ReturnType<typeof tempRepo>;
  beforeEach(() => {
    repo = tempRepo();
    seed(repo.dir);
  });
  afterEach(() => repo.cleanup());

  it('with no status branch plans every pod, assumes the nodes available and says so', async () => {
    const plan = await makePlan({ repoDir: repo.dir });
    assert.equal(plan.valid, true);
    assert.equal(plan.statusCommit, undefined);
    assert.deepEqual(plan.assumedNodes, ['h1', 'h2', 'h3']);
    assert.equal(plan.create.length, 3);
    assert.deepEqual(plan.create.map((p) => p.node).sort(), ['h1', 'h2', 'h3']);
    assert.ok(plan.create.every((p) => p.scores && p.scores.total > 0));
    assert.equal(plan.services[0].change, 'new');
    const text = renderPlan(plan, 'text');
    assert.match(text, /Nodes without observed status, assumed Ready with cpu 4, memory 8Gi, pods 110: h1, h2, h3/);
  });

  it('prints byte-identical output for identical inputs, in every format', async () => {
    for (const format of ['text', 'json', 'markdown'] as const) {
      const a = renderPlan(await makePlan({ repoDir: repo.dir }), format);
      const b = renderPlan(await makePlan({ repoDir: repo.dir }), format);
      assert.equal(a, b, format);
    }
  });

  it('against observed status, a new image plans the first surge pod and every later rollout step', async () => {
    const gitdir = resolveGitDir(repo.dir);
    const head = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    const loaded = await new DesiredLoader(gitdir).load(head);
    const now = new Date(Date.parse(gitCli(repo.dir, ['log', '-1', '--format=%cI'])) + 1000);
    let observed = reconcile({ desired: loaded.store as unknown as DesiredObjects, commit: head, observed: emptyObserved(), now }).observed;
    observed = markReady(observed);
    observed = reconcile({ desired: loaded.store as unknown as DesiredObjects, commit: head, observed, now }).observed;
    const writer = await StatusWriter.open({ repoDir: repo.dir, now: () => now });
    writer.update(observed, { desiredCommit: head, reason: 'test' });
    await writer.flush();
    await writer.close();

    write(repo.dir, 'apps/web.yaml', webYaml('coxswain/busybox:2'));
    gitCli(repo.dir, ['commit', '-q', '-am', 'web v2']);
    const plan = await makePlan({ repoDir: repo.dir });
    assert.ok(plan.statusCommit);
    assert.deepEqual(plan.assumedNodes, ['h1', 'h2', 'h3'], 'no node reported allocatable in this status');
    assert.equal(plan.create.length, 1, 'maxSurge 25% of 3 rounds up to 1');
    assert.equal(plan.delete.length, 0);
    assert.equal(plan.rollouts.length, 1);
    assert.equal(plan.rollouts[0].workload, 'Deployment/default/web');
    assert.equal(plan.rollouts[0].complete, true);
    assert.ok(plan.rollouts[0].steps.length >= 3);
    assert.equal(plan.services[0].change, 'unchanged');
    const text = renderPlan(plan, 'text');
    assert.match(text, /Rollouts/);

    const cli = io(repo.dir);
    assert.equal(await run(['-o', 'json'], cli.io), 0);
    assert.deepEqual(JSON.parse(cli.out.join('')), JSON.parse(renderPlan(plan, 'json')));
  });

  it('exits 1 and prints the positioned errors when the manifests are invalid', async () => {
    write(repo.dir, 'apps/web.yaml', webYaml('coxswain/busybox:1').replace('replicas: 3', 'replcas: 3'));
    gitCli(repo.dir, ['commit', '-q', '-am', 'typo']);
    const cli = io(repo.dir);
    assert.equal(await run([], cli.io), 1);
    const text = cli.out.join('');
    assert.match(text, /apps\/web\.yaml:\d+:\d+: error: .*replcas/);
    assert.match(text, /nothing planned/);
  });

  it('plans an older revision given with --rev', async () => {
    const first = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    write(repo.dir, 'apps/web.yaml', webYaml('coxswain/busybox:1', 5));
    gitCli(repo.dir, ['commit', '-q', '-am', 'scale']);
    assert.equal((await makePlan({ repoDir: repo.dir })).create.length, 5);
    const old = await makePlan({ repoDir: repo.dir, rev: first.slice(0, 10) });
    assert.equal(old.desiredCommit, first);
    assert.equal(old.create.length, 3);
  });
});

describe('plan determinism', () => {
  it('identical inputs give identical plans for any mix of deployments and nodes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.record({ replicas: fc.integer({ min: 0, max: 5 }), cpu: fc.integer({ min: 50, max: 1500 }) }), { maxLength: 6 }), (nodeCount, apps) => {
        const objects = [
          ...Array.from({ length: nodeCount }, (_, i) => node(`h${i + 1}`)),
          ...apps.flatMap((a, i) => [deployment(`app${i}`, { replicas: a.replicas, cpu: `${a.cpu}m` }), service(`app${i}`)]),
        ];
        const build = () => renderPlan(planFrom({ desired: store(objects), commit: 'c0ffee', observed: emptyObserved(), now: new Date('2026-01-01T00:00:00Z'), valid: true, diagnostics: [] }), 'json');
        assert.equal(build(), build());
      }),
      { numRuns: 50 },
    );
  });
});
