import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pruneImageStores, recipeHash, stageRootfs, storePath, type ImageRecipe } from './images.ts';

function recipeWith(file: string, changes = ['CMD ["/app"]']): ImageRecipe {
  return { image: 'test/app:1', files: [{ source: file, target: '/app' }], symlinks: [{ link: '/bin/sh', target: '/app' }], texts: [{ path: '/etc/passwd', content: 'root:x:0:0::/:/app\n' }], dirs: [{ path: '/tmp', mode: 0o1777 }], changes };
}

describe('lab image cache keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cox-images-'));
  const file = join(dir, 'app');
  writeFileSync(file, 'one', { mode: 0o755 });
  const before = recipeHash(recipeWith(file));

  it('is the same for the same recipe and content', () => assert.equal(recipeHash(recipeWith(file)), before));
  it('changes when a copied file’s content changes', () => {
    writeFileSync(join(dir, 'other'), 'two');
    assert.notEqual(recipeHash(recipeWith(join(dir, 'other'))), before);
  });
  it('changes when an import instruction changes', () => assert.notEqual(recipeHash(recipeWith(file, ['CMD ["/bin/sh"]'])), before));
  it('names the store after the image and the key', () => assert.equal(storePath(recipeWith(file), '/cache'), `/cache/test_app_1-${before}`));
});

describe('lab image rootfs', () => {
  it('lays out files with their modes, texts, symlinks and directories', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cox-rootfs-'));
    const file = join(dir, 'app');
    writeFileSync(file, 'binary', { mode: 0o755 });
    const staging = join(dir, 'rootfs');
    stageRootfs(recipeWith(file), staging);
    assert.equal(readFileSync(join(staging, 'app'), 'utf8'), 'binary');
    assert.equal(statSync(join(staging, 'app')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(staging, 'bin/sh')), '/app');
    assert.ok(lstatSync(join(staging, 'bin/sh')).isSymbolicLink());
    assert.equal(statSync(join(staging, 'tmp')).mode & 0o7777, 0o1777);
    assert.match(readFileSync(join(staging, 'etc/passwd'), 'utf8'), /^root:/);
  });
});

describe('lab image store pruning', () => {
  it('removes stores and abandoned builds idle for an hour, keeping those in use and anything not named like a store', () => {
    const cache = mkdtempSync(join(tmpdir(), 'cox-prune-'));
    const hour = 3_600_000;
    const now = Date.now();
    const entries: [string, number, boolean][] = [
      ['coxswain_node_20-0123456789abcdef', 2 * hour, true],
      ['coxswain_node_20-fedcba9876543210', 10 * 60_000, false],
      ['coxswain_busybox_1-00000000000000aa', 5 * hour, false],
      ['coxswain-examples_web_1-00000000000000bb.tmp-77-1700000000000', 2 * hour, true],
      ['something-else', 9 * hour, false],
    ];
    for (const [name, age] of entries) {
      mkdirSync(join(cache, name));
      utimesSync(join(cache, name), new Date(now - age), new Date(now - age));
    }
    const kept = new Set([join(cache, 'coxswain_busybox_1-00000000000000aa')]);
    assert.deepEqual(pruneImageStores(cache, kept, now).sort(), entries.filter((e) => e[2]).map((e) => join(cache, e[0])).sort());
    for (const [name, , gone] of entries) assert.equal(existsSync(join(cache, name)), !gone, name);
  });
});
