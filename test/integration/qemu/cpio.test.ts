import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeCpio, S_IFDIR, S_IFREG } from './cpio.ts';

describe('newc cpio writer', function () {
  it('writes an archive that cpio itself lists and extracts byte for byte', function () {
    const archive = writeCpio([
      { name: 'bin', mode: S_IFDIR | 0o755 },
      { name: 'bin/hello', mode: S_IFREG | 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
      { name: 'odd-length', mode: S_IFREG | 0o644, data: Buffer.from('abc') },
    ]);
    const list = spawnSync('cpio', ['-it', '--quiet'], { input: archive });
    assert.equal(list.status, 0, list.stderr.toString());
    assert.deepEqual(list.stdout.toString().trim().split('\n'), ['bin', 'bin/hello', 'odd-length']);
    const extract = spawnSync('cpio', ['-i', '--quiet', '--to-stdout', 'odd-length'], { input: archive });
    assert.equal(extract.stdout.toString(), 'abc');
  });

  it('aligns every header on four bytes and ends with the trailer', function () {
    const archive = writeCpio([{ name: 'a', mode: S_IFREG | 0o644, data: Buffer.from('x') }]);
    assert.equal(archive.length % 4, 0);
    assert.equal(archive.subarray(0, 6).toString(), '070701');
    assert.ok(archive.includes(Buffer.from('TRAILER!!!\0')));
  });
});
