/**
 * The loop's DesiredFeed over engine/source's DesiredSource: the last valid
 * commit of the branch, the newer commit it refused, and the preview refs
 * (refs/coxswain/previews/pr-<n>) merged in as namespaces pr-<n> under the
 * Cluster's preview policy.
 */
import fs from 'node:fs';
import git from 'isomorphic-git';
import { describeError } from '../../common/errors.ts';
import type { Logger } from '../log.ts';
import { ObjectStore, type ManifestObject } from '../manifests/index.ts';
import { DesiredSource, PREVIEW_PREFIX, type DesiredCommit, type SourceEvent } from '../source/index.ts';
import type { RemoteOptions } from '../status/remote.ts';
import { previewObjects, type PreviewPolicy, type PreviewSource } from './previews.ts';
import type { DesiredError, DesiredFeed, DesiredObject, DesiredStore, DesiredView } from './ports.ts';

export interface FeedOptions {
  repo: string;
  branch: string;
  workdir?: string;
  /** URL mode: fetch this often (default: the source's). */
  fetchIntervalMs?: number;
  log: Logger;
  env: NodeJS.ProcessEnv;
}

interface LoadedPreview extends PreviewSource {
  ref: string;
}

export async function openDesiredFeed(options: FeedOptions): Promise<DesiredFeed & { repoDir: string; remote?: RemoteOptions; webhook: DesiredSource['webhook'] }> {
  const source = new DesiredSource({ repo: options.repo, branch: options.branch, stateDir: options.workdir, fetchIntervalMs: options.fetchIntervalMs });
  await source.openMirror();
  const previews = new Map<string, LoadedPreview>();
  const noted = new Set<string>();
  let changed: () => void = () => {};
  let merged: { key: string; view: DesiredView } | undefined;
  const log = options.log;

  const loadPreview = async (ref: string, commit: string | undefined) => {
    const name = ref.slice(PREVIEW_PREFIX.length);
    if (!commit) {
      previews.delete(ref);
      log.info('preview.removed', { preview: name });
      changed();
      return;
    }
    try {
      const loaded: DesiredCommit = await source.load(commit);
      if (!loaded.valid) {
        const first = loaded.diagnostics.find((d) => d.severity === 'error');
        log.warn('preview.refused', { preview: name, commit, error: first ? `${first.file}:${first.line}:${first.column}: ${first.message}` : 'invalid' });
        return;
      }
      const { commit: info } = await git.readCommit({ fs, gitdir: source.gitdir, oid: commit, cache: source.loader.gitCache });
      previews.set(ref, { ref, name, commit, committedAt: new Date(info.committer.timestamp * 1000), objects: loaded.store.all() as DesiredObject[] });
      log.info('preview.loaded', { preview: name, commit, objects: loaded.store.size });
      changed();
    } catch (err) {
      log.error('preview.load-failed', { preview: name, commit, error: describeError(err) });
    }
  };

  source.on('event', (event: SourceEvent) => {
    if (event.type === 'preview') void loadPreview(event.ref, event.commit);
    else if (event.type === 'error') log.error('desired.source-error', { error: describeError(event.error) });
    else if (event.type === 'commit') log.info('desired.loaded', { commit: event.commit, valid: event.valid });
    else if (event.type === 'restored') (event.applied ? log.info : log.error)(event.applied ? 'desired.restored' : 'desired.restore-failed', { commit: event.commit, reason: event.reason });
  });

  const current = (): DesiredView => {
    const view = source.current();
    const key = [view.applied?.commit, view.refused?.commit, ...[...previews.values()].map((p) => `${p.name}@${p.commit}`)].join(' ');
    if (merged?.key === key) return merged.view;
    const refused = view.refused ? { commit: view.refused.commit, errors: view.refused.errors.map(toError) } : undefined;
    let applied: DesiredView['applied'];
    if (view.applied) {
      let store: DesiredStore = view.applied.store as unknown as DesiredStore;
      if (previews.size > 0) {
        const cluster = view.applied.store.cluster;
        const policy = (cluster.spec as { previews?: PreviewPolicy } | undefined)?.previews;
        const result = previewObjects([...previews.values()], policy, new Date());
        for (const note of result.notes) {
          const line = `${note.preview}: ${note.message}`;
          if (!noted.has(line)) log.warn('preview.restricted', { preview: note.preview, message: note.message });
          noted.add(line);
        }
        store = new ObjectStore([...view.applied.store.all(), ...(result.objects as ManifestObject[])], cluster) as unknown as DesiredStore;
      }
      applied = { commit: view.applied.commit, store };
    }
    merged = { key, view: { applied, refused } };
    return merged.view;
  };

  return {
    repoDir: source.gitdir,
    remote: source.remote,
    webhook: (secret) => source.webhook(secret),
    async start(onChange, restored) {
      changed = onChange;
      await source.start(onChange, restored);
      for (const [ref, commit] of source.previews()) await loadPreview(ref, commit);
    },
    current,
    stop: () => source.stop(),
  };
}

function toError(d: { file: string; line: number; column: number; message: string; field?: string }): DesiredError {
  return { file: d.file, line: d.line, column: d.column, message: d.field && !d.message.includes(d.field) ? `${d.field}: ${d.message}` : d.message };
}
