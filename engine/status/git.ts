/**
 * Git objects written directly: loose blobs, trees and commits (zlib-deflated,
 * SHA-1 named) and ref updates under git's own lock protocol, so the engine
 * commits to a branch without ever touching a user's index or working tree.
 *
 * Reading goes through isomorphic-git (it understands packs); writing does not,
 * because isomorphic-git's writeTree/writeBlob are too slow for a status tree
 * of thousands of files. `TreeBuilder` keeps the whole tree in memory and
 * re-hashes only the directories on the path of a change, so a commit of ten
 * changed files costs ten blobs, the trees above them and one commit.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, readdir } from 'node:fs/promises';
import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { GitError } from '../../common/errors.ts';

export type ObjectType = 'blob' | 'tree' | 'commit';

export const BLOB_MODE = '100644';
export const TREE_MODE = '40000';

/** The git directory of a repository: `DIR` when it is bare, `DIR/.git` (or where a `.git` file points) otherwise. */
export function resolveGitDir(repoDir: string): string {
  const dotGit = path.join(repoDir, '.git');
  if (existsSync(dotGit)) {
    if (statSync(dotGit).isDirectory()) return dotGit;
    const pointer = /^gitdir:\s*(.+)\s*$/m.exec(readFileSync(dotGit, 'utf8'));
    if (pointer) return path.resolve(repoDir, pointer[1]);
  }
  if (existsSync(path.join(repoDir, 'HEAD')) && existsSync(path.join(repoDir, 'objects'))) return repoDir;
  throw new GitError(`${repoDir}: not a git repository (no .git directory, and not a bare repository)`, { repoDir });
}

/** The full name of a branch: `coxswain/status` -> `refs/heads/coxswain/status`; a name starting with `refs/` is kept. */
export function fullRef(branch: string): string {
  return branch.startsWith('refs/') ? branch : `refs/heads/${branch}`;
}

export function hashObject(type: ObjectType, content: Buffer): { oid: string; raw: Buffer } {
  const raw = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  return { oid: createHash('sha1').update(raw).digest('hex'), raw };
}

/** Writes loose objects into one git directory; objects already present are not rewritten. */
export class ObjectWriter {
  readonly objectsDir: string;
  /** Loose objects written by this writer since the last pack (what decides when to pack). */
  written = 0;
  private readonly knownDirs = new Set<string>();

  constructor(readonly gitdir: string) {
    this.objectsDir = path.join(gitdir, 'objects');
  }

  /**
   * Synchronous on purpose: a commit writes a few dozen small files, and the
   * thread-pool round trips of async fs calls cost more than the writes.
   */
  async write(type: ObjectType, content: Buffer): Promise<string> {
    return this.writeSync(type, content);
  }

  writeSync(type: ObjectType, content: Buffer): string {
    const { oid, raw } = hashObject(type, content);
    const dir = path.join(this.objectsDir, oid.slice(0, 2));
    const file = path.join(dir, oid.slice(2));
    if (existsSync(file)) return oid;
    if (!this.knownDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.knownDirs.add(dir);
    }
    const tmp = path.join(dir, `tmp_obj_${process.pid}_${oid.slice(2, 10)}_${Math.random().toString(36).slice(2, 8)}`);
    const data = deflateSync(raw, { level: 1 });
    try {
      writeFileSync(tmp, data, { mode: 0o444 });
    } catch (err) {
      // `git repack` (prune-packed) removes emptied fan-out directories.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(dir, { recursive: true });
      writeFileSync(tmp, data, { mode: 0o444 });
    }
    renameSync(tmp, file);
    this.written++;
    return oid;
  }
}

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

/** Git's tree order: byte order of names, with a directory compared as if its name ended in "/". */
export function compareEntries(a: { name: string; mode: string }, b: { name: string; mode: string }): number {
  const an = a.mode === TREE_MODE ? `${a.name}/` : a.name;
  const bn = b.mode === TREE_MODE ? `${b.name}/` : b.name;
  return Buffer.compare(Buffer.from(an), Buffer.from(bn));
}

export function encodeTree(entries: TreeEntry[]): Buffer {
  const sorted = [...entries].sort(compareEntries);
  return Buffer.concat(sorted.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, 'hex')])));
}

export interface Identity {
  name: string;
  email: string;
}

