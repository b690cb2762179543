/**
 * The desired state, from Git.
 *
 *   const source = new DesiredSource({ repo: '/srv/cluster' | 'https://host/org/cluster.git', branch: 'main' });
 *   source.on('event', (e: SourceEvent) => ...);   // 'branch' (ref moved), 'commit' (loaded), 'preview', 'error'
 *   await source.start(changed?, { appliedCommit? });  // loads the tip, then watches (local) or fetches (URL)
 *   source.current(): DesiredView                    // { applied?: DesiredCommit, refused?: { commit, errors } }
 *   source.previews(): Map<ref, oid>                 // refs/coxswain/previews/* (preview environments)
 *   await source.load(refOrOid): DesiredCommit       // any commit (a preview, a plan's --rev), cached parses shared
 *   await source.refresh()                           // fetch (URL) and re-read refs now
 *   source.webhook(secret)                           // (req, res) handler: GitHub push webhook, X-Hub-Signature-256 checked
 *   await source.stop()
 *
 * - A local repository (bare or with a working tree) is read from its git
 *   objects only; its working tree and index are never touched. chokidar
 *   watches its refs (loose refs and packed-refs), so a commit is noticed
 *   within ~100 ms.
 * - A URL is mirrored over smart HTTP into `stateDir` (token from the
 *   environment variable `tokenEnv`, default COX_GIT_TOKEN), fetched every
 *   `fetchIntervalMs` and whenever a signed push webhook arrives.
 * - Last known good: a commit with any error diagnostic is never applied, not
 *   even in part. `applied` stays the last valid commit; `refused` holds the
 *   newer commit and its errors (file:line:col and message) for the status branch.
 * - Across a restart: `start` is given the commit the status branch says was
 *   applied. When the tip does not validate, that commit (if this repository
 *   has it and it still validates) is `applied` again; nothing else is: no
 *   older commit is guessed, so with no such commit nothing is applied.
 * - Only files whose blob changed since the previous load are read and parsed.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { mkdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import git from 'isomorphic-git';
import { watch, type FSWatcher } from 'chokidar';
import { ConfigError, GitError, describeError } from '../../common/errors.ts';
import type { Diagnostic } from '../manifests/index.ts';
import { fullRef, listRefs, readRef, resolveGitDir, updateRef } from '../status/git.ts';
import { fetchRef, listRemoteRefs, safeUrl, type RemoteOptions } from '../status/remote.ts';
import { DesiredLoader, type DesiredCommit } from './loader.ts';
import { webhookHandler, type WebhookEvent } from './webhook.ts';

export { DesiredLoader, objectChanges, type DesiredCommit, type ObjectChanges, type ObjectRef } from './loader.ts';
export { isManifestPath, listManifestFiles, diffManifestTrees, type FileIndex, type TreeDiff } from './tree.ts';
export { webhookHandler, verifySignature, signBody, type WebhookEvent } from './webhook.ts';

export const PREVIEW_PREFIX = 'refs/coxswain/previews/';

export interface DesiredSourceOptions {
  /** A local repository path, or an http(s) URL served over smart HTTP. */
  repo: string;
  branch?: string;
  /** URL mode: where the local mirror lives (default: $TMPDIR/coxswain-source-<hash of the URL>). */
  stateDir?: string;
  /** URL mode: the token's environment variable and user name. */
  auth?: Omit<RemoteOptions, 'url'>;
  /** URL mode: fetch this often (default 30 s; 0 = only on webhook or refresh()). */
  fetchIntervalMs?: number;
  /** Local mode: watch the refs with chokidar (default true). */
  watch?: boolean;
  /**
   * Local mode: also re-read the refs this often (default 1000 ms; 0 = never). A
   * safety net under the watcher: a ref replaced by rename can, rarely and under
   * load, slip past chokidar; re-reading two refs costs a few syscalls.
   */
  pollIntervalMs?: number;
  loader?: DesiredLoader;
}

export interface RefusedCommit {
  commit: string;
  /** Error diagnostics only (warnings of a refused commit do not matter). */
  errors: Diagnostic[];
}

export interface DesiredView {
  /** The last valid commit: what the engine reconciles. */
  applied?: DesiredCommit;
  /** A newer commit whose manifests do not validate (cleared when a valid commit follows). */
  refused?: RefusedCommit;
}

/** What the engine remembers from before a restart (its status branch). */
export interface RestoredState {
  /** The last commit applied, by the status branch's `Coxswain-Desired` trailer. */
  appliedCommit?: string;
}

