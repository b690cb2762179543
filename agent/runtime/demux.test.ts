import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { FrameParser, demux, demuxStream, frame } from './demux.ts';

describe('Docker stream demultiplexing', () => {
  it('separates stdout from stderr in one buffer', () => {
    const buf = Buffer.concat([frame('stdout', 'out1 '), frame('stderr', 'err'), frame('stdout', 'out2')]);
    assert.deepEqual(demux(buf), { stdout: 'out1 out2', stderr: 'err' });
  });

  it('reassembles a frame split at every possible byte across two chunks', () => {
    const whole = Buffer.concat([frame('stdout', 'hello'), frame('stderr', 'world!')]);
    for (let cut = 0; cut <= whole.length; cut++) {
      const parser = new FrameParser();
      const frames = [...parser.push(whole.subarray(0, cut)), ...parser.push(whole.subarray(cut))];
      assert.deepEqual(frames.map((f) => `${f.stream}:${f.data}`), ['stdout:hello', 'stderr:world!'], `cut at ${cut}`);
      assert.equal(parser.leftover, 0);
    }
  });

  it('keeps an incomplete trailing frame until its bytes arrive', () => {
    const parser = new FrameParser();
    const f = frame('stdout', 'abcdef');
    assert.deepEqual(parser.push(f.subarray(0, 10)), []);
    assert.equal(parser.leftover, 10);
  });

  it('streams plain interleaved output from a chunked multiplexed stream', async () => {
    const whole = Buffer.concat([frame('stdout', 'a\n'), frame('stderr', 'b\n'), frame('stdout', 'c\n')]);
    const chunks = [whole.subarray(0, 3), whole.subarray(3, 15), whole.subarray(15)];
    assert.equal(await text(Readable.from(chunks).pipe(demuxStream())), 'a\nb\nc\n');
  });
});
