/**
 * Reading the status branch back: the observed state at its tip (or any
 * commit), and the status commits themselves for the audit trail. Git only:
 * works on any clone, without access to the hosts.
 */
import fs from 'node:fs';
import git from 'isomorphic-git';
import type { ObservedState } from '../model.ts';
import { emptyObserved } from '../model.ts';
import { GitError } from '../../common/errors.ts';
import { fullRef, readRef, resolveGitDir } from './git.ts';
import { parseStatusFiles, STATUS_MD } from './render.ts';
import { DESIRED_TRAILER, REASON_TRAILER, REFUSED_TRAILER, parseTrailers } from './messages.ts';
import { DEFAULT_STATUS_BRANCH } from './writer.ts';

export interface StatusSnapshot {
  observed: ObservedState & { refusedCommit?: string };
  /** The status commit read (undefined when the branch does not exist). */
  commit?: string;
  /** Committer time of that commit. */
  time?: Date;
}

export type StatusBranchLookup =
  | { ref: string; oid: string }
  /** None found: the refs looked at, and the remotes' refs when several remotes but not origin have one. */
  | { ref?: undefined; looked: string[]; ambiguous?: string[] };

/**
 * Where this clone keeps the status branch: the local branch, else a remote's
 * copy (a plain `git clone` has only `refs/remotes/<remote>/<branch>`):
 * origin's first, then the one other remote that has it. A full ref (`refs/...`)
 * is taken as it is.
 */
export async function findStatusBranch(repoDir: string, branch = DEFAULT_STATUS_BRANCH): Promise<StatusBranchLookup> {
  const gitdir = resolveGitDir(repoDir);
  const local = fullRef(branch);
  const oid = await readRef(gitdir, local);
  if (oid) return { ref: local, oid };
  if (branch.startsWith('refs/')) return { looked: [local] };
  const remotes = (await git.listRemotes({ fs, gitdir })).map((r) => r.remote).sort((a, b) => Number(b === 'origin') - Number(a === 'origin') || a.localeCompare(b));
  const candidates = remotes.map((remote) => `refs/remotes/${remote}/${branch}`);
  const found: Array<{ ref: string; oid: string }> = [];
  for (const ref of candidates) {
    const at = await readRef(gitdir, ref);
    if (at) found.push({ ref, oid: at });
  }
  const origin = found.find((f) => f.ref === `refs/remotes/origin/${branch}`);
  if (origin) return origin;
  if (found.length === 1) return found[0];
  return { looked: [local, ...candidates], ambiguous: found.length > 1 ? found.map((f) => f.ref) : undefined };
}

/** Observed state on the status branch; empty when the branch does not exist. */
export async function readStatus(repoDir: string, branch = DEFAULT_STATUS_BRANCH): Promise<ObservedState> {
  return (await readStatusSnapshot(repoDir, branch)).observed;
}

/** Like readStatus, with the commit it came from; `rev` may be a branch, a ref or a commit oid. */
export async function readStatusSnapshot(repoDir: string, branch = DEFAULT_STATUS_BRANCH, rev?: string): Promise<StatusSnapshot> {
  const gitdir = resolveGitDir(repoDir);
  const oid = rev && /^[0-9a-f]{40}$/.test(rev) ? rev : await readRef(gitdir, fullRef(rev ?? branch));
  if (!oid) return { observed: emptyObserved() };
  const cache = {};
  const { commit } = await git.readCommit({ fs, gitdir, oid, cache });
  const files: Array<[string, string]> = [];
  const walk = async (treeOid: string, prefix: string): Promise<void> => {
    const { tree } = await git.readTree({ fs, gitdir, oid: treeOid, cache });
    for (const entry of tree) {
      const file = `${prefix}${entry.path}`;
      if (entry.type === 'tree') await walk(entry.oid, `${file}/`);
      else if (file !== STATUS_MD && file.endsWith('.yaml')) {
        const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
        files.push([file, Buffer.from(blob).toString('utf8')]);
      }
    }
  };
  await walk(commit.tree, '');
  const observed = parseStatusFiles(files);
  observed.appliedCommit = parseTrailers(commit.message)[DESIRED_TRAILER];
  return { observed, commit: oid, time: new Date(commit.committer.timestamp * 1000) };
}