export type SourceEvent =
  | { type: 'branch'; commit: string | undefined }
  | { type: 'commit'; commit: string; valid: boolean; view: DesiredView }
  /** The tip was refused at start: the commit applied before the restart is kept, or could not be (`reason`). */
  | { type: 'restored'; commit: string; applied: boolean; reason?: string }
  | { type: 'preview'; ref: string; commit: string | undefined }
  | { type: 'error'; error: unknown };

export class DesiredSource extends EventEmitter {
  readonly gitdir: string;
  readonly branchRef: string;
  readonly remote?: RemoteOptions;
  readonly loader: DesiredLoader;
  private view: DesiredView = {};
  /** The last commit loaded from the branch, valid or not (the base of the next incremental load). */
  private last?: DesiredCommit;
  private tip?: string;
  private previewRefs = new Map<string, string>();
  private watcher?: FSWatcher;
  private interval?: NodeJS.Timeout;
  private running: Promise<boolean> | undefined;
  private again = false;
  private changed?: () => void;
  private stopped = false;
  /** Until the first read of the branch: the commit applied before a restart. */
  private restored?: string;

  constructor(private readonly options: DesiredSourceOptions) {
    super();
    this.branchRef = fullRef(options.branch ?? 'main');
    if (/^https?:\/\//.test(options.repo)) {
      this.remote = { url: options.repo, ...options.auth };
      const stateDir = options.stateDir ?? path.join(os.tmpdir(), `coxswain-source-${createHash('sha256').update(options.repo).digest('hex').slice(0, 12)}`);
      this.gitdir = path.join(stateDir, 'desired.git');
    } else {
      if (!existsSync(options.repo)) throw new ConfigError(`--repo ${options.repo}: no such directory`, { repo: options.repo });
      this.gitdir = resolveGitDir(options.repo);
    }
    this.loader = options.loader ?? new DesiredLoader(this.gitdir);
  }

  /** URL mode: creates the local mirror if it does not exist yet (so the status branch can be fetched into it before start). */
  async openMirror(): Promise<void> {
    if (!this.remote) return;
    mkdirSync(this.gitdir, { recursive: true });
    if (!existsSync(path.join(this.gitdir, 'HEAD'))) await git.init({ fs, gitdir: this.gitdir, bare: true, defaultBranch: 'main' });
  }

  /**
   * Reads the branch once (failing loudly if it cannot), then keeps following it.
   * `restored.appliedCommit` is what stays applied if the tip does not validate.
   */
  async start(changed?: () => void, restored: RestoredState = {}): Promise<void> {
    this.changed = changed;
    this.restored = restored.appliedCommit;
    await this.openMirror();
    await this.refresh();
    if (!this.view.applied && !this.view.refused) {
      throw new GitError(`${this.remote ? safeUrl(this.remote.url) : this.options.repo}: branch ${this.branchRef} not found`, { ref: this.branchRef });
    }
    if (this.remote) {
      const every = this.options.fetchIntervalMs ?? 30_000;
      if (every > 0) this.interval = setInterval(() => this.kick(), every);
    } else if (this.options.watch !== false) {
      await this.watchRefs();
      const every = this.options.pollIntervalMs ?? 1000;
      if (every > 0) this.interval = setInterval(() => this.kick(), every);
    }
  }

  current(): DesiredView {
    return this.view;
  }

  previews(): Map<string, string> {
    return new Map(this.previewRefs);
  }

  /** Loads any ref or commit (e.g. a preview) without changing what is applied. */
  async load(refOrOid: string): Promise<DesiredCommit> {
    const oid = /^[0-9a-f]{40}$/.test(refOrOid) ? refOrOid : await readRef(this.gitdir, refOrOid.startsWith('refs/') ? refOrOid : fullRef(refOrOid));
    if (!oid) throw new GitError(`${refOrOid}: no such ref`, { ref: refOrOid });
    return this.loader.load(oid, this.last);
  }

