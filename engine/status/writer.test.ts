import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StatusWriter, readStatus, readStatusHistory, readStatusSnapshot } from './index.ts';
import { deployment, fsckStrict, gitCli, node, observedOf, pod, service, tempRepo } from './testing.ts';

const DESIRED = 'a'.repeat(40);

describe('StatusWriter on a real git repository', () => {
  let repo: { dir: string; cleanup: () => void };
  beforeEach(() => {
    repo = tempRepo();
  });
  afterEach(() => repo.cleanup());

  it('writes one file per object and reads the same observed state back', async () => {
    const observed = observedOf({
      nodes: [node('h1'), node('h2')],
      pods: [pod('web-5d8f-x2k', { phase: 'Running', node: 'h2', ip: '100.64.2.5' }), pod('db-0', { namespace: 'data', node: 'h1' })],
      services: [service('web', [{ ip: '100.64.2.5', podName: 'web-5d8f-x2k' }])],
      workloads: [deployment('web', 1, 1)],
    });
    const writer = await StatusWriter.open({ repoDir: repo.dir });
    writer.update(observed, { desiredCommit: DESIRED });
    const commit = await writer.flush();
    assert.ok(commit);
    const files = gitCli(repo.dir, ['ls-tree', '-r', '--name-only', 'coxswain/status']).split('\n');
    assert.deepEqual(files.sort(), [
      'STATUS.md',
      'data/pods/db-0.yaml',
      'default/deployments/web.yaml',
      'default/pods/web-5d8f-x2k.yaml',
      'default/services/web.yaml',
      'nodes/h1.yaml',
      'nodes/h2.yaml',
    ]);
    const back = await readStatus(repo.dir);
    assert.equal(back.appliedCommit, DESIRED);
    assert.deepEqual(back.pods.get('uid-default-web-5d8f-x2k'), observed.pods.get('uid-default-web-5d8f-x2k'));
    assert.deepEqual(back.services, observed.services);
    assert.deepEqual(back.workloads, observed.workloads);
    assert.equal(back.nodes.get('h1')?.status.lastHeartbeatTime, undefined, 'heartbeat times never reach the branch');
    const markdown = gitCli(repo.dir, ['show', 'coxswain/status:STATUS.md']);
    assert.match(markdown, /```mermaid/);
    assert.match(markdown, /\| web-5d8f-x2k \| 1\/1 \| Running \| 0 \| h2 \| 100\.64\.2\.5 \|/);
    fsckStrict(repo.dir);
  });

  it('describes a phase change in words and ties the commit to its desired commit with trailers', async () => {
    const writer = await StatusWriter.open({ repoDir: repo.dir });
    writer.update(observedOf({ pods: [pod('web-5d8f-x2k', { node: 'h2' })] }), { desiredCommit: DESIRED });
    await writer.flush();
    writer.update(observedOf({ pods: [pod('web-5d8f-x2k', { phase: 'Running', node: 'h2' })] }), { desiredCommit: DESIRED, reason: 'containers started' });
    const commit = await writer.flush();
    const message = gitCli(repo.dir, ['log', '-1', '--format=%B', 'coxswain/status']);
    assert.equal(message.split('\n')[0], 'web-5d8f-x2k: ContainerCreating -> Running on h2, ready 0/1 -> 1/1');
    assert.equal(gitCli(repo.dir, ['log', '-1', '--format=%(trailers:key=Coxswain-Desired,valueonly)', 'coxswain/status']), DESIRED);
    assert.equal(gitCli(repo.dir, ['log', '-1', '--format=%(trailers:key=Coxswain-Reason,valueonly)', 'coxswain/status']), 'containers started');
    assert.equal(commit?.changes.length, 1);
  });

  it('makes no commit when only a heartbeat time or key order changed', async () => {
    const writer = await StatusWriter.open({ repoDir: repo.dir });
    writer.update(observedOf({ nodes: [node('h1', true, '2026-11-22T00:00:00Z')] }), { desiredCommit: DESIRED });
    assert.ok(await writer.flush());
    const reordered = node('h1', true, '2026-11-22T00:05:00Z');
    reordered.status = { conditions: reordered.status.conditions, addresses: reordered.status.addresses, lastHeartbeatTime: reordered.status.lastHeartbeatTime };
    writer.update(observedOf({ nodes: [reordered] }), { desiredCommit: DESIRED });
    assert.equal(await writer.flush(), undefined);
    assert.equal(gitCli(repo.dir, ['rev-list', '--count', 'coxswain/status']), '1');
  });

  it('batches the updates of one window into a single commit', async () => {
    const writer = await StatusWriter.open({ repoDir: repo.dir, windowMs: 100 });
    const commits: string[] = [];
    const done = new Promise<void>((resolve) => {
      writer['options'].onCommit = (c) => {
        commits.push(c.oid);
        resolve();
      };
    });
    writer.update(observedOf({ pods: [pod('a-1')] }), { desiredCommit: DESIRED });
    writer.update(observedOf({ pods: [pod('a-1'), pod('a-2')] }), { desiredCommit: DESIRED });
    writer.update(observedOf({ pods: [pod('a-1'), pod('a-2'), pod('a-3')] }), { desiredCommit: DESIRED });
    await done;
    assert.equal(commits.length, 1);
    const subject = gitCli(repo.dir, ['log', '-1', '--format=%s', 'coxswain/status']);
    assert.equal(subject, '3 changes: a-1: created, Pending; a-2: created, Pending; a-3: created, Pending');
  });

  it('never touches the user index, working tree or checked-out branch', async () => {
    writeFileSync(path.join(repo.dir, 'app.yaml'), 'kind: Pod\n');
    gitCli(repo.dir, ['add', 'app.yaml']);
    const statusBefore = gitCli(repo.dir, ['status', '--porcelain']);
    const indexBefore = statSync(path.join(repo.dir, '.git', 'index')).mtimeMs;
    const headBefore = gitCli(repo.dir, ['rev-parse', 'HEAD']);
    const writer = await StatusWriter.open({ repoDir: repo.dir });
    writer.update(observedOf({ pods: [pod('web-1')] }), { desiredCommit: DESIRED });
    await writer.flush();
    assert.equal(statSync(path.join(repo.dir, '.git', 'index')).mtimeMs, indexBefore);
    assert.equal(gitCli(repo.dir, ['status', '--porcelain']), statusBefore);
    assert.equal(gitCli(repo.dir, ['rev-parse', 'HEAD']), headBefore);
    assert.equal(gitCli(repo.dir, ['symbolic-ref', 'HEAD']), 'refs/heads/main');
  });

  it('deletes the file of a pod that is gone and says so', async () => {
    const writer = await StatusWriter.open({ repoDir: repo.dir });
    writer.update(observedOf({ pods: [pod('web-1'), pod('web-2')] }), { desiredCommit: DESIRED });
    await writer.flush();
    writer.update(observedOf({ pods: [pod('web-1')] }), { desiredCommit: DESIRED });
    await writer.flush();
    assert.equal(gitCli(repo.dir, ['log', '-1', '--format=%s', 'coxswain/status']), 'web-2: deleted');
    assert.equal((await readStatus(repo.dir)).pods.size, 1);
  });

  it('records the errors of a refused desired commit and clears them when a valid one applies', async () => {
    const writer = await StatusWriter.open({ repoDir: repo.dir });
    const refused = 'b'.repeat(40);
    const errors = [{ file: 'web.yaml', line: 7, column: 5, message: 'spec.replicas: must be integer' }];
    writer.update(observedOf({ pods: [pod('web-1')], errors }), { desiredCommit: DESIRED, refusedCommit: refused });
    await writer.flush();
    const message = gitCli(repo.dir, ['log', '-1', '--format=%B', 'coxswain/status']);
    assert.match(message, /desired commit bbbbbbbbbbbb refused: 1 validation error/);
    assert.match(message, /web\.yaml:7:5: error: spec\.replicas: must be integer/);
    assert.match(message, new RegExp(`Coxswain-Refused: ${refused}`));
    const back = await readStatusSnapshot(repo.dir);
    assert.deepEqual(back.observed.errors, errors);
    assert.equal(back.observed.refusedCommit, refused);
    writer.update(observedOf({ pods: [pod('web-1')] }), { desiredCommit: refused });
    await writer.flush();
    assert.equal(gitCli(repo.dir, ['log', '-1', '--format=%s', 'coxswain/status']), 'desired state valid again: validation errors cleared');
    assert.deepEqual((await readStatus(repo.dir)).errors, []);
  });

  it('lets two writers race on one branch without losing either one’s objects', async () => {
    const a = await StatusWriter.open({ repoDir: repo.dir });
    const b = await StatusWriter.open({ repoDir: repo.dir });
    const rounds = 15;
    let retried = 0;
    a['options'].onCommit = b['options'].onCommit = (c) => (retried += c.retries);
    const podsA = [];
    const podsB = [];
    for (let i = 0; i < rounds; i++) {
      podsA.push(pod(`a-${i}`));
      podsB.push(pod(`b-${i}`));
      a.update(observedOf({ pods: [...podsA] }), { desiredCommit: DESIRED });
      b.update(observedOf({ pods: [...podsB] }), { desiredCommit: DESIRED });
      await Promise.all([a.flush(), b.flush()]);
    }
    const back = await readStatus(repo.dir);
    const names = [...back.pods.values()].map((p) => p.metadata.name).sort();
    assert.equal(names.length, 2 * rounds);
    assert.equal(gitCli(repo.dir, ['rev-list', '--count', 'coxswain/status']), String(2 * rounds));
    assert.ok(retried > 0, 'the writers really lost compare-and-swap races and re-applied');
    fsckStrict(repo.dir);
  });

  it('keeps fsck --strict clean across many commits with packing, in a bare repository too', async () => {
    repo.cleanup();
    repo = tempRepo({ bare: true });
    const writer = await StatusWriter.open({ repoDir: repo.dir, packEvery: 100 });
    const pods = Array.from({ length: 30 }, (_, i) => pod(`p-${i}`, { node: 'h1' }));
    for (let round = 0; round < 60; round++) {
      const i = round % pods.length;
      pods[i] = pod(`p-${i}`, { node: 'h1', phase: 'Running', restarts: round });
      writer.update(observedOf({ pods: [...pods], nodes: [node('h1', round % 7 !== 0)] }), { desiredCommit: DESIRED });
      await writer.flush();
    }
    assert.equal(gitCli(repo.dir, ['rev-list', '--count', 'coxswain/status']), '60');
    assert.ok(Number(/^packs: (\d+)/m.exec(gitCli(repo.dir, ['count-objects', '-v']))?.[1]) >= 1, 'loose objects were packed');
    fsckStrict(repo.dir);
    const history = await readStatusHistory(repo.dir, { paths: ['default/pods/p-3.yaml'] });
    assert.ok(history.length >= 2);
    assert.ok(history.every((h) => h.desiredCommit === DESIRED));
  });
});
