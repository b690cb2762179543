import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { git } from './gitcli.ts';
import { filesDefining, rollback } from './rollback.ts';
import { run } from './rollback.ts';

function deployment(name: string, image: string, replicas = 3): string {
  return `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  replicas: ${replicas}\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec:\n      containers: [{name: ${name}, image: "${image}"}]\n`;
}

const service = `---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n`;

describe('cox rollback', () => {
  let repo: string;
  const env = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@localhost' };
  async function commit(files: Record<string, string>, message: string): Promise<string> {
    for (const [file, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(repo, file)), { recursive: true });
      await writeFile(path.join(repo, file), text);
    }
    await git(repo, ['add', '-A']);
    await git(repo, ['commit', '-q', '-m', message], { env });
    return (await git(repo, ['rev-parse', 'HEAD'])).stdout.trim();
  }

  beforeEach(async () => {
    repo = await mkdtemp(path.join(os.tmpdir(), 'cox-rollback-test-'));
    await git(repo, ['init', '-q', '-b', 'main']);
  });
  afterEach(async () => rm(repo, { recursive: true, force: true }));

  it('restores the file as it was before the last change to the Deployment, in a new commit on top', async () => {
    const v1 = await commit({ 'apps/web.yaml': deployment('web', 'coxswain/busybox:1') + service, 'apps/api.yaml': deployment('api', 'coxswain/node:20') }, 'web v1');
    await commit({ 'apps/api.yaml': deployment('api', 'coxswain/node:20', 5) }, 'scale api');
    const v2 = await commit({ 'apps/web.yaml': deployment('web', 'coxswain/busybox:2') + service }, 'web v2');
    const result = await rollback({ repo, branch: 'main', namespace: 'default', name: 'web' });
    assert.equal(result.undoes, v2);
    assert.deepEqual(result.files, ['apps/web.yaml']);
    const log = (await git(repo, ['log', '--format=%H', 'main'])).stdout.trim().split('\n');
    assert.equal(log.length, 4, 'one new commit, nothing rewritten');
    assert.equal(log[1], v2);
    assert.equal((await git(repo, ['show', 'main:apps/web.yaml'])).stdout, (await git(repo, ['show', `${v1}:apps/web.yaml`])).stdout);
    assert.match((await git(repo, ['show', 'main:apps/api.yaml'])).stdout, /replicas: 5/, 'other Deployments keep their latest version');
    assert.match(await readFile(path.join(repo, 'apps/web.yaml'), 'utf8'), /busybox:1/, 'the checked-out worktree follows');
    assert.equal((await git(repo, ['status', '--porcelain'])).stdout, '', 'index and worktree are clean afterwards');
    assert.match((await git(repo, ['log', '-n', '1', '--format=%B', 'main'])).stdout, new RegExp(`Coxswain-Rollback-Of: ${v2}`));
  });

  it('restores the Deployment from the revision given with --to', async () => {
    const v1 = await commit({ 'web.yaml': deployment('web', 'img:1') }, 'v1');
    await commit({ 'web.yaml': deployment('web', 'img:2') }, 'v2');
    await commit({ 'web.yaml': deployment('web', 'img:3') }, 'v3');
    const result = await rollback({ repo, branch: 'main', namespace: 'default', name: 'web', to: v1 });
    assert.equal(result.restoredFrom, v1);
    assert.match((await git(repo, ['show', 'main:web.yaml'])).stdout, /img:1/);
  });

  it('follows a Deployment that moved to another file', async () => {
    await commit({ 'old.yaml': deployment('web', 'img:1') }, 'v1');
    await git(repo, ['mv', 'old.yaml', 'new.yaml']);
    await git(repo, ['commit', '-q', '-m', 'rename'], { env });
    await commit({ 'new.yaml': deployment('web', 'img:2') }, 'v2');
    const result = await rollback({ repo, branch: 'main', namespace: 'default', name: 'web' });
    assert.deepEqual(result.files, ['new.yaml']);
    assert.match((await git(repo, ['show', 'main:new.yaml'])).stdout, /img:1/);
  });

  it('looks only at the files the engine reads: a copy under a hidden directory is left alone', async () => {
    const v1 = await commit({ 'web.yaml': deployment('web', 'img:1'), '.drafts/web.yaml': deployment('web', 'img:draft'), 'notes.yaml': 'about: web\n' }, 'v1');
    await commit({ 'web.yaml': deployment('web', 'img:2'), '.drafts/web.yaml': deployment('web', 'img:draft2') }, 'v2');
    assert.deepEqual(await filesDefining(repo, v1, 'default', 'web'), ['web.yaml']);
    const result = await rollback({ repo, branch: 'main', namespace: 'default', name: 'web' });
    assert.deepEqual(result.files, ['web.yaml']);
    assert.match((await git(repo, ['show', 'main:.drafts/web.yaml'])).stdout, /img:draft2/);
  });

  it('refuses to delete a file that holds other objects too when the Deployment was elsewhere at --to', async () => {
    const v1 = await commit({ 'old/web.yaml': deployment('web', 'img:1') }, 'v1');
    await git(repo, ['rm', '-q', 'old/web.yaml']);
    const moved = await commit({ 'apps.yaml': deployment('web', 'img:2') + service }, 'web and its Service in one file');
    await assert.rejects(rollback({ repo, branch: 'main', namespace: 'default', name: 'web', to: v1 }), /apps\.yaml did not exist at [0-9a-f]{12}: restoring it would also delete Service\/web; move deployment\/web to a file of its own first/);
    assert.equal((await git(repo, ['rev-parse', 'main'])).stdout.trim(), moved, 'the branch did not move');
  });

  it('deletes a file that held only the Deployment when restoring it from another file', async () => {
    const v1 = await commit({ 'old/web.yaml': deployment('web', 'img:1') }, 'v1');
    await git(repo, ['mv', 'old/web.yaml', 'new.yaml']);
    await commit({ 'new.yaml': deployment('web', 'img:2') }, 'moved and v2');
    const result = await rollback({ repo, branch: 'main', namespace: 'default', name: 'web', to: v1 });
    assert.deepEqual(result.files, ['new.yaml', 'old/web.yaml']);
    assert.equal((await git(repo, ['ls-tree', '-r', '--name-only', 'main'])).stdout, 'old/web.yaml\n');
  });

  it('refuses a Deployment that had no earlier version, naming the commit that created it', async () => {
    const first = await commit({ 'other.yaml': deployment('api', 'img:1') }, 'api');
    const created = await commit({ 'web.yaml': deployment('web', 'img:1') }, 'web');
    await assert.rejects(rollback({ repo, branch: 'main', namespace: 'default', name: 'web' }), new RegExp(`did not exist before ${created.slice(0, 12)}`));
    assert.equal((await git(repo, ['rev-parse', 'main^'])).stdout.trim(), first, 'the branch did not move');
  });

  it('refuses to overwrite uncommitted changes to the files it would restore', async () => {
    await commit({ 'web.yaml': deployment('web', 'img:1') }, 'v1');
    await commit({ 'web.yaml': deployment('web', 'img:2') }, 'v2');
    await writeFile(path.join(repo, 'web.yaml'), deployment('web', 'img:local'));
    await assert.rejects(rollback({ repo, branch: 'main', namespace: 'default', name: 'web' }), /uncommitted changes in web\.yaml/);
  });

  it('works on a bare repository', async () => {
    await commit({ 'web.yaml': deployment('web', 'img:1') }, 'v1');
    await commit({ 'web.yaml': deployment('web', 'img:2') }, 'v2');
    const bare = `${repo}.git`;
    await git(path.dirname(repo), ['clone', '-q', '--bare', repo, bare]);
    try {
      await rollback({ repo: bare, branch: 'main', namespace: 'default', name: 'web' });
      assert.match((await git(bare, ['show', 'main:web.yaml'])).stdout, /img:1/);
      assert.equal((await git(bare, ['fsck', '--strict'], { allowFailure: true })).code, 0);
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });

  it('prints one line and exits 0 from the command line', async () => {
    await commit({ 'web.yaml': deployment('web', 'img:1') }, 'v1');
    await commit({ 'web.yaml': deployment('web', 'img:2') }, 'v2');
    let out = '';
    const code = await run(['deployment/web', '--repo', repo], { stdout: (t) => (out += t), stderr: () => {}, cwd: repo, env: process.env });
    assert.equal(code, 0);
    assert.match(out, /^deployment\/web rolled back: web\.yaml restored from [0-9a-f]{12} in commit [0-9a-f]{12} on main\n$/);
  });
});
