/**
 * The infra ("pause") image, made on the host without a registry: a root
 * filesystem tar holding one static binary that sleeps and reaps (catatonit
 * -P, as Podman's own pause image does, or busybox), imported through the
 * runtime as coxswain/pause:1.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { ConfigError } from '../../common/errors.ts';
import type { ContainerRuntime } from './types.ts';

const CANDIDATES = ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit', '/usr/libexec/catatonit/catatonit'];

/** A ustar archive of regular files (enough for a one-binary root filesystem). */
export function tarOf(files: { name: string; data: Buffer; mode: number }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const header = Buffer.alloc(512);
    header.write(f.name, 0, 100, 'utf8');
    header.write(`${f.mode.toString(8).padStart(7, '0')}\0`, 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${f.data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write(`${Math.floor(Date.UTC(2026, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`, 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** Imports the pause image unless the runtime has it already. */
export async function ensurePauseImage(runtime: ContainerRuntime, ref: string, binary?: string): Promise<void> {
  if (await runtime.inspectImage(ref)) return;
  const source = binary ?? CANDIDATES.find((p) => existsSync(p));
  if (!source) throw new ConfigError(`no static pause binary on this host (looked for ${CANDIDATES.join(', ')}); pass --pause-binary or load ${ref}`);
  await runtime.importImage(tarOf([{ name: 'pause', data: await readFile(source), mode: 0o755 }]), ref);
}
