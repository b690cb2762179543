/**
 * A newc ("070701") cpio writer: the initramfs format the kernel unpacks.
 * busybox's cpio cannot create archives, so the guest's initramfs is made here.
 */
export interface CpioEntry {
  /** Path inside the archive, without a leading slash ("init", "bin/busybox"). */
  name: string;
  /** File type and permission bits, e.g. 0o100755 for an executable, 0o040755 for a directory. */
  mode: number;
  data?: Buffer;
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function header(ino: number, mode: number, size: number, nameSize: number, nlink: number): Buffer {
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameSize, 0];
  return Buffer.from('070701' + fields.map((n) => n.toString(16).padStart(8, '0')).join(''), 'ascii');
}

/** The archive, entries in the given order (directories must come before what they hold), ended by TRAILER!!!. */
export function writeCpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const head = header(e.name === 'TRAILER!!!' ? 0 : ino++, e.mode, data.length, name.length, (e.mode & 0o170000) === S_IFDIR ? 2 : 1);
    parts.push(head, name, pad4(head.length + name.length), data, pad4(data.length));
  }
  return Buffer.concat(parts);
}