export function encodeCommit(c: { tree: string; parents: string[]; author: Identity; committer?: Identity; time: Date; message: string }): Buffer {
  const seconds = Math.floor(c.time.getTime() / 1000);
  const sign = (who: Identity) => `${who.name} <${who.email}> ${seconds} +0000`;
  const lines = [`tree ${c.tree}`, ...c.parents.map((p) => `parent ${p}`), `author ${sign(c.author)}`, `committer ${sign(c.committer ?? c.author)}`];
  const message = c.message.endsWith('\n') ? c.message : `${c.message}\n`;
  return Buffer.from(`${lines.join('\n')}\n\n${message}`);
}

/**
 * A directory of the status tree in memory. A clean directory knows its oid;
 * a change marks the directories on its path dirty, and `write` re-hashes only
 * those. Entry bytes are cached so a 10,000-entry directory re-encodes by
 * concatenation, and sorted order is recomputed only when names come or go.
 */
class TreeNode {
  readonly blobs = new Map<string, string>();
  readonly dirs = new Map<string, TreeNode>();
  oid: string | undefined;
  private order: Array<{ name: string; mode: string }> | undefined;
  private readonly encoded = new Map<string, { oid: string; bytes: Buffer }>();

  entryBytes(name: string, mode: string, oid: string): Buffer {
    const key = `${mode} ${name}`;
    const cached = this.encoded.get(key);
    if (cached && cached.oid === oid) return cached.bytes;
    const bytes = Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, 'hex')]);
    this.encoded.set(key, { oid, bytes });
    return bytes;
  }

  invalidateOrder(): void {
    this.order = undefined;
  }

  sortedNames(): Array<{ name: string; mode: string }> {
    if (!this.order) {
      this.order = [
        ...[...this.blobs.keys()].map((name) => ({ name, mode: BLOB_MODE })),
        ...[...this.dirs.keys()].map((name) => ({ name, mode: TREE_MODE })),
      ].sort(compareEntries);
    }
    return this.order;
  }

  forget(name: string, mode: string): void {
    this.encoded.delete(`${mode} ${name}`);
  }
}

/** The complete file tree of a branch, in memory, with incremental writes. */
export class TreeBuilder {
  private root = new TreeNode();

  /** Current blob oid at a path, if any. */
  get(filePath: string): string | undefined {
    const parts = filePath.split('/');
    let node: TreeNode | undefined = this.root;
    for (const part of parts.slice(0, -1)) {
      node = node.dirs.get(part);
      if (!node) return undefined;
    }
    return node.blobs.get(parts[parts.length - 1]);
  }

  /** Every file path with its blob oid. */
  *files(prefix = '', node: TreeNode = this.root): Generator<[string, string]> {
    for (const [name, oid] of node.blobs) yield [`${prefix}${name}`, oid];
    for (const [name, child] of node.dirs) yield* this.files(`${prefix}${name}/`, child);
  }

  /** Sets (oid) or removes (undefined) the file at a path; returns whether anything changed. */
  set(filePath: string, oid: string | undefined): boolean {
    const parts = filePath.split('/');
    const name = parts.pop()!;
    const trail: TreeNode[] = [this.root];
    let node = this.root;
    for (const part of parts) {
      let child = node.dirs.get(part);
      if (!child) {
        if (oid === undefined) return false;
        child = new TreeNode();
        node.dirs.set(part, child);
        node.invalidateOrder();
      }
      node = child;
      trail.push(node);
    }
    const before = node.blobs.get(name);
    if (before === oid) return false;
    if (oid === undefined) {
      node.blobs.delete(name);
      node.forget(name, BLOB_MODE);
      node.invalidateOrder();
    } else {
      if (before === undefined) node.invalidateOrder();
      node.blobs.set(name, oid);
    }
    for (const n of trail) n.oid = undefined;
    // Drop directories that became empty: git has no empty trees.
    for (let i = trail.length - 1; i > 0; i--) {
      const dir = trail[i];
      if (dir.blobs.size > 0 || dir.dirs.size > 0) break;
      trail[i - 1].dirs.delete(parts[i - 1]);
      trail[i - 1].forget(parts[i - 1], TREE_MODE);
      trail[i - 1].invalidateOrder();
    }
    return true;
  }

  /** Writes every dirty directory (bottom up) and returns the root tree's oid. */
  async write(objects: ObjectWriter): Promise<string> {
    return this.writeNode(this.root, objects);
  }

