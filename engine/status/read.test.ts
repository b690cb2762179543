import assert from 'node:assert/strict';
import { findStatusBranch } from './read.ts';
import { gitCli, tempRepo } from './testing.ts';

describe('findStatusBranch: where a clone keeps the status branch', () => {
  let repo: { dir: string; cleanup: () => void };
  let a: string;
  let b: string;
  beforeEach(() => {
    repo = tempRepo();
    a = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    b = gitCli(repo.dir, ['commit-tree', gitCli(repo.dir, ['rev-parse', 'HEAD^{tree}']), '-p', a, '-m', 'b']);
    for (const remote of ['origin', 'backup', 'mirror']) gitCli(repo.dir, ['remote', 'add', remote, `https://example.com/${remote}.git`]);
  });
  afterEach(() => repo.cleanup());
  const set = (ref: string, oid: string) => gitCli(repo.dir, ['update-ref', ref, oid]);

  it('prefers the local branch over every remote copy', async () => {
    set('refs/heads/coxswain/status', a);
    set('refs/remotes/origin/coxswain/status', b);
    assert.deepEqual(await findStatusBranch(repo.dir), { ref: 'refs/heads/coxswain/status', oid: a });
  });

  it("then origin's, even when other remotes have one too", async () => {
    set('refs/remotes/backup/coxswain/status', a);
    set('refs/remotes/origin/coxswain/status', b);
    gitCli(repo.dir, ['pack-refs', '--all']);
    assert.deepEqual(await findStatusBranch(repo.dir), { ref: 'refs/remotes/origin/coxswain/status', oid: b });
  });

  it('then the one remote that has it', async () => {
    set('refs/remotes/mirror/coxswain/status', b);
    assert.deepEqual(await findStatusBranch(repo.dir), { ref: 'refs/remotes/mirror/coxswain/status', oid: b });
  });

  it('picks none when several remotes other than origin have it, and says which', async () => {
    set('refs/remotes/backup/coxswain/status', a);
    set('refs/remotes/mirror/coxswain/status', b);
    const found = await findStatusBranch(repo.dir);
    assert.equal(found.ref, undefined);
    assert.deepEqual(found.ref === undefined && found.ambiguous, ['refs/remotes/backup/coxswain/status', 'refs/remotes/mirror/coxswain/status']);
  });

  it('names every ref it looked at when there is none, origin first', async () => {
    assert.deepEqual(await findStatusBranch(repo.dir, 'ops/status'), {
      looked: ['refs/heads/ops/status', 'refs/remotes/origin/ops/status', 'refs/remotes/backup/ops/status', 'refs/remotes/mirror/ops/status'],
      ambiguous: undefined,
    });
  });

  it('takes a full ref as it is, without looking at remotes', async () => {
    set('refs/remotes/origin/coxswain/status', b);
    assert.deepEqual(await findStatusBranch(repo.dir, 'refs/remotes/origin/coxswain/status'), { ref: 'refs/remotes/origin/coxswain/status', oid: b });
    assert.deepEqual(await findStatusBranch(repo.dir, 'refs/coxswain/nothing'), { looked: ['refs/coxswain/nothing'] });
  });
});
