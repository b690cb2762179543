import assert from 'node:assert/strict';
import { PackReader } from './pack.ts';
import { hashObject } from '../status/git.ts';
import { gitCli, tempRepo } from '../status/testing.ts';
import { commitFiles, podManifest } from './testing.ts';
import { readdirSync } from 'node:fs';
import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { commitTree, readTreeEntries } from './tree.ts';

function idxFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.idx')).map((n) => path.join(dir, n));
}

describe('reading objects straight from pack files', () => {
  it('reads every object of a packed repository, deltas included, exactly as git stores it', () => {
    const repo = tempRepo();
    try {
      // Many similar versions of the same files make git store most of them as deltas.
      for (let round = 0; round < 12; round++) {
        const files: Record<string, string> = {};
        for (let i = 0; i < 8; i++) files[`apps/p${i}.yaml`] = `${podManifest(`p${i}`)}# round ${round}\n${'x'.repeat(round * 50)}\n`;
        commitFiles(repo.dir, files, `round ${round}`);
      }
      gitCli(repo.dir, ['gc', '-q', '--aggressive']);
      const listing = gitCli(repo.dir, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)']).split('\n');
      const reader = new PackReader(`${repo.dir}/.git`);
      const packed = gitCli(repo.dir, ['verify-pack', '-v', ...gitCli(repo.dir, ['rev-parse', '--git-path', 'objects/pack']).split('\n').map((d) => `${repo.dir}/${d}`).flatMap((d) => idxFiles(d))]);
      assert.match(packed, /chain length = [1-9]/, 'the pack holds delta chains');
      let read = 0;
      for (const line of listing) {
        const [oid, type] = line.split(' ');
        const object = reader.read(oid);
        assert.ok(object, `${oid} found in the pack`);
        assert.equal(object.type, type);
        assert.equal(hashObject(object.type as 'blob', object.data).oid, oid, `${type} ${oid} reads back byte for byte`);
        read++;
      }
      assert.ok(read > 50);
      const stats = gitCli(repo.dir, ['count-objects', '-v']);
      assert.match(stats, /^count: 0$/m, 'everything was packed');
    } finally {
      repo.cleanup();
    }
  });

  it('reads packed trees and commits as isomorphic-git reads them: modes, submodules, symlinks and unicode names', async () => {
    const repo = tempRepo();
    try {
      commitFiles(repo.dir, { 'apps/web.yaml': podManifest('web'), 'apps/über café.yaml': podManifest('cafe'), 'run.sh': '#!/bin/sh\n' }, 'files');
      gitCli(repo.dir, ['update-index', '--chmod=+x', 'run.sh']);
      gitCli(repo.dir, ['update-index', '--add', '--cacheinfo', `120000,${gitCli(repo.dir, ['hash-object', '-w', '--stdin'], 'apps/web.yaml')},link.yaml`]);
      gitCli(repo.dir, ['update-index', '--add', '--cacheinfo', `160000,${'1'.repeat(40)},vendor/lib`]);
      gitCli(repo.dir, ['commit', '-q', '-m', 'modes, a symlink and a submodule']);
      gitCli(repo.dir, ['gc', '-q']);
      const gitdir = `${repo.dir}/.git`;
      const reader = new PackReader(gitdir);
      const trees = gitCli(repo.dir, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)']).split('\n').filter((l) => l.endsWith(' tree')).map((l) => l.split(' ')[0]);
      assert.ok(trees.length >= 4);
      for (const oid of trees) {
        const expected = (await git.readTree({ fs, gitdir, oid })).tree.map(({ path: name, oid: entry, type }) => ({ path: name, oid: entry, type }));
        assert.deepEqual(await readTreeEntries(gitdir, oid, {}, fs, reader), expected, `tree ${oid}`);
      }
      const head = gitCli(repo.dir, ['rev-parse', 'HEAD']);
      assert.equal(await commitTree(gitdir, head, {}, fs, reader), gitCli(repo.dir, ['rev-parse', 'HEAD^{tree}']));
    } finally {
      repo.cleanup();
    }
  });

  it('says undefined for an object that is in no pack, so the caller falls back', () => {
    const repo = tempRepo();
    try {
      assert.equal(new PackReader(`${repo.dir}/.git`).read('0'.repeat(40)), undefined);
    } finally {
      repo.cleanup();
    }
  });
});
