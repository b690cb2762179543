/**
 * StatusWriter: observed state -> commits on the status branch.
 *
 *   const writer = await StatusWriter.open({ repoDir, branch: 'coxswain/status', remote? });
 *   writer.update(observed, { desiredCommit, reason });   // cheap; batched within windowMs
 *   await writer.flush();                                  // commit now (returns the commit, or undefined)
 *   await writer.close();                                  // flush and stop
 *
 * - Only observable changes commit: each object is compared by canonical JSON
 *   with what the branch holds; heartbeat times never reach the files.
 * - Objects are written directly (loose blobs, the trees on the changed paths,
 *   a commit) and the ref is moved by compare-and-swap under git's lock: the
 *   user's index and working tree are never touched.
 * - A ref that moved under us (another writer) means: reload its tree, re-apply
 *   our changes (a path -> content delta), commit again. With a remote the same
 *   happens after a rejected push (fetch, re-apply, push again; never forced).
 *   Nothing either writer wrote is lost; STATUS.md is the last writer's view.
 * - Loose objects are packed with `git repack -d` every `packEvery` objects.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import fs from 'node:fs';
import git from 'isomorphic-git';
import type { ObservedState } from '../model.ts';
import { GitError, describeError } from '../../common/errors.ts';
import { ObjectWriter, RefMoved, TreeBuilder, encodeCommit, fullRef, readRef, resolveGitDir, updateRef, type Identity } from './git.ts';
import { ERRORS_FILE, STATUS_MD, canonicalJson, objectsByPath, parseStatusFiles, renderErrors, renderObject, renderStatusMarkdown, type StatusObject } from './render.ts';
import { composeMessage, describeChange, describeErrors, parseTrailers, DESIRED_TRAILER, type Cause } from './messages.ts';
import { fetchRef, pushRef, type RemoteOptions } from './remote.ts';

const run = promisify(execFile);

export const DEFAULT_STATUS_BRANCH = 'coxswain/status';

export interface StatusWriterOptions {
  /** A repository (bare or with a working tree); with `remote`, a local clone the engine owns. */
  repoDir: string;
  branch?: string;
  /** Changes within this window share one commit (default 500 ms). */
  windowMs?: number;
  author?: Identity;
  now?: () => Date;
  /** Push every commit there (compare-and-swap, never forced). */
  remote?: RemoteOptions;
  /** Pack loose objects after this many were written (default 2000; 0 = never). */
  packEvery?: number;
  /** Give up after this many lost compare-and-swap races in a row (default 20). */
  maxRetries?: number;
  onCommit?: (commit: StatusCommit) => void;
  /** Errors of batched (timer) flushes; `flush()` callers get them thrown. */
  onError?: (err: unknown) => void;
}

export interface StatusCommit {
  oid: string;
  parent?: string;
  message: string;
  /** One sentence per changed object. */
  changes: string[];
  /** Paths written or deleted. */
  paths: string[];
  /** Times the commit was re-applied after losing a race. */
  retries: number;
}

/** A path -> new content (or null: delete) change set. */
export type StatusDelta = Map<string, string | null>;

interface Known {
  canon: string;
  obj: StatusObject;
}

export class StatusWriter {
  readonly gitdir: string;
  readonly ref: string;
  private readonly objects: ObjectWriter;
  private readonly cache = {};
  private tree!: TreeBuilder;
  private tip: string | undefined;
  /** What this writer last committed, by path (its own view; another writer's files are not in it). */
  private known = new Map<string, Known>();
  private knownErrors: ObservedState['errors'] = [];
  private knownErrorsText: string | undefined;
  private knownMarkdown: string | undefined;
  private pending: { observed: ObservedState; cause: Cause } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private unpushed = false;
  private closed = false;

  private constructor(private readonly options: StatusWriterOptions) {
    this.gitdir = resolveGitDir(options.repoDir);
    this.ref = fullRef(options.branch ?? DEFAULT_STATUS_BRANCH);
    this.objects = new ObjectWriter(this.gitdir);
  }

  static async open(options: StatusWriterOptions): Promise<StatusWriter> {
    const writer = new StatusWriter(options);
    if (options.remote) {
      const remoteTip = await fetchRef(writer.gitdir, options.remote, writer.ref, writer.cache);
      const localTip = await readRef(writer.gitdir, writer.ref);
      if (remoteTip && remoteTip !== localTip) {
        const localIsBehind = !localTip || (await git.isDescendent({ fs, gitdir: writer.gitdir, oid: remoteTip, ancestor: localTip, depth: -1, cache: writer.cache }).catch(() => false));
        if (localIsBehind) await updateRef(writer.gitdir, writer.ref, remoteTip, localTip);
        else writer.unpushed = true;
      }
    }
    await writer.loadTip(await readRef(writer.gitdir, writer.ref), true);
    return writer;
  }