  private async writeNode(node: TreeNode, objects: ObjectWriter): Promise<string> {
    if (node.oid) return node.oid;
    const chunks: Buffer[] = [];
    for (const { name, mode } of node.sortedNames()) {
      const oid = mode === TREE_MODE ? await this.writeNode(node.dirs.get(name)!, objects) : node.blobs.get(name)!;
      chunks.push(node.entryBytes(name, mode, oid));
    }
    node.oid = await objects.write('tree', Buffer.concat(chunks));
    return node.oid;
  }

  /** Loads a committed tree (recursively) as the clean starting point. */
  static async load(gitdir: string, treeOid: string | undefined, cache: object = {}): Promise<TreeBuilder> {
    const builder = new TreeBuilder();
    if (treeOid) builder.root = await loadNode(gitdir, treeOid, cache);
    return builder;
  }
}

async function loadNode(gitdir: string, oid: string, cache: object): Promise<TreeNode> {
  const { tree } = await git.readTree({ fs, gitdir, oid, cache });
  const node = new TreeNode();
  for (const entry of tree) {
    if (entry.type === 'tree') node.dirs.set(entry.path, await loadNode(gitdir, entry.oid, cache));
    else node.blobs.set(entry.path, entry.oid);
  }
  node.oid = oid;
  return node;
}

// ---- refs -------------------------------------------------------------------

/** The oid a ref points at (loose ref first, then packed-refs), or undefined when it does not exist. */
export async function readRef(gitdir: string, ref: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path.join(gitdir, ref), 'utf8')).trim();
    if (text.startsWith('ref: ')) return readRef(gitdir, text.slice(5));
    if (/^[0-9a-f]{40}$/.test(text)) return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
  }
  return readPackedRefs(gitdir).then((refs) => refs.get(ref));
}

export async function readPackedRefs(gitdir: string): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(path.join(gitdir, 'packed-refs'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return refs;
    throw err;
  }
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{40}) (\S+)$/.exec(line);
    if (m) refs.set(m[2], m[1]);
  }
  return refs;
}

/** Every ref under a prefix (e.g. `refs/coxswain/previews/`), loose and packed, with its oid. */
export async function listRefs(gitdir: string, prefix: string): Promise<Map<string, string>> {
  const found = await readPackedRefs(gitdir);
  for (const name of [...found.keys()]) if (!name.startsWith(prefix)) found.delete(name);
  const walk = async (dir: string, rel: string): Promise<void> => {
    let names: fs.Dirent[];
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) {
      if (d.isDirectory()) await walk(path.join(dir, d.name), `${rel}${d.name}/`);
      else if (!d.name.endsWith('.lock')) {
        const oid = await readRef(gitdir, `${rel}${d.name}`);
        if (oid) found.set(`${rel}${d.name}`, oid);
      }
    }
  };
  await walk(path.join(gitdir, prefix), prefix);
  return found;
}

/** Thrown when a ref no longer has the value a compare-and-swap expected. */
export class RefMoved extends GitError {
  constructor(
    readonly ref: string,
    readonly expected: string | undefined,
    readonly actual: string | undefined,
  ) {
    super(`${ref} moved: expected ${expected ?? '(none)'}, found ${actual ?? '(none)'}`, { ref, expected, actual });
  }
}

/**
 * Compare-and-swap of a ref with git's lock protocol: create `REF.lock`
 * exclusively, check the current value, write, rename over the ref. A held
 * lock is retried for up to `lockTimeoutMs` (another writer, or `git` itself).
 */
export async function updateRef(gitdir: string, ref: string, next: string, expected: string | undefined, lockTimeoutMs = 2000): Promise<void> {
  const file = path.join(gitdir, ref);
  const lock = `${file}.lock`;
  await mkdir(path.dirname(file), { recursive: true });
  const deadline = Date.now() + lockTimeoutMs;
  let handle;
  for (;;) {
    try {
      handle = await open(lock, 'wx');
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() > deadline) throw new GitError(`${ref}: lock ${lock} held for more than ${lockTimeoutMs} ms`, { ref, lock });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  try {
    const actual = await readRef(gitdir, ref);
    if (actual !== expected) throw new RefMoved(ref, expected, actual);
    await handle.writeFile(`${next}\n`);
    await handle.close();
    handle = undefined;
    await rename(lock, file);
  } finally {
    if (handle) {
      await handle.close();
      await rm(lock, { force: true });
    }
  }
}
