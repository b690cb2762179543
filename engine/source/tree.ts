/**
 * The manifest files of a commit, read from git objects (isomorphic-git, packs
 * included) and never from a working tree or index; and the difference between
 * two commits' trees, skipping every subtree whose oid did not change.
 */
import fs from 'node:fs';
import path from 'node:path';
import git, { type FsClient } from 'isomorphic-git';
import { GitError } from '../../common/errors.ts';
import { hashObject } from '../status/git.ts';
import type { PackReader } from './pack.ts';

/** Manifests are *.yaml, *.yml and *.json outside hidden directories (.github workflows are not manifests). */
export function isManifestPath(file: string): boolean {
  if (!/\.(ya?ml|json)$/i.test(file)) return false;
  return !file.split('/').some((part) => part.startsWith('.'));
}

/** path -> blob oid. */
export type FileIndex = Map<string, string>;

export async function commitTree(gitdir: string, commit: string, cache: object, objectFs: FsClient = fs, packs?: PackReader): Promise<string> {
  const packed = readPacked(packs, commit, 'commit');
  const tree = packed && /^tree ([0-9a-f]{40})\n/.exec(packed.toString('latin1', 0, 46))?.[1];
  if (tree) return tree;
  try {
    return (await git.readCommit({ fs: objectFs, gitdir, oid: commit, cache })).commit.tree;
  } catch (err) {
    throw new GitError(`commit ${commit}: ${(err as Error).message}`, { commit }, { cause: err });
  }
}

/** Every manifest file of a tree with its blob oid. */
export async function listManifestFiles(gitdir: string, tree: string, cache: object, objectFs: FsClient = fs, packs?: PackReader): Promise<FileIndex> {
  const out: FileIndex = new Map();
  const walk = async (oid: string, prefix: string): Promise<void> => {
    const entries = await readTreeEntries(gitdir, oid, cache, objectFs, packs);
    await Promise.all(
      entries.map(async (e) => {
        const file = `${prefix}${e.path}`;
        if (e.type === 'tree') {
          if (!e.path.startsWith('.')) await walk(e.oid, `${file}/`);
        } else if (e.type === 'blob' && isManifestPath(file)) out.set(file, e.oid);
      }),
    );
  };
  await walk(tree, '');
  return out;
}

export interface TreeDiff {
  /** Files added or whose content changed, with their new blob oid. */
  changed: FileIndex;
  deleted: string[];
}

/** Manifest files that differ between two trees; identical subtrees are skipped without being read. */
export async function diffManifestTrees(gitdir: string, from: string | undefined, to: string, cache: object, objectFs: FsClient = fs, packs?: PackReader): Promise<TreeDiff> {
  const diff: TreeDiff = { changed: new Map(), deleted: [] };
  const read = async (oid: string | undefined) => (oid ? readTreeEntries(gitdir, oid, cache, objectFs, packs) : []);
  const walk = async (a: string | undefined, b: string | undefined, prefix: string): Promise<void> => {
    if (a === b) return;
    const [ta, tb] = await Promise.all([read(a), read(b)]);
    const ma = new Map(ta.map((e) => [e.path, e]));
    const mb = new Map(tb.map((e) => [e.path, e]));
    const jobs: Array<Promise<void>> = [];
    for (const name of new Set([...ma.keys(), ...mb.keys()])) {
      if (name.startsWith('.')) continue;
      const ea = ma.get(name);
      const eb = mb.get(name);
      if (ea?.oid === eb?.oid && ea?.type === eb?.type) continue;
      const file = `${prefix}${name}`;
      const aTree = ea?.type === 'tree' ? ea.oid : undefined;
      const bTree = eb?.type === 'tree' ? eb.oid : undefined;
      if (aTree || bTree) jobs.push(walk(aTree, bTree, `${file}/`));
      if (!isManifestPath(file)) continue;
      if (eb?.type === 'blob') diff.changed.set(file, eb.oid);
      else if (ea?.type === 'blob') diff.deleted.push(file);
    }
    await Promise.all(jobs);
  };
  await walk(from, to, '');
  diff.deleted.sort();
  return diff;
}

export async function readBlobText(gitdir: string, oid: string, cache: object, objectFs: FsClient = fs, packs?: PackReader): Promise<string> {
  const packed = readPacked(packs, oid, 'blob');
  if (packed) return packed.toString('utf8');
  const { blob } = await git.readBlob({ fs: objectFs, gitdir, oid, cache });
  return Buffer.from(blob).toString('utf8');
}

export interface TreeEntry {
  path: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

/** A tree's entries: from a pack when it is in one, through isomorphic-git otherwise. */
export async function readTreeEntries(gitdir: string, oid: string, cache: object, objectFs: FsClient = fs, packs?: PackReader): Promise<TreeEntry[]> {
  const packed = readPacked(packs, oid, 'tree');
  if (packed) return parseTree(packed);
  return (await git.readTree({ fs: objectFs, gitdir, oid, cache })).tree;
}

/** Git's tree format: entries of `<octal mode> <name>\0<20-byte oid>`. */
function parseTree(data: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const nul = data.indexOf(0, space);
    const mode = data.toString('latin1', at, space);
    const type = mode === '40000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
    entries.push({ path: data.toString('utf8', space + 1, nul), oid: data.toString('hex', nul + 1, nul + 21), type });
    at = nul + 21;
  }
  return entries;
}

/** An object's content from a pack, if it is packed, of that type and hashes to its oid. */
function readPacked(packs: PackReader | undefined, oid: string, type: 'commit' | 'tree' | 'blob'): Buffer | undefined {
  const packed = packs?.read(oid);
  return packed?.type === type && hashObject(type, packed.data).oid === oid ? packed.data : undefined;
}

/**
 * The fs handed to isomorphic-git while reading one commit. Git objects never
 * change, so within one load a directory listing of `objects/` can be reused:
 * it answers "is this object loose?" without a failed open per object and
 * spares a readdir of `objects/pack` per object (isomorphic-git does both).
 * Made anew for every load, so objects written since are seen.
 */
export function objectReadingFs(gitdir: string): FsClient {
  const p = fs.promises;
  const objects = path.join(gitdir, 'objects');
  const listings = new Map<string, Promise<string[] | undefined>>();
  const list = (dir: string) => {
    let listing = listings.get(dir);
    if (!listing) {
      listing = p.readdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      listings.set(dir, listing);
    }
    return listing;
  };
  const loose = /^[0-9a-f]{2}\/[0-9a-f]{38}$/;
  const promises: Record<string, unknown> = {
    readFile: async (file: string, options?: unknown) => {
      const rel = path.relative(objects, path.normalize(file));
      if (loose.test(rel)) {
        const names = await list(path.join(objects, rel.slice(0, 2)));
        if (!names?.includes(rel.slice(3))) throw Object.assign(new Error(`ENOENT: no such file, open '${file}'`), { code: 'ENOENT' });
      }
      return p.readFile(file, options as never);
    },
    readdir: async (dir: string, options?: unknown) => {
      const normal = path.normalize(dir);
      if (normal.startsWith(objects) && !options) {
        const names = await list(normal);
        if (!names) throw Object.assign(new Error(`ENOENT: no such file or directory, scandir '${dir}'`), { code: 'ENOENT' });
        return [...names];
      }
      return p.readdir(dir, options as never);
    },
  };
  for (const command of ['writeFile', 'mkdir', 'rmdir', 'unlink', 'stat', 'lstat', 'readlink', 'symlink', 'rm']) {
    promises[command] = (p as unknown as Record<string, (...args: unknown[]) => unknown>)[command].bind(p);
  }
  return { promises } as unknown as FsClient;
}