  /** The commit the branch points at, as this writer last saw it. */
  get head(): string | undefined {
    return this.tip;
  }

  /** Records the newest observed state; a commit follows within the batching window. */
  update(observed: ObservedState, cause: Cause): void {
    if (this.closed) throw new GitError('status writer is closed');
    this.pending = { observed, cause };
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch((err) => (this.options.onError ?? ((e) => process.stderr.write(`status: ${describeError(e)}\n`)))(err));
      }, this.options.windowMs ?? 500);
    }
  }

  /** Commits what is pending now. Resolves to the commit made, or undefined when nothing observable changed. */
  flush(): Promise<StatusCommit | undefined> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const next = this.chain.then(() => this.commitPending());
    this.chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private async loadTip(tip: string | undefined, readKnown: boolean): Promise<void> {
    let treeOid: string | undefined;
    if (tip) treeOid = (await git.readCommit({ fs, gitdir: this.gitdir, oid: tip, cache: this.cache })).commit.tree;
    this.tree = await TreeBuilder.load(this.gitdir, treeOid, this.cache);
    this.tip = tip;
    if (!readKnown || !tip) return;
    const files: Array<[string, string]> = [];
    for (const [file, oid] of this.tree.files()) {
      if (file === STATUS_MD) {
        this.knownMarkdown = await this.readText(oid);
        continue;
      }
      files.push([file, await this.readText(oid)]);
    }
    const observed = parseStatusFiles(files);
    const state = objectsByPath({ ...observed, nodes: observed.nodes });
    for (const [file, obj] of state) this.known.set(file, { canon: canonicalJson(obj), obj });
    this.knownErrors = observed.errors;
    this.knownErrorsText = files.find(([f]) => f === ERRORS_FILE)?.[1];
  }

  private async readText(oid: string): Promise<string> {
    const { blob } = await git.readBlob({ fs, gitdir: this.gitdir, oid, cache: this.cache });
    return Buffer.from(blob).toString('utf8');
  }

  private async commitPending(): Promise<StatusCommit | undefined> {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) {
      if (this.unpushed) await this.push([], 'pending push', new Map());
      return undefined;
    }
    const { observed, cause } = pending;
    const delta: StatusDelta = new Map();
    const changes: string[] = [];
    const nextKnown = new Map<string, Known>();
    for (const [file, obj] of objectsByPath(observed)) {
      const canon = canonicalJson(obj);
      const before = this.known.get(file);
      nextKnown.set(file, before && before.canon === canon ? before : { canon, obj: structuredClone(obj) });
      if (before?.canon === canon) continue;
      delta.set(file, renderObject(obj));
      changes.push(describeChange(before?.obj, obj));
    }
    for (const [file, before] of this.known) {
      if (nextKnown.has(file)) continue;
      delta.set(file, null);
      changes.push(describeChange(before.obj, undefined));
    }
    const refused = cause.refusedCommit ?? (observed as ObservedState & { refusedCommit?: string }).refusedCommit;
    const errorsText = renderErrors(observed.errors, refused);
    if (errorsText !== this.knownErrorsText) {
      delta.set(ERRORS_FILE, errorsText ?? null);
      changes.push(describeErrors(this.knownErrors, observed.errors, refused) ?? 'validation errors changed');
    }
    if (changes.length === 0) {
      if (this.unpushed) await this.push([], 'pending push', new Map());
      return undefined;
    }
    const markdown = renderStatusMarkdown({ ...observed, appliedCommit: observed.appliedCommit ?? cause.desiredCommit });
    if (markdown !== this.knownMarkdown) delta.set(STATUS_MD, markdown);
    const message = composeMessage(changes, { ...cause, refusedCommit: refused }, observed.errors);
    // What is committed locally is known, even if the push that follows fails (it is retried on the next flush).
    return this.commitDelta(delta, message, changes, () => {
      this.known = nextKnown;
      this.knownErrors = observed.errors;
      this.knownErrorsText = errorsText;
      this.knownMarkdown = markdown;
    });
  }

  /**
   * Writes a change set as one commit on the branch: the low-level step, also
   * used by the benchmark. Re-applies onto a moved tip and, with a remote,
   * pushes (fetching and re-applying on rejection).
   */
  async commitDelta(delta: StatusDelta, message: string, changes: string[] = [], committedLocally?: () => void): Promise<StatusCommit | undefined> {
    const blobs = new Map<string, string | undefined>();
    for (const [file, text] of delta) blobs.set(file, text === null ? undefined : await this.objects.write('blob', Buffer.from(text)));
    const maxRetries = this.options.maxRetries ?? 20;
    let retries = 0;
    let made: StatusCommit | undefined;
    for (;;) {
      for (const [file, oid] of blobs) this.tree.set(file, oid);
      const treeOid = await this.tree.write(this.objects);
      const parentTree = this.tip ? (await git.readCommit({ fs, gitdir: this.gitdir, oid: this.tip, cache: this.cache })).commit.tree : undefined;
      if (treeOid === parentTree) {
        made = undefined;
        break;
      }
      const time = (this.options.now ?? (() => new Date()))();
      const author = this.options.author ?? { name: 'Coxswain', email: 'coxswain@localhost' };
      const oid = await this.objects.write('commit', encodeCommit({ tree: treeOid, parents: this.tip ? [this.tip] : [], author, time, message }));
      try {
        await updateRef(this.gitdir, this.ref, oid, this.tip);
        made = { oid, parent: this.tip, message, changes, paths: [...delta.keys()], retries };
        this.tip = oid;
        break;
      } catch (err) {
        if (!(err instanceof RefMoved) || ++retries > maxRetries) throw err;
        await this.loadTip(err.actual, false);
      }
    }
    committedLocally?.();
    if (this.options.remote) {
      this.unpushed = true;
      const pushed = await this.push(changes, message, blobs, retries);
      if (pushed) made = pushed;
    }
    if (made) this.options.onCommit?.(made);
    await this.maybePack();
    return made;
  }

  /** Pushes the branch; on rejection fetches, re-applies the delta on the remote tip and retries. */
  private async push(changes: string[], message: string, blobs: Map<string, string | undefined>, retries = 0): Promise<StatusCommit | undefined> {
    const remote = this.options.remote!;
    const maxRetries = this.options.maxRetries ?? 20;
    let rebased: StatusCommit | undefined;
    for (;;) {
      const outcome = await pushRef(this.gitdir, remote, this.ref, this.cache);
      if (outcome.ok) {
        this.unpushed = false;
        return rebased;
      }
      if (++retries > maxRetries) throw new GitError(`status push to ${this.ref} rejected ${retries} times: ${outcome.reason}`, { ref: this.ref });
      const remoteTip = await fetchRef(this.gitdir, remote, this.ref, this.cache);
      const mine = this.tip;
      await this.loadTip(remoteTip, false);
      for (const [file, oid] of blobs) this.tree.set(file, oid);
      const treeOid = await this.tree.write(this.objects);
      const parentTree = remoteTip ? (await git.readCommit({ fs, gitdir: this.gitdir, oid: remoteTip, cache: this.cache })).commit.tree : undefined;
      let next = remoteTip;
      if (treeOid !== parentTree) {
        const time = (this.options.now ?? (() => new Date()))();
        const author = this.options.author ?? { name: 'Coxswain', email: 'coxswain@localhost' };
        next = await this.objects.write('commit', encodeCommit({ tree: treeOid, parents: remoteTip ? [remoteTip] : [], author, time, message }));
        rebased = { oid: next, parent: remoteTip, message, changes, paths: [...blobs.keys()], retries };
      }
      // The local branch is ours alone in remote mode: move it from our old tip to the rebased one.
      await updateRef(this.gitdir, this.ref, next!, mine);
      this.tip = next;
    }
  }

  private async maybePack(): Promise<void> {
    const every = this.options.packEvery ?? 2000;
    if (every <= 0 || this.objects.written < every) return;
    await packRepository(this.gitdir);
    this.objects.written = 0;
  }
}

/**
 * Packs loose objects (`git repack -d`, deltas included) and, once packs pile
 * up, consolidates them into one (`git repack -a -d`). Unreachable objects are
 * kept (another writer may be about to reference them).
 */
export async function packRepository(gitdir: string, maxPacks = 10): Promise<void> {
  try {
    await run('git', ['--git-dir', gitdir, 'repack', '-d', '-q'], { maxBuffer: 1 << 20 });
    const packs = (await readdir(path.join(gitdir, 'objects', 'pack')).catch(() => [] as string[])).filter((f) => f.endsWith('.pack'));
    if (packs.length > maxPacks) await run('git', ['--git-dir', gitdir, 'repack', '-a', '-d', '-q'], { maxBuffer: 1 << 20 });
  } catch (err) {
    throw new GitError(`packing ${gitdir}: ${(err as { stderr?: string }).stderr?.trim() || describeError(err)}`, { gitdir }, { cause: err });
  }
}

/** The desired commit a status commit reconciled (its Coxswain-Desired trailer). */
export function desiredCommitOf(message: string): string | undefined {
  return parseTrailers(message)[DESIRED_TRAILER];
}
