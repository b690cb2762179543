/**
 * The node's desired state as last accepted from the engine, persisted so a
 * restarted agent (or one whose engine is gone) keeps converging to it.
 * Written atomically: temp file, fsync, rename, fsync of the directory.
 * Generations fence a deposed engine: an older one than accepted is refused.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, StaleGeneration } from '../common/errors.ts';
import type { NodeDesiredState } from '../common/agent-api.ts';

export const DEFAULT_STATE_DIR = '/var/lib/coxswain';

export class DesiredStateStore {
  private current: NodeDesiredState | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly dir: string = DEFAULT_STATE_DIR) {}

  get file(): string {
    return path.join(this.dir, 'desired.json');
  }

  /** Reads what was persisted; a missing file means "nothing accepted yet". */
  async load(): Promise<NodeDesiredState | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      this.current = JSON.parse(text) as NodeDesiredState;
    } catch (err) {
      throw new ConfigError(`${this.file}: not valid JSON: ${(err as Error).message}`, { file: this.file });
    }
    return this.current;
  }

  get(): NodeDesiredState | undefined {
    return this.current;
  }

  get generation(): number {
    return this.current?.generation ?? 0;
  }

  /**
   * Accepts `next` unless its generation is older than the accepted one (equal
   * is accepted: an engine retrying the same PUT must not fail). Resolves once
   * the state is durable on disk.
   */
  async accept(next: NodeDesiredState): Promise<void> {
    const check = () => {
      if (next.generation < this.generation) throw new StaleGeneration(next.generation, this.generation);
    };
    check();
    const write = this.writing.then(async () => {
      check();
      await writeAtomically(this.file, `${JSON.stringify(next)}\n`);
      this.current = next;
    });
    this.writing = write.catch(() => undefined);
    await write;
  }
}

export async function writeAtomically(file: string, text: string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
