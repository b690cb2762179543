/**
 * A fast path for reading objects out of pack files: pack index v2 lookups,
 * Node's native zlib, OFS_DELTA/REF_DELTA resolution with a cache of resolved
 * bases. isomorphic-git inflates with a JavaScript zlib and re-resolves delta
 * chains for every object, which is what dominated a cold load of a large
 * repository. Anything unusual (an unknown index version, an object in no
 * pack) returns undefined and the caller falls back to isomorphic-git.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';

const TYPES = ['', 'commit', 'tree', 'blob', 'tag'] as const;
export type PackedType = 'commit' | 'tree' | 'blob' | 'tag';

export interface Pack {
  /** oid (hex) -> offset in `data`. */
  offsets: Map<string, number>;
  data: Buffer;
}

export class PackReader {
  private packs: Pack[] | undefined;
  /** Resolved objects by pack and offset (delta bases are shared by many objects). */
  private readonly resolved = new Map<string, { type: PackedType; data: Buffer }>();

  /**
   * `indexed` may be shared between readers of the same repository: a pack
   * file is named after its content and never changes, so its index is parsed
   * once (a reader still lists the pack directory, to see packs come and go).
   */
  constructor(
    readonly gitdir: string,
    private readonly indexed = new Map<string, Pack>(),
  ) {}

  read(oid: string): { type: PackedType; data: Buffer } | undefined {
    for (const pack of this.load()) {
      const offset = pack.offsets.get(oid);
      if (offset !== undefined) return this.readAt(pack, offset);
    }
    return undefined;
  }

  private load(): Pack[] {
    if (this.packs) return this.packs;
    const dir = path.join(this.gitdir, 'objects', 'pack');
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.idx'));
    } catch {
      // no packs
    }
    this.packs = [];
    for (const name of names) {
      const known = this.indexed.get(name);
      if (known) {
        this.packs.push(known);
        continue;
      }
      const idx = readFileSync(path.join(dir, name));
      if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) continue;
      const count = idx.readUInt32BE(8 + 255 * 4);
      const namesAt = 8 + 256 * 4;
      const offsetsAt = namesAt + count * 20 + count * 4;
      const largeAt = offsetsAt + count * 4;
      const offsets = new Map<string, number>();
      for (let i = 0; i < count; i++) {
        let offset = idx.readUInt32BE(offsetsAt + i * 4);
        if (offset & 0x80000000) offset = Number(idx.readBigUInt64BE(largeAt + (offset & 0x7fffffff) * 8));
        offsets.set(idx.toString('hex', namesAt + i * 20, namesAt + i * 20 + 20), offset);
      }
      const pack = { offsets, data: readFileSync(path.join(dir, name.replace(/\.idx$/, '.pack'))) };
      this.indexed.set(name, pack);
      this.packs.push(pack);
    }
    for (const name of [...this.indexed.keys()]) if (!names.includes(name)) this.indexed.delete(name);
    return this.packs;
  }

  private readAt(pack: Pack, offset: number): { type: PackedType; data: Buffer } | undefined {
    const key = `${this.packs!.indexOf(pack)}:${offset}`;
    const cached = this.resolved.get(key);
    if (cached) return cached;
    const buf = pack.data;
    let pos = offset;
    let c = buf[pos++];
    const type = (c >> 4) & 7;
    let size = c & 15;
    let shift = 4;
    while (c & 0x80) {
      c = buf[pos++];
      size += (c & 0x7f) * 2 ** shift;
      shift += 7;
    }
    let base: { type: PackedType; data: Buffer } | undefined;
    if (type === 6) {
      c = buf[pos++];
      let back = c & 0x7f;
      while (c & 0x80) {
        c = buf[pos++];
        back = (back + 1) * 128 + (c & 0x7f);
      }
      base = this.readAt(pack, offset - back);
    } else if (type === 7) {
      base = this.read(buf.toString('hex', pos, pos + 20));
      pos += 20;
    } else if (!TYPES[type]) {
      return undefined;
    }
    const inflated = inflateSync(buf.subarray(pos, Math.min(buf.length, pos + size + 1024 + (size >> 6))));
    let result: { type: PackedType; data: Buffer } | undefined;
    if (type === 6 || type === 7) {
      if (!base) return undefined;
      result = { type: base.type, data: applyDelta(base.data, inflated) };
    } else {
      result = { type: TYPES[type] as PackedType, data: inflated };
    }
    // Trees and delta bases are read again and again; blobs at the tips are read once.
    if (result.type !== 'blob' || this.resolved.size < 4096) this.resolved.set(key, result);
    return result;
  }
}

/** Git's delta format: source and target sizes, then copy (from the base) and insert instructions. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let pos = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    let c: number;
    do {
      c = delta[pos++];
      value += (c & 0x7f) * 2 ** shift;
      shift += 7;
    } while (c & 0x80);
    return value;
  };
  const sourceSize = varint();
  if (sourceSize !== base.length) throw new Error(`delta expects a base of ${sourceSize} bytes, got ${base.length}`);
  const out = Buffer.allocUnsafe(varint());
  let at = 0;
  while (pos < delta.length) {
    const op = delta[pos++];
    if (op & 0x80) {
      let offset = 0;
      let size = 0;
      if (op & 0x01) offset |= delta[pos++];
      if (op & 0x02) offset |= delta[pos++] << 8;
      if (op & 0x04) offset |= delta[pos++] << 16;
      if (op & 0x08) offset += delta[pos++] * 2 ** 24;
      if (op & 0x10) size |= delta[pos++];
      if (op & 0x20) size |= delta[pos++] << 8;
      if (op & 0x40) size |= delta[pos++] << 16;
      if (size === 0) size = 0x10000;
      base.copy(out, at, offset, offset + size);
      at += size;
    } else if (op) {
      delta.copy(out, at, pos, pos + op);
      at += op;
      pos += op;
    } else {
      throw new Error('delta: reserved instruction 0');
    }
  }
  if (at !== out.length) throw new Error(`delta produced ${at} bytes, expected ${out.length}`);
  return out;
}
