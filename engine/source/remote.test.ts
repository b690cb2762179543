import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DesiredSource, signBody, type SourceEvent } from './index.ts';
import { startGitHttpServer, type GitHttpServer } from './git-http-server.ts';
import { StatusWriter, readStatus } from '../status/index.ts';
import { fsckStrict, gitCli, observedOf, pod } from '../status/testing.ts';
import { commitFiles, podManifest } from './testing.ts';

const TOKEN = 'tok-3f9a';

describe('a remote repository over real smart HTTP (git http-backend)', () => {
  let root: string;
  let work: string;
  let server: GitHttpServer;
  let source: DesiredSource | undefined;
  const env = { COX_TEST_TOKEN: TOKEN };

  beforeEach(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'cox-remote-'));
    work = path.join(root, 'work');
    gitCli(root, ['init', '-q', '-b', 'main', work]);
    commitFiles(work, { 'apps/web.yaml': podManifest('web') });
    gitCli(root, ['clone', '-q', '--bare', work, path.join(root, 'srv', 'cluster.git')]);
    gitCli(path.join(root, 'srv', 'cluster.git'), ['config', 'receive.denyNonFastForwards', 'true']);
    gitCli(work, ['remote', 'add', 'origin', path.join(root, 'srv', 'cluster.git')]);
    server = await startGitHttpServer(path.join(root, 'srv'), TOKEN);
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('fetches the branch and the preview refs with the token from the environment', async () => {
    commitFiles(work, { 'apps/pr.yaml': podManifest('pr') });
    gitCli(work, ['push', '-q', 'origin', 'HEAD:refs/coxswain/previews/pr-7']);
    source = new DesiredSource({ repo: server.url('cluster.git'), stateDir: path.join(root, 'state'), auth: { tokenEnv: 'COX_TEST_TOKEN', env }, fetchIntervalMs: 0 });
    await source.start();
    assert.deepEqual(source.current().applied!.store.list('Pod').map((p) => p.metadata.name), ['web']);
    const previews = source.previews();
    assert.equal(previews.get('refs/coxswain/previews/pr-7'), gitCli(work, ['rev-parse', 'HEAD']));
    const preview = await source.load('refs/coxswain/previews/pr-7');
    assert.deepEqual(preview.store.list('Pod').map((p) => p.metadata.name), ['pr', 'web']);
  });

  it('refuses to start with a wrong token, naming the URL but not the token', async () => {
    source = new DesiredSource({ repo: server.url('cluster.git'), stateDir: path.join(root, 'state'), auth: { tokenEnv: 'COX_TEST_TOKEN', env: { COX_TEST_TOKEN: 'wrong' } }, fetchIntervalMs: 0 });
    await assert.rejects(source.start(), (err: Error) => {
      assert.match(err.message, /127\.0\.0\.1/);
      assert.doesNotMatch(err.message, /wrong|tok-3f9a/);
      return true;
    });
  });

  it('fetches on a correctly signed push webhook and answers 401 without fetching otherwise', async () => {
    const secret = 'hook-secret';
    source = new DesiredSource({ repo: server.url('cluster.git'), stateDir: path.join(root, 'state'), auth: { tokenEnv: 'COX_TEST_TOKEN', env }, fetchIntervalMs: 0 });
    await source.start();
    const hook = http.createServer(source.webhook(secret));
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`;
    try {
      const pushed = commitFiles(work, { 'apps/api.yaml': podManifest('api') });
      gitCli(work, ['push', '-q', 'origin', 'HEAD:main']);
      const body = JSON.stringify({ ref: 'refs/heads/main', after: pushed });
      const before = server.requests.length;
      for (const signature of [undefined, 'sha256=00', signBody('not-the-secret', body), signBody(secret, `${body} `)]) {
        const res = await fetch(hookUrl, { method: 'POST', body, headers: signature ? { 'x-hub-signature-256': signature, 'x-github-event': 'push' } : { 'x-github-event': 'push' } });
        assert.equal(res.status, 401, `signature ${signature}`);
      }
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(server.requests.length, before, 'a refused webhook triggers no fetch');
      const committed = new Promise<SourceEvent>((resolve) => source!.on('event', (e: SourceEvent) => e.type === 'commit' && resolve(e)));
      const res = await fetch(hookUrl, { method: 'POST', body, headers: { 'x-hub-signature-256': signBody(secret, body), 'x-github-event': 'push' } });
      assert.equal(res.status, 202);
      const event = await committed;
      assert.equal(event.type === 'commit' && event.commit, pushed);
      assert.deepEqual(source.current().applied!.store.list('Pod').map((p) => p.metadata.name), ['api', 'web']);
    } finally {
      await new Promise<void>((resolve) => hook.close(() => resolve()));
    }
  });

  it('lets two status writers push to one remote branch racing, without force and without losing anything', async () => {
    const remote = { url: server.url('cluster.git'), tokenEnv: 'COX_TEST_TOKEN', env };
    const clones = ['a', 'b'].map((name) => {
      const dir = path.join(root, `engine-${name}.git`);
      gitCli(root, ['init', '-q', '--bare', dir]);
      return dir;
    });
    let rejected = 0;
    const onCommit = (c: { retries: number }) => (rejected += c.retries);
    const [a, b] = await Promise.all(clones.map((repoDir) => StatusWriter.open({ repoDir, remote, onCommit })));
    const rounds = 6;
    const podsA = [];
    const podsB = [];
    for (let i = 0; i < rounds; i++) {
      podsA.push(pod(`a-${i}`));
      podsB.push(pod(`b-${i}`));
      a.update(observedOf({ pods: [...podsA] }), { desiredCommit: 'c'.repeat(40) });
      b.update(observedOf({ pods: [...podsB] }), { desiredCommit: 'c'.repeat(40) });
      await Promise.all([a.flush(), b.flush()]);
    }
    const srv = path.join(root, 'srv', 'cluster.git');
    const back = await readStatus(srv);
    assert.deepEqual([...back.pods.values()].map((p) => p.metadata.name).sort(), [...podsA, ...podsB].map((p) => p.metadata.name).sort());
    assert.equal(gitCli(srv, ['rev-list', '--count', 'coxswain/status']), String(2 * rounds));
    assert.equal(gitCli(srv, ['rev-parse', 'main']), gitCli(work, ['rev-parse', 'HEAD']), 'the desired branch is never written');
    assert.ok(rejected > 0, 'pushes were really rejected and re-applied');
    fsckStrict(srv);
  });

  it('fetches on its interval without any webhook', async () => {
    source = new DesiredSource({ repo: server.url('cluster.git'), stateDir: path.join(root, 'state'), auth: { tokenEnv: 'COX_TEST_TOKEN', env }, fetchIntervalMs: 100 });
    await source.start();
    const committed = new Promise<SourceEvent>((resolve) => source!.on('event', (e: SourceEvent) => e.type === 'commit' && resolve(e)));
    const pushed = commitFiles(work, { 'apps/api.yaml': podManifest('api') });
    gitCli(work, ['push', '-q', 'origin', 'HEAD:main']);
    const event = await committed;
    assert.equal(event.type === 'commit' && event.commit, pushed);
  });

  it('keeps a status commit made while the remote is down and pushes it when the remote answers again', async () => {
    const remote = { url: server.url('cluster.git'), tokenEnv: 'COX_TEST_TOKEN', env };
    const local = path.join(root, 'engine.git');
    gitCli(root, ['init', '-q', '--bare', local]);
    const writer = await StatusWriter.open({ repoDir: local, remote });
    writer.update(observedOf({ pods: [pod('web-1')] }), { desiredCommit: 'c'.repeat(40) });
    await writer.flush();
    const port = Number(new URL(remote.url).port);
    await server.close();
    writer.update(observedOf({ pods: [pod('web-1'), pod('web-2')] }), { desiredCommit: 'c'.repeat(40) });
    await assert.rejects(writer.flush(), /push refs\/heads\/coxswain\/status to http:\/\/127\.0\.0\.1/);
    assert.equal(gitCli(local, ['rev-list', '--count', 'coxswain/status']), '2', 'the commit is kept locally');
    server = await startGitHttpServer(path.join(root, 'srv'), TOKEN, port);
    writer.update(observedOf({ pods: [pod('web-1'), pod('web-2')] }), { desiredCommit: 'c'.repeat(40) });
    assert.equal(await writer.flush(), undefined, 'nothing new to commit: web-2 was committed before the push failed');
    const srv = path.join(root, 'srv', 'cluster.git');
    assert.equal(gitCli(srv, ['rev-parse', 'coxswain/status']), gitCli(local, ['rev-parse', 'coxswain/status']));
    assert.equal((await readStatus(srv)).pods.size, 2);
  });
});