export interface StatusHistoryEntry {
  commit: string;
  time: Date;
  subject: string;
  /** One sentence per changed object (the subject alone when it was one change). */
  changes: string[];
  desiredCommit?: string;
  refusedCommit?: string;
  reason?: string;
  /** Paths the commit changed (compared with its parent). */
  paths: string[];
}

/** Status commits, newest first, optionally only those touching some paths or newer than `since`. */
export async function readStatusHistory(
  repoDir: string,
  options: { branch?: string; since?: Date; paths?: string[]; limit?: number } = {},
): Promise<StatusHistoryEntry[]> {
  const gitdir = resolveGitDir(repoDir);
  const tip = await readRef(gitdir, fullRef(options.branch ?? DEFAULT_STATUS_BRANCH));
  if (!tip) return [];
  const cache = {};
  const out: StatusHistoryEntry[] = [];
  let oid: string | undefined = tip;
  while (oid && out.length < (options.limit ?? Infinity)) {
    const { commit } = await git.readCommit({ fs, gitdir, oid, cache });
    const time = new Date(commit.committer.timestamp * 1000);
    if (options.since && time < options.since) break;
    const parent = commit.parent[0];
    const parentTree = parent ? (await git.readCommit({ fs, gitdir, oid: parent, cache })).commit.tree : undefined;
    const paths = await changedPaths(gitdir, parentTree, commit.tree, '', cache);
    if (!options.paths || paths.some((p) => options.paths!.includes(p))) {
      const trailers = parseTrailers(commit.message);
      const paragraphs = commit.message.trim().split(/\n\s*\n/);
      const subject = paragraphs[0];
      const body = paragraphs.length > 2 ? paragraphs[1].split('\n').filter((l) => l && !/^\S+:\d+:\d+: error:/.test(l)) : [];
      out.push({
        commit: oid,
        time,
        subject,
        changes: body.length > 0 ? body : [subject],
        desiredCommit: trailers[DESIRED_TRAILER],
        refusedCommit: trailers[REFUSED_TRAILER],
        reason: trailers[REASON_TRAILER],
        paths,
      });
    }
    oid = parent;
  }
  return out;
}

/** Files that differ between two trees (either may be absent), skipping identical subtrees. */
export async function changedPaths(gitdir: string, a: string | undefined, b: string | undefined, prefix: string, cache: object): Promise<string[]> {
  if (a === b) return [];
  const read = async (oid: string | undefined) => (oid ? (await git.readTree({ fs, gitdir, oid, cache })).tree : []);
  const [ta, tb] = await Promise.all([read(a), read(b)]);
  const ma = new Map(ta.map((e) => [e.path, e]));
  const mb = new Map(tb.map((e) => [e.path, e]));
  const out: string[] = [];
  for (const name of new Set([...ma.keys(), ...mb.keys()])) {
    const ea = ma.get(name);
    const eb = mb.get(name);
    if (ea?.oid === eb?.oid) continue;
    const aTree = ea?.type === 'tree' ? ea.oid : undefined;
    const bTree = eb?.type === 'tree' ? eb.oid : undefined;
    if (aTree || bTree) out.push(...(await changedPaths(gitdir, aTree, bTree, `${prefix}${name}/`, cache)));
    if ((ea && ea.type !== 'tree') || (eb && eb.type !== 'tree')) out.push(`${prefix}${name}`);
  }
  return out.sort();
}

/** The text of one file of the status branch at a commit, or undefined when absent. */
export async function readStatusFile(repoDir: string, commit: string, file: string): Promise<string | undefined> {
  const gitdir = resolveGitDir(repoDir);
  try {
    const { blob } = await git.readBlob({ fs, gitdir, oid: commit, filepath: file });
    return Buffer.from(blob).toString('utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'NotFoundError') return undefined;
    throw new GitError(`${file} at ${commit}: ${(err as Error).message}`, { file, commit }, { cause: err });
  }
}

export interface CommitSummary {
  oid: string;
  author: string;
  email: string;
  time: Date;
  subject: string;
}

/** Author and subject of a commit (e.g. the desired commit a status commit names), or undefined when this clone lacks it. */
export async function summarizeCommit(repoDir: string, oid: string, cache: object = {}): Promise<CommitSummary | undefined> {
  try {
    const { commit } = await git.readCommit({ fs, gitdir: resolveGitDir(repoDir), oid, cache });
    return { oid, author: commit.author.name, email: commit.author.email, time: new Date(commit.author.timestamp * 1000), subject: commit.message.split('\n')[0] };
  } catch {
    return undefined;
  }
}
