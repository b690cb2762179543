/**
 * The Docker API multiplexes stdout and stderr of a non-TTY container on one
 * stream: each frame is an 8-byte header [stream, 0, 0, 0, size(4, big-endian)]
 * followed by `size` bytes. A frame may be split across chunks.
 */
import { Transform, type TransformCallback } from 'node:stream';

export type StreamKind = 'stdin' | 'stdout' | 'stderr';

export interface Frame {
  stream: StreamKind;
  data: Buffer;
}

const KINDS: StreamKind[] = ['stdin', 'stdout', 'stderr'];

/** Incremental frame parser: feed chunks, get whole frames; keeps the partial tail. */
export class FrameParser {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      frames.push({ stream: KINDS[this.pending[0]] ?? 'stdout', data: this.pending.subarray(8, 8 + size) });
      this.pending = this.pending.subarray(8 + size);
    }
    return frames;
  }

  /** Bytes of an incomplete frame left at the end. */
  get leftover(): number {
    return this.pending.length;
  }
}

/** Whole-buffer demultiplexing, for exec output. */
export function demux(buffer: Buffer): { stdout: string; stderr: string } {
  const frames = new FrameParser().push(buffer);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (const f of frames) (f.stream === 'stderr' ? err : out).push(f.data);
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** A transform from the multiplexed stream to plain interleaved bytes. */
export function demuxStream(): Transform {
  const parser = new FrameParser();
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      for (const frame of parser.push(chunk)) this.push(frame.data);
      done();
    },
  });
}

/** Builds one frame (tests and fakes). */
export function frame(stream: StreamKind, data: string | Buffer): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const header = Buffer.alloc(8);
  header[0] = KINDS.indexOf(stream);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}
