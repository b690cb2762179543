/**
 * The lab: how long `lab up` and `lab down` take for 3 hosts with the image
 * cache warm (the common case: tests and the demo), what the first image
 * build costs (into a scratch cache, so the shared one is left alone), and an
 * SSH login with the pinned key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureImages } from '../engine/lab/images.ts';
import { labDown, labSshArgv, labUp } from '../engine/lab/index.ts';
import { run } from '../engine/lab/process.ts';
import { median } from './run.ts';

const INDEX = 20;
const ROUNDS = 5;

export default async function (log: (line: string) => void): Promise<Record<string, number>> {
  const appsDir = resolve(import.meta.dirname, '../examples-repo/apps');
  const scratch = mkdtempSync(join(tmpdir(), 'cox-bench-images-'));
  let imagesColdMs: number;
  try {
    const t = Date.now();
    const stores = await ensureImages({ appsDir, cacheDir: scratch });
    imagesColdMs = Date.now() - t;
    log(`built ${stores.length} image stores from scratch in ${imagesColdMs} ms`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const warmStart = Date.now();
  await ensureImages({ appsDir });
  const imagesWarmMs = Date.now() - warmStart;

  const dir = mkdtempSync(join(tmpdir(), 'cox-bench-lab-'));
  const ups: number[] = [];
  const downs: number[] = [];
  const ssh: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = Date.now();
      const lab = await labUp({ name: 'bench', index: INDEX, nodes: 3, dir });
      ups.push(Date.now() - t0);
      const t1 = Date.now();
      const login = await run(labSshArgv(lab, 'h3', ['true']), { timeoutMs: 20_000 });
      if (login.code !== 0) throw new Error(`ssh to h3 failed: ${login.stderr}`);
      ssh.push(Date.now() - t1);
      const t2 = Date.now();
      await labDown(lab);
      downs.push(Date.now() - t2);
      log(`round ${round + 1}: up ${ups.at(-1)} ms, ssh ${ssh.at(-1)} ms, down ${downs.at(-1)} ms`);
    }
  } finally {
    await labDown(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    labUp3NodesMedianMs: median(ups),
    labDown3NodesMedianMs: median(downs),
    sshLoginPinnedKeyMedianMs: median(ssh),
    imagesColdBuildMs: imagesColdMs,
    imagesWarmCheckMs: imagesWarmMs,
  };
}
