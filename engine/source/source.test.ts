import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DesiredSource, DesiredLoader, type SourceEvent } from './index.ts';
import { gitCli, tempRepo } from '../status/testing.ts';
import { commitFiles, podManifest } from './testing.ts';

function nextEvent(source: DesiredSource, match: (e: SourceEvent) => boolean, timeoutMs = 5000): Promise<SourceEvent & { at: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.off('event', on);
      reject(new Error(`no matching source event within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (e: SourceEvent) => {
      if (!match(e)) return;
      clearTimeout(timer);
      source.off('event', on);
      resolve({ ...e, at: performance.now() });
    };
    source.on('event', on);
  });
}

describe('DesiredSource on a local repository', () => {
  let repo: { dir: string; cleanup: () => void };
  let source: DesiredSource | undefined;
  beforeEach(() => {
    repo = tempRepo();
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    repo.cleanup();
  });

  it('loads every manifest of the branch tip from git objects, ignoring uncommitted files and hidden directories', async () => {
    commitFiles(repo.dir, { 'apps/web.yaml': podManifest('web'), 'apps/db.yaml': podManifest('db'), '.github/workflows/ci.yaml': 'on: push\njobs: {}\n', 'README.md': '# cluster\n' });
    writeFileSync(path.join(repo.dir, 'apps/uncommitted.yaml'), podManifest('ghost'));
    writeFileSync(path.join(repo.dir, 'apps/web.yaml'), 'not: [valid');
    const indexBefore = statSync(path.join(repo.dir, '.git/index')).mtimeMs;
    source = new DesiredSource({ repo: repo.dir, watch: false });
    await source.start();
    const applied = source.current().applied!;
    assert.deepEqual([...applied.files.keys()].sort(), ['apps/db.yaml', 'apps/web.yaml']);
    assert.deepEqual(applied.store.list('Pod').map((p) => p.metadata.name), ['db', 'web']);
    assert.equal(statSync(path.join(repo.dir, '.git/index')).mtimeMs, indexBefore);
    assert.equal(readFileSync(path.join(repo.dir, 'apps/web.yaml'), 'utf8'), 'not: [valid');
  });

  it('reads a bare repository the same way', async () => {
    commitFiles(repo.dir, { 'web.yaml': podManifest('web') });
    const bare = `${repo.dir}-bare`;
    gitCli(path.dirname(repo.dir), ['clone', '-q', '--bare', repo.dir, bare]);
    try {
      source = new DesiredSource({ repo: bare, watch: false });
      await source.start();
      assert.deepEqual(source.current().applied!.store.list('Pod').map((p) => p.metadata.name), ['web']);
    } finally {
      gitCli(path.dirname(repo.dir), ['-c', 'safe.directory=*', 'version']);
      (await import('node:fs')).rmSync(bare, { recursive: true, force: true });
    }
  });

  it('re-reads only the changed file and reports added, modified and deleted objects', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`apps/p${i}.yaml`] = podManifest(`p${i}`);
    const first = commitFiles(repo.dir, files);
    const loader = new DesiredLoader(path.join(repo.dir, '.git'));
    const a = await loader.load(first);
    assert.equal(a.parsed, 20);
    const second = commitFiles(repo.dir, { 'apps/p3.yaml': podManifest('p3', 'coxswain/node:20'), 'apps/p4.yaml': null, 'apps/new.yaml': podManifest('new') });
    const b = await loader.load(second, a);
    assert.equal(b.parsed, 2, 'only the two files with a new blob are parsed');
    assert.deepEqual(b.changes.modified.map((o) => o.metadata.name), ['p3']);
    assert.deepEqual(b.changes.added.map((o) => o.metadata.name), ['new']);
    assert.deepEqual(b.changes.deleted, [{ kind: 'Pod', namespace: 'default', name: 'p4' }]);
    const third = commitFiles(repo.dir, { 'apps/p5.yaml': null, 'apps/moved.yaml': podManifest('p5') });
    const c = await loader.load(third, b);
    assert.deepEqual(c.changes, { added: [], modified: [], deleted: [] }, 'an object moved to another file unchanged is no change');
  });

  it('never applies an invalid commit, keeps the last valid one and reports the errors with file, line and column', async () => {
    const good = commitFiles(repo.dir, { 'web.yaml': podManifest('web'), 'db.yaml': podManifest('db') });
    source = new DesiredSource({ repo: repo.dir, watch: false });
    await source.start();
    const bad = commitFiles(repo.dir, { 'web.yaml': podManifest('web', 'coxswain/node:20'), 'db.yaml': 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: db\nspec:\n  containers:\n    - name: app\n      imagePullPolicy: Sometimes\n' });
    assert.equal(await source.refresh(), true);
    const view = source.current();
    assert.equal(view.applied?.commit, good);
    assert.equal((view.applied?.store.get('Pod', 'default', 'web') as { spec: { containers: Array<{ image: string }> } }).spec.containers[0].image, 'coxswain/busybox:1', 'not even the valid file of the refused commit is applied');
    assert.equal(view.refused?.commit, bad);
    assert.ok(view.refused!.errors.length > 0);
    for (const e of view.refused!.errors) {
      assert.equal(e.file, 'db.yaml');
      assert.ok(e.line >= 1 && e.column >= 1);
    }
    const fixed = commitFiles(repo.dir, { 'db.yaml': podManifest('db') });
    await source.refresh();
    assert.equal(source.current().applied?.commit, fixed);
    assert.equal(source.current().refused, undefined);
  });

  describe('starting onto a refused tip (an engine restart)', () => {
    const broken = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: db\nspec:\n  containers:\n    - name: app\n      imagePullPolicy: Sometimes\n';
    let good: string;
    let bad: string;
    beforeEach(() => {
      good = commitFiles(repo.dir, { 'web.yaml': podManifest('web'), 'db.yaml': podManifest('db') });
      bad = commitFiles(repo.dir, { 'web.yaml': podManifest('web', 'coxswain/node:20'), 'db.yaml': broken });
    });
    const started = async (appliedCommit: string | undefined) => {
      source = new DesiredSource({ repo: repo.dir, watch: false });
      const events: SourceEvent[] = [];
      source.on('event', (e: SourceEvent) => events.push(e));
      await source.start(undefined, { appliedCommit });
      return { view: source.current(), restored: events.filter((e) => e.type === 'restored') };
    };

    it('applies the commit the status branch says was applied, and refuses the tip with its errors', async () => {
      const { view, restored } = await started(good);
      assert.equal(view.applied?.commit, good);
      assert.equal((view.applied?.store.get('Pod', 'default', 'web') as { spec: { containers: Array<{ image: string }> } }).spec.containers[0].image, 'coxswain/busybox:1');
      assert.equal(view.refused?.commit, bad);
      assert.ok(view.refused!.errors.every((e) => e.file === 'db.yaml' && e.line >= 1 && e.column >= 1) && view.refused!.errors.length > 0);
      assert.deepEqual(restored, [{ type: 'restored', commit: good, applied: true }]);
    });

    it('guesses no older commit when there is none: nothing is applied', async () => {
      const { view, restored } = await started(undefined);
      assert.equal(view.applied, undefined);
      assert.equal(view.refused?.commit, bad);
      assert.deepEqual(restored, []);
    });

    it('applies nothing when the restored commit is not in this repository, and says why', async () => {
      const { view, restored } = await started('0123456789abcdef0123456789abcdef01234567');
      assert.equal(view.applied, undefined);
      assert.equal(view.refused?.commit, bad);
      assert.equal(restored.length, 1);
      assert.match((restored[0] as { reason: string }).reason, /^not readable here: /);
    });

    it('applies nothing when the restored commit is the refused tip itself', async () => {
      const { view } = await started(bad);
      assert.equal(view.applied, undefined);
      assert.equal(view.refused?.commit, bad);
    });

    it('applies nothing when the restored commit no longer validates, and names its first error', async () => {
      // `bad` stands for a commit applied by an older engine that validated less: the tip after it is broken too.
      const tip = commitFiles(repo.dir, { 'db.yaml': broken.replace('Sometimes', 'Rarely') }, 'also broken');
      const { view, restored } = await started(bad);
      assert.equal(view.applied, undefined);
      assert.equal(view.refused?.commit, tip);
      assert.match((restored[0] as { reason: string }).reason, /^no longer valid: db\.yaml:\d+:\d+: /);
    });

    it('ignores the restored commit once the tip is valid', async () => {
      const fixed = commitFiles(repo.dir, { 'db.yaml': podManifest('db') });
      const { view, restored } = await started(good);
      assert.equal(view.applied?.commit, fixed);
      assert.equal(view.refused, undefined);
      assert.deepEqual(restored, []);
    });
  });

  it('notices a new commit on the branch within 100 ms through the watched refs', async function () {
    commitFiles(repo.dir, { 'web.yaml': podManifest('web') });
    source = new DesiredSource({ repo: repo.dir });
    if (process.env.DEBUG_SOURCE) source.on('event', (e) => console.log('EVENT', e.type, (e as { commit?: string }).commit, (e as { error?: unknown }).error));
    await source.start();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const seen = nextEvent(source, (e) => e.type === 'branch');
      writeFileSync(path.join(repo.dir, `p${i}.yaml`), podManifest(`p${i}`));
      gitCli(repo.dir, ['add', '.']);
      gitCli(repo.dir, ['commit', '-q', '-m', `p${i}`]);
      const committed = performance.now();
      const event = await seen;
      delays.push(event.at - committed);
      await nextEvent(source, (e) => e.type === 'commit').catch(() => undefined);
    }
    delays.sort((x, y) => x - y);
    assert.ok(delays[1] < 100, `median notice delay ${delays[1].toFixed(1)} ms`);
    assert.equal(source.current().applied?.store.list('Pod').length, 4);
  });

  it('follows a branch that only moves in packed-refs, and preview refs', async () => {
    commitFiles(repo.dir, { 'web.yaml': podManifest('web') });
    gitCli(repo.dir, ['pack-refs', '--all']);
    source = new DesiredSource({ repo: repo.dir });
    await source.start();
    // A commit made without moving main, then main moved by rewriting packed-refs alone.
    const tree = gitCli(repo.dir, ['write-tree']);
    const parent = gitCli(repo.dir, ['rev-parse', 'main']);
    const extra = gitCli(repo.dir, ['commit-tree', tree, '-p', parent, '-m', 'moved in packed-refs']);
    const seen = nextEvent(source, (e) => e.type === 'commit');
    const packed = path.join(repo.dir, '.git/packed-refs');
    writeFileSync(packed, readFileSync(packed, 'utf8').replace(`${parent} refs/heads/main`, `${extra} refs/heads/main`));
    assert.equal((await seen).type === 'commit' && (await seen as { commit: string }).commit, extra);
    const preview = nextEvent(source, (e) => e.type === 'preview');
    gitCli(repo.dir, ['update-ref', 'refs/coxswain/previews/pr-7', parent]);
    const event = await preview;
    assert.deepEqual({ ...event, at: 0 }, { type: 'preview', ref: 'refs/coxswain/previews/pr-7', commit: parent, at: 0 });
    const loaded = await source.load('refs/coxswain/previews/pr-7');
    assert.equal(loaded.commit, parent);
  });
});
