import assert from 'node:assert/strict';
import { gitCli } from '../../engine/status/testing.ts';
import { StatusWriter } from '../../engine/status/index.ts';
import { DesiredLoader } from '../../engine/source/loader.ts';
import { resolveGitDir } from '../../engine/status/git.ts';
import { ObjectStore, type ManifestObject } from '../../engine/manifests/index.ts';
import { reconcile, type DesiredObjects } from '../../engine/controllers/index.ts';
import { markReady } from '../../engine/controllers/testing.ts';
import { previewObjects } from '../../engine/daemon/previews.ts';
import type { DesiredObject } from '../../engine/daemon/ports.ts';
import { emptyObserved, type ObservedState } from '../../engine/model.ts';
import { startGitHttpServer } from '../../engine/source/git-http-server.ts';
import { clusterRepository, fakeGitHub, pullRequestEvent, runAction, webYaml, write } from './testing.ts';

const TOKEN = 'ghs_secretTokenValue1234567890';

/** What the engine would write for `commit` (plus previews) once every pod is Ready: real reconcile, real status files, on origin. */
async function writeStatus(origin: string, repoDir: string, commit: string, previews: Array<{ name: string; commit: string }> = []): Promise<ObservedState> {
  const loader = new DesiredLoader(resolveGitDir(repoDir));
  const main = await loader.load(commit);
  const objects: ManifestObject[] = [...main.store.all()];
  for (const p of previews) {
    const loaded = await loader.load(p.commit);
    const policy = (main.store.cluster.spec as { previews?: Parameters<typeof previewObjects>[1] }).previews;
    objects.push(...(previewObjects([{ name: p.name, commit: p.commit, committedAt: new Date(), objects: loaded.store.all() as DesiredObject[] }], policy, new Date()).objects as ManifestObject[]));
  }
  const desired = new ObjectStore(objects, main.store.cluster) as unknown as DesiredObjects;
  const now = new Date();
  let observed = reconcile({ desired, commit, observed: emptyObserved(), now }).observed;
  observed = markReady(observed);
  observed = reconcile({ desired, commit, observed, now }).observed;
  const writer = await StatusWriter.open({ repoDir: origin, now: () => now });
  writer.update(observed, { desiredCommit: commit, reason: 'test' });
  await writer.flush();
  await writer.close();
  return observed;
}

