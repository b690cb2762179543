/**
 * The ipvs proxier's NodePort virtual servers sit on the node's own address,
 * where other software may keep virtual servers of its own; unlike a VIP
 * (ours because it is bound to cox-ipvs0) the address says nothing about the
 * owner. So the proxier remembers the keys it programmed there
 * ("-t 198.18.0.11:30080"), in the agent's state dir when it has one (an
 * agent restart, or a later nftables-mode agent, still knows them) or in
 * memory only. The set is written before a sync adds one and after it
 * deletes one: a crash in between leaves an extra key, never a lost one.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomically } from '../state.ts';

export const NODEPORTS_FILE = 'ipvs-nodeports.json';

export class OwnedNodePorts {
  readonly file: string | undefined;
  #keys: Set<string> | undefined;

  constructor(stateDir?: string) {
    this.file = stateDir === undefined ? undefined : path.join(stateDir, NODEPORTS_FILE);
  }

  async load(): Promise<Set<string>> {
    if (!this.#keys) {
      let text = '[]';
      if (this.file) {
        try {
          text = await readFile(this.file, 'utf8');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      const parsed: unknown = JSON.parse(text);
      this.#keys = new Set(Array.isArray(parsed) ? parsed.filter((k): k is string => typeof k === 'string') : []);
    }
    return new Set(this.#keys);
  }

  async save(keys: Iterable<string>): Promise<void> {
    const next = new Set(keys);
    const before = await this.load();
    if (before.size === next.size && [...next].every((k) => before.has(k))) return;
    if (this.file) await writeAtomically(this.file, `${JSON.stringify([...next].sort())}\n`);
    this.#keys = next;
  }
}