  /** Fetches (URL mode) and re-reads the refs; resolves true when the branch moved. Calls never overlap. */
  refresh(): Promise<boolean> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let moved = false;
      try {
        do {
          this.again = false;
          moved = (await this.readOnce()) || moved;
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
      return moved;
    })();
    return this.running;
  }

  /** The GitHub push webhook for URL mode (a local repository needs none: its refs are watched). */
  webhook(secret: string) {
    if (!secret) throw new ConfigError('webhook secret is empty: set one, unsigned webhooks are refused');
    return webhookHandler(secret, (_event: WebhookEvent) => this.kick());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.interval) clearInterval(this.interval);
    await this.watcher?.close();
    await this.running?.catch(() => undefined);
  }

  private kick(): void {
    this.refresh().catch((error) => this.emit('event', { type: 'error', error } satisfies SourceEvent));
  }

  private async readOnce(): Promise<boolean> {
    if (this.remote) await this.fetch();
    await this.readPreviews();
    const tip = await readRef(this.gitdir, this.branchRef);
    if (tip === this.tip) return false;
    this.tip = tip;
    this.emit('event', { type: 'branch', commit: tip } satisfies SourceEvent);
    if (!tip) return false;
    const loaded = await this.loader.load(tip, this.last);
    this.last = loaded;
    const restored = this.restored;
    this.restored = undefined;
    if (loaded.valid) this.view = { applied: loaded };
    else {
      const applied = this.view.applied ?? (restored && restored !== tip ? await this.loadRestored(restored, loaded) : undefined);
      this.view = { applied, refused: { commit: tip, errors: loaded.diagnostics.filter((d) => d.severity === 'error') } };
    }
    this.emit('event', { type: 'commit', commit: tip, valid: loaded.valid, view: this.view } satisfies SourceEvent);
    this.changed?.();
    return true;
  }

  /** The commit applied before a restart, if this repository has it and it still validates. */
  private async loadRestored(commit: string, base: DesiredCommit): Promise<DesiredCommit | undefined> {
    let loaded: DesiredCommit;
    try {
      loaded = await this.loader.load(commit, base);
    } catch (err) {
      this.emit('event', { type: 'restored', commit, applied: false, reason: `not readable here: ${describeError(err)}` } satisfies SourceEvent);
      return undefined;
    }
    if (!loaded.valid) {
      const first = loaded.diagnostics.find((d) => d.severity === 'error')!;
      this.emit('event', { type: 'restored', commit, applied: false, reason: `no longer valid: ${first.file}:${first.line}:${first.column}: ${first.message}` } satisfies SourceEvent);
      return undefined;
    }
    this.emit('event', { type: 'restored', commit, applied: true } satisfies SourceEvent);
    return loaded;
  }

  private async readPreviews(): Promise<void> {
    const now = await listRefs(this.gitdir, PREVIEW_PREFIX);
    for (const [ref, oid] of now) {
      if (this.previewRefs.get(ref) !== oid) this.emit('event', { type: 'preview', ref, commit: oid } satisfies SourceEvent);
    }
    for (const ref of this.previewRefs.keys()) if (!now.has(ref)) this.emit('event', { type: 'preview', ref, commit: undefined } satisfies SourceEvent);
    this.previewRefs = now;
  }

  /** URL mode: bring the branch and the preview refs of the mirror up to the remote's. */
  private async fetch(): Promise<void> {
    const remote = this.remote!;
    const server = await listRemoteRefs(remote);
    const wanted = [...server].filter(([ref]) => ref === this.branchRef || ref.startsWith(PREVIEW_PREFIX));
    for (const [ref, oid] of wanted) {
      const local = await readRef(this.gitdir, ref);
      if (local === oid) continue;
      const fetched = await fetchRef(this.gitdir, remote, ref, this.loader.gitCache);
      if (fetched) await updateRef(this.gitdir, ref, fetched, local);
    }
    // Preview refs deleted on the server go away here too.
    for (const ref of (await listRefs(this.gitdir, PREVIEW_PREFIX)).keys()) {
      if (!server.has(ref)) await fs.promises.rm(path.join(this.gitdir, ref), { force: true });
    }
  }

  private async watchRefs(): Promise<void> {
    const gitdir = this.gitdir;
    const refs = path.join(gitdir, 'refs');
    const keep = (p: string) => p === gitdir || p === path.join(gitdir, 'packed-refs') || p === refs || p.startsWith(`${refs}${path.sep}`);
    this.watcher = watch(gitdir, {
      ignoreInitial: true,
      atomic: false,
      // Lock files are not ignored: git renames `REF.lock` over `REF`, and the lock's
      // disappearance is the one event a directory watcher never misses.
      ignored: (p: string) => !keep(p),
    });
    const onChange = () => this.kick();
    this.watcher.on('add', onChange).on('change', onChange).on('unlink', onChange);
    this.watcher.on('error', (error) => this.emit('event', { type: 'error', error: new GitError(`watching ${gitdir}: ${describeError(error)}`) } satisfies SourceEvent));
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }
}