describe('the bundled action run as GitHub runs it', function () {
  this.timeout(120_000);
  let cluster: ReturnType<typeof clusterRepository>;
  let github: Awaited<ReturnType<typeof fakeGitHub>>;
  beforeEach(async () => {
    cluster = clusterRepository();
    github = await fakeGitHub();
  });
  afterEach(async () => {
    await github.close();
    cluster.cleanup();
  });

  it('plans a pull request against an empty cluster when origin has no status branch, and says so', async () => {
    const run = await runAction({ workspace: cluster.repo, inputs: { 'github-token': TOKEN }, event: pullRequestEvent(7, cluster.head()), apiUrl: github.url });
    assert.equal(run.code, 0, run.stdout);
    assert.deepEqual(run.outputs, { valid: 'true', 'has-changes': 'true' });
    assert.match(run.summary, /^## Coxswain plan for #7/);
    assert.match(run.summary, /Planned against an empty cluster:\*\* origin has no branch coxswain\/status yet/);
    assert.match(run.summary, /#### Pods to create\n\n\| Pod \| Node \| Owner \| Score \|/);
    assert.equal((run.summary.match(/\| `demo\/web-[a-z0-9]+-[a-z0-9]+` \| h[123] \|/g) ?? []).length, 2, 'two pods, each with its node');
    assert.match(run.summary, /\| `demo\/web` \| new \| NodePort \| 100\.127\.0\.\d+ \| http 80\/TCP -> http \(nodePort \d+\) \|/);
  });

  it('creates one sticky comment, and a second run updates it instead of adding another', async () => {
    const first = await runAction({ workspace: cluster.repo, inputs: { 'github-token': TOKEN }, event: pullRequestEvent(7, cluster.head()), apiUrl: github.url });
    assert.equal(first.code, 0, first.stdout);
    assert.deepEqual(github.requests.map((r) => `${r.method} ${r.url}`), ['GET /repos/acme/cluster/issues/7/comments?per_page=100&page=1', 'POST /repos/acme/cluster/issues/7/comments']);
    assert.ok(github.requests.every((r) => r.authorization === `Bearer ${TOKEN}`));
    const [id] = [...github.comments.keys()];
    assert.match(github.comments.get(id)!, /^<!-- coxswain-plan -->\n/);

    write(cluster.repo, 'demo/web.yaml', webYaml('coxswain/busybox:1', 3));
    const head = cluster.commit('scale web to 3');
    github.requests.length = 0;
    const second = await runAction({ workspace: cluster.repo, inputs: { 'github-token': TOKEN }, event: pullRequestEvent(7, head), apiUrl: github.url });
    assert.equal(second.code, 0, second.stdout);
    assert.deepEqual(github.requests.map((r) => `${r.method} ${r.url}`), ['GET /repos/acme/cluster/issues/7/comments?per_page=100&page=1', `PATCH /repos/acme/cluster/issues/comments/${id}`]);
    assert.equal(github.comments.size, 1);
    assert.match(github.comments.get(id)!, new RegExp(`Coxswain plan for \`${head.slice(0, 12)}\``));
    assert.match(second.stdout, new RegExp(`Pull-request comment ${id} updated`));
  });

  it('masks the token and never prints it', async () => {
    const run = await runAction({ workspace: cluster.repo, inputs: { 'github-token': TOKEN }, event: pullRequestEvent(7, cluster.head()), apiUrl: github.url });
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], `::add-mask::${TOKEN}`);
    assert.equal(lines.filter((l) => l.includes(TOKEN)).length, 1, 'only the mask command names it');
    assert.ok(!run.stderr.includes(TOKEN) && !run.summary.includes(TOKEN));
  });

  it('plans against the status branch fetched from origin: one surge pod, the rollout steps, the unchanged service', async () => {
    await writeStatus(cluster.origin, cluster.repo, cluster.head());
    write(cluster.repo, 'demo/web.yaml', webYaml('coxswain/busybox:2'));
    const head = cluster.commit('web v2');
    const run = await runAction({ workspace: cluster.repo, inputs: { 'github-token': TOKEN }, event: pullRequestEvent(8, head), apiUrl: github.url });
    assert.equal(run.code, 0, run.stdout);
    const status = gitCli(cluster.origin, ['rev-parse', 'coxswain/status']);
    assert.match(run.summary, new RegExp(`Planned against \`coxswain/status\` at \`${status.slice(0, 12)}\``));
    assert.match(run.summary, /#### Rollouts\n\n- \*\*Deployment\/demo\/web\*\*\n {2}1\. /);
    assert.match(run.summary, /\| `demo\/web` \| unchanged \| NodePort \|/);
    assert.equal((run.summary.match(/^\| `demo\/web-[a-z0-9]+-[a-z0-9]+` \| h[123] \|/gm) ?? []).length, 1, 'maxSurge 25% of 2 rounds up to 1 new pod');
    assert.equal(run.outputs['has-changes'], 'true');
  });

  it('reports no changes when the head is what the status branch already runs', async () => {
    await writeStatus(cluster.origin, cluster.repo, cluster.head());
    const run = await runAction({ workspace: cluster.repo, inputs: { comment: 'false' }, event: pullRequestEvent(9, cluster.head()) });
    assert.equal(run.code, 0, run.stdout);
    assert.deepEqual(run.outputs, { valid: 'true', 'has-changes': 'false' });
  });

  it('annotates each invalid manifest at its file, line and column and exits 1', async () => {
    write(cluster.repo, 'demo/web.yaml', webYaml('coxswain/busybox:1').replace('replicas: 2', 'replcas: 2'));
    const head = cluster.commit('typo');
    const run = await runAction({ workspace: cluster.root, inputs: { path: 'repo', 'github-token': TOKEN }, event: pullRequestEvent(7, head), apiUrl: github.url });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^::error file=repo\/demo\/web\.yaml,line=5,col=3,title=Coxswain%3A invalid [^:]*::.*replcas/m);
    assert.deepEqual(run.outputs, { valid: 'false', 'has-changes': 'false' });
    assert.match(run.summary, /#### Validation\n\n```\n.*demo\/web\.yaml:5:3: error: /);
    assert.match([...github.comments.values()][0], /nothing planned/);
  });

  it('still plans, with a warning, when the token may not comment (a fork\'s read-only token)', async () => {
    await github.close();
    github = await fakeGitHub({ refuseWrites: 403 });
    const run = await runAction({ workspace: cluster.repo, inputs: { 'github-token': TOKEN }, event: pullRequestEvent(7, cluster.head(), { fork: 'mallory/cluster' }), apiUrl: github.url });
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /^::warning::cannot write the pull-request comment \(the job summary has the plan\): GitHub API POST \/repos\/acme\/cluster\/issues\/7\/comments: 403/m);
    assert.match(run.summary, /Coxswain plan for #7/);
  });

  it('refuses a preview for a pull request from a fork, pushing nothing and calling no API', async () => {
    const run = await runAction({ workspace: cluster.repo, inputs: { mode: 'preview', 'github-token': TOKEN }, event: pullRequestEvent(7, cluster.head(), { fork: 'mallory/cluster' }), apiUrl: github.url });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^::error title=Coxswain preview refused::refusing a preview for pull request #7: its head is in the fork mallory\/cluster, not acme\/cluster/m);
    assert.equal(gitCli(cluster.origin, ['for-each-ref', 'refs/coxswain']), '');
    assert.deepEqual(github.requests, []);
  });

  it('pushes the preview ref, waits until the status branch shows pr-<n> Ready, and comments its services and pods', async () => {
    gitCli(cluster.repo, ['checkout', '-q', '-b', 'feature']);
    write(cluster.repo, 'demo/web.yaml', webYaml('coxswain/busybox:2', 3));
    const head = cluster.commit('web v2');
    gitCli(cluster.repo, ['checkout', '-q', 'main']);
    await writeStatus(cluster.origin, cluster.repo, gitCli(cluster.repo, ['rev-parse', 'main']));
    // The engine's part, played with its real pieces: once the ref appears, write pr-12 Ready to the status branch.
    const engine = (async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const ref = gitCli(cluster.origin, ['for-each-ref', '--format=%(objectname)', 'refs/coxswain/previews/pr-12']);
        if (ref) return writeStatus(cluster.origin, cluster.repo, gitCli(cluster.repo, ['rev-parse', 'main']), [{ name: 'pr-12', commit: ref }]);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the action never pushed refs/coxswain/previews/pr-12');
    })();
    const run = await runAction({ workspace: cluster.repo, inputs: { mode: 'preview', 'github-token': TOKEN, 'poll-interval': '0.2', timeout: '30' }, event: pullRequestEvent(12, head), apiUrl: github.url });
    const observed = await engine;
    assert.equal(run.code, 0, run.stdout);
    assert.equal(gitCli(cluster.origin, ['rev-parse', 'refs/coxswain/previews/pr-12']), head);
    assert.deepEqual(run.outputs, { 'preview-namespace': 'pr-12', 'preview-ready': 'true' });
    const pods = [...observed.pods.values()].filter((p) => p.metadata.namespace === 'pr-12');
    assert.equal(pods.length, 1, 'the preview policy caps replicas at 1');
    const vip = observed.services.get('pr-12/web')!.spec.clusterIP;
    const comment = [...github.comments.values()][0];
    assert.match(comment, /### Preview `pr-12` is Ready/);
    assert.ok(comment.includes(`| \`web\` | NodePort | ${vip} | http 80/TCP (nodePort `), comment);
    assert.ok(comment.includes(`| \`${pods[0].metadata.name}\` | ${pods[0].spec.nodeName} | Running | yes |`), comment);
    assert.match(comment, /Deployment\/web: 3 -> 1 replicas \(preview limits\)/);
    assert.match(run.stdout, /Waiting up to 30 s for pr-12 to be Ready on coxswain\/status/);
  });

  it('keeps the plan section when the preview updates the sticky comment', async () => {
    const event = pullRequestEvent(12, cluster.head());
    assert.equal((await runAction({ workspace: cluster.repo, inputs: { 'github-token': TOKEN }, event, apiUrl: github.url })).code, 0);
    const run = await runAction({ workspace: cluster.repo, inputs: { mode: 'preview', 'github-token': TOKEN, timeout: '1', 'poll-interval': '0.2' }, event, apiUrl: github.url });
    assert.equal(run.code, 1, 'nothing deploys it, so it times out');
    assert.match(run.stdout, /^::error title=Coxswain preview::pr-12 not Ready within 1 s; still waiting for /m);
    assert.equal(github.comments.size, 1);
    const comment = [...github.comments.values()][0];
    assert.match(comment, /<!-- coxswain:plan:start -->\n## Coxswain plan for #12[\s\S]*<!-- coxswain:plan:end -->\n<!-- coxswain:preview:start -->\n### Preview `pr-12` is not Ready yet[\s\S]*<!-- coxswain:preview:end -->\n$/);
  });

  it('cleanup deletes the preview ref and waits until the status branch no longer shows the namespace', async () => {
    gitCli(cluster.repo, ['push', '-q', 'origin', `${cluster.head()}:refs/coxswain/previews/pr-12`]);
    await writeStatus(cluster.origin, cluster.repo, cluster.head(), [{ name: 'pr-12', commit: cluster.head() }]);
    const engine = (async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (!gitCli(cluster.origin, ['for-each-ref', 'refs/coxswain/previews/pr-12'])) return writeStatus(cluster.origin, cluster.repo, cluster.head());
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the action never deleted refs/coxswain/previews/pr-12');
    })();
    const run = await runAction({ workspace: cluster.repo, inputs: { mode: 'cleanup', 'github-token': TOKEN, 'poll-interval': '0.2', timeout: '30' }, event: pullRequestEvent(12, cluster.head(), { action: 'closed' }), apiUrl: github.url });
    await engine;
    assert.equal(run.code, 0, run.stdout);
    assert.equal(gitCli(cluster.origin, ['for-each-ref', 'refs/coxswain']), '');
    assert.match([...github.comments.values()][0], /### Preview `pr-12` removed\n\nThe ref `refs\/coxswain\/previews\/pr-12` is deleted and nothing of `pr-12` remains on `coxswain\/status`\./);
  });

  it('over HTTPS-style smart HTTP, the token reaches git only through its credential helper: plan fetches, preview pushes, cleanup deletes', async () => {
    const server = await startGitHttpServer(cluster.root, TOKEN);
    try {
      await writeStatus(cluster.origin, cluster.repo, cluster.head());
      gitCli(cluster.repo, ['remote', 'set-url', 'origin', server.url('origin.git')]);
      const event = pullRequestEvent(30, cluster.head());
      const plan = await runAction({ workspace: cluster.repo, inputs: { 'github-token': TOKEN, comment: 'false' }, event });
      assert.equal(plan.code, 0, plan.stdout);
      assert.match(plan.summary, /Planned against `coxswain\/status` at `[0-9a-f]{12}`/);
      const preview = await runAction({ workspace: cluster.repo, inputs: { mode: 'preview', 'github-token': TOKEN, comment: 'false', wait: 'false' }, event });
      assert.equal(preview.code, 0, preview.stdout);
      assert.equal(gitCli(cluster.origin, ['rev-parse', 'refs/coxswain/previews/pr-30']), cluster.head());
      assert.ok(server.requests.some((r) => r.startsWith('POST /origin.git/git-receive-pack')));
      const cleanup = await runAction({ workspace: cluster.repo, inputs: { mode: 'cleanup', 'github-token': TOKEN, comment: 'false', wait: 'false' }, event: pullRequestEvent(30, cluster.head(), { action: 'closed' }) });
      assert.equal(cleanup.code, 0, cleanup.stdout);
      assert.equal(gitCli(cluster.origin, ['for-each-ref', 'refs/coxswain']), '');
      for (const run of [plan, preview, cleanup]) assert.equal(run.stdout.split(TOKEN).length - 1, 1, 'the token appears once, in ::add-mask::');

      const refused = await runAction({ workspace: cluster.repo, inputs: { mode: 'preview', 'github-token': 'ghs_wrong', comment: 'false', wait: 'false' }, event });
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /^::error title=Coxswain::cannot push refs\/coxswain\/previews\/pr-30 to origin: /m);
      assert.ok(!refused.stdout.replace('::add-mask::ghs_wrong', '').includes('ghs_wrong'));
    } finally {
      await server.close();
    }
  });

  it('in a shallow checkout without the head commit (a merge-commit checkout), fetches the status branch and the head, then pushes the preview', async () => {
    await writeStatus(cluster.origin, cluster.repo, cluster.head());
    gitCli(cluster.repo, ['checkout', '-q', '-b', 'feature']);
    write(cluster.repo, 'demo/web.yaml', webYaml('coxswain/busybox:2'));
    const head = cluster.commit('web v2');
    gitCli(cluster.repo, ['push', '-q', 'origin', 'feature']);
    gitCli(cluster.root, ['clone', '-q', '--depth', '1', '--branch', 'main', `file://${cluster.origin}`, 'shallow']);
    const shallow = `${cluster.root}/shallow`;
    assert.equal(gitCli(shallow, ['rev-parse', '--is-shallow-repository']), 'true');
    const event = pullRequestEvent(40, head);
    const plan = await runAction({ workspace: shallow, inputs: { comment: 'false' }, event });
    assert.equal(plan.code, 0, plan.stdout);
    assert.match(plan.summary, /Planned against `coxswain\/status` at `[0-9a-f]{12}`/);
    const preview = await runAction({ workspace: shallow, inputs: { mode: 'preview', comment: 'false', wait: 'false' }, event });
    assert.equal(preview.code, 0, preview.stdout);
    assert.equal(gitCli(cluster.origin, ['rev-parse', 'refs/coxswain/previews/pr-40']), head);
    assert.equal(gitCli(shallow, ['rev-parse', '--is-shallow-repository']), 'true', 'still shallow: only what was needed was fetched');
  });
});
