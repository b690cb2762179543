/**
 * A preview environment end to end in the lab (index 7, 2 hosts): the bundled
 * action, run as GitHub's runner runs it in a clone of the cluster repository,
 * pushes refs/coxswain/previews/pr-<n>; the real engine (a child process
 * driving real agents over SSH) deploys it into namespace pr-<n>; the action
 * waits on the status branch until it is Ready and comments its VIP and pods;
 * the VIP answers from inside a host; cleanup deletes the ref and the engine
 * removes the namespace — checked in Podman itself, not only in status.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { git } from '../../engine/cli/gitcli.ts';
import { labIndex, useLab } from './lab-fixture.ts';
import { ClusterRepo, getThroughVip, managedContainers, startEngine, waitFor, webApp, type EngineProcess } from './e2e-harness.ts';
import { fakeGitHub, pullRequestEvent, runAction } from '../../action/src/testing.ts';

const INDEX = labIndex(7);
const PR = 21;
const NS = `pr-${PR}`;

describe(`a preview environment from the GitHub Action, in the lab (index ${INDEX})`, function () {
  this.timeout(300_000);
  const handle = useLab({ index: INDEX, nodes: 2, name: 'action' });
  let repo: ClusterRepo;
  let engine: EngineProcess | undefined;
  let workspace: string;
  let github: Awaited<ReturnType<typeof fakeGitHub>>;
  const engineLog = () => (engine ? `\n--- engine log (tail) ---\n${engine.log().split('\n').slice(-30).join('\n')}` : '');

  before(async function () {
    this.timeout(180_000);
    repo = new ClusterRepo(handle.lab.clusterRepo ?? path.join(handle.dir, 'cluster-repo'));
    for (const entry of (await git(repo.dir, ['ls-files'])).stdout.split('\n').filter(Boolean)) {
      if (!entry.startsWith('nodes/') && entry !== 'cluster.yaml') repo.remove(entry);
    }
    await repo.commit('action preview: start from the nodes and the cluster only');
    for (const ref of (await git(repo.dir, ['for-each-ref', '--format=%(refname)', 'refs/coxswain/previews/'])).stdout.split('\n').filter(Boolean)) {
      await git(repo.dir, ['update-ref', '-d', ref]);
    }
    const logFile = path.join(handle.dir, 'engine.log');
    rmSync(logFile, { force: true });
    engine = startEngine({ repo: repo.dir, sshKey: handle.lab.clientKeyPath, logFile });
    await waitFor('every node Ready in status', async () => {
      const nodes = [...(await repo.status()).nodes.values()];
      return nodes.length === 2 && nodes.every((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 120_000);
    workspace = mkdtempSync(path.join(os.tmpdir(), 'cox-action-ws-'));
    await git(workspace, ['clone', '-q', repo.dir, 'repo']);
    github = await fakeGitHub();
  });

  after(async function () {
    this.timeout(60_000);
    await engine?.stop();
    await github?.close();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  it('deploys the pull request into pr-<n>, waits until Ready, comments the VIP, serves through it, and cleanup removes it', async () => {
    const ws = path.join(workspace, 'repo');
    const feature = new ClusterRepo(ws);
    await git(ws, ['checkout', '-q', '-b', 'feature']);
    feature.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'preview-v1' }));
    const head = await feature.commit('web for the preview');

    const preview = await runAction({ workspace: ws, inputs: { mode: 'preview', 'github-token': 'ghs_lab_token', timeout: '180', 'poll-interval': '1' }, event: pullRequestEvent(PR, head), apiUrl: github.url, timeoutMs: 240_000 });
    assert.equal(preview.code, 0, `${preview.stdout}${engineLog()}`);
    assert.equal((await git(repo.dir, ['rev-parse', `refs/coxswain/previews/${NS}`])).stdout.trim(), head);
    assert.deepEqual(preview.outputs, { 'preview-namespace': NS, 'preview-ready': 'true' });
    assert.match(preview.stdout, /\[\d+ s\] /, 'progress lines while waiting');

    const observed = await repo.status();
    const pods = [...observed.pods.values()].filter((p) => p.metadata.namespace === NS && !p.metadata.deletionTimestamp);
    assert.equal(pods.length, 1, 'the preview policy (maxReplicas 1) cut 2 replicas to 1');
    const vip = observed.services.get(`${NS}/web`)?.spec.clusterIP;
    assert.ok(vip, `service ${NS}/web allocated in status`);
    const comment = [...github.comments.values()][0] ?? '';
    assert.ok(comment.includes(`| \`web\` | ClusterIP | ${vip} | 80/TCP |`), comment);
    assert.ok(comment.includes(`| \`${pods[0].metadata.name}\` | ${pods[0].spec.nodeName} | Running | yes |`), comment);

    for (const node of handle.lab.nodes.map((n) => n.name)) {
      const body = await waitFor(`the preview's VIP ${vip} to answer from ${node}`, async () => getThroughVip(handle.lab, node, vip!), 30_000);
      assert.match(body, new RegExp(`${pods[0].metadata.name} preview-v1`));
    }
    const running = async () => {
      const all = [];
      for (const node of handle.lab.nodes.map((n) => n.name)) all.push(...(await managedContainers(handle.lab, node)).filter((c) => c.namespace === NS));
      return all;
    };
    assert.ok((await running()).length > 0, 'Podman runs the preview pod');
    process.stderr.write(`      preview ${NS} v1: ${/is Ready after (\d+) s/.exec(preview.stdout)?.[1]} s from push to Ready\n`);

    // A second push: Ready again only once the new pod serves (the v1 pod, still Ready, must not count).
    feature.write('apps/web.yaml', webApp({ name: 'web', replicas: 2, version: 'preview-v2' }));
    const second = await feature.commit('web v2 for the preview');
    const update = await runAction({ workspace: ws, inputs: { mode: 'preview', 'github-token': 'ghs_lab_token', timeout: '180', 'poll-interval': '1' }, event: pullRequestEvent(PR, second), apiUrl: github.url, timeoutMs: 240_000 });
    assert.equal(update.code, 0, `${update.stdout}${engineLog()}`);
    process.stderr.write(`      preview ${NS} v2: ${/is Ready after (\d+) s/.exec(update.stdout)?.[1]} s from push to Ready\n`);
    const updated = [...(await repo.status()).pods.values()].filter((p) => p.metadata.namespace === NS && !p.metadata.deletionTimestamp);
    assert.equal(updated.length, 1);
    assert.notEqual(updated[0].metadata.name, pods[0].metadata.name, 'a new pod for the new template');
    assert.match(await getThroughVip(handle.lab, 'h1', vip!) ?? '', new RegExp(`${updated[0].metadata.name} preview-v2`), 'right after the action said Ready, the VIP serves the new version');
    assert.equal(github.comments.size, 1);
    assert.ok([...github.comments.values()][0].includes(`| \`${updated[0].metadata.name}\` |`));

    const cleanup = await runAction({ workspace: ws, inputs: { mode: 'cleanup', 'github-token': 'ghs_lab_token', timeout: '120', 'poll-interval': '1' }, event: pullRequestEvent(PR, head, { action: 'closed' }), apiUrl: github.url, timeoutMs: 180_000 });
    assert.equal(cleanup.code, 0, `${cleanup.stdout}${engineLog()}`);
    assert.equal((await git(repo.dir, ['for-each-ref', 'refs/coxswain/previews/'])).stdout.trim(), '');
    assert.match(cleanup.stdout, new RegExp(`Deleted refs/coxswain/previews/${NS}`));
    assert.doesNotMatch(cleanup.stdout, /::warning/, 'the namespace left the status branch within the timeout');
    await waitFor(`no container of ${NS} left in Podman`, async () => (await running()).length === 0, 60_000);
    assert.match([...github.comments.values()][0], new RegExp(`### Preview \`${NS}\` removed`));
    assert.equal(github.comments.size, 1, 'one sticky comment throughout');
  });
});
