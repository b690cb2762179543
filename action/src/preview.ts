/**
 * Preview and cleanup modes. A preview is a ref, refs/coxswain/previews/pr-<n>,
 * pushed at the pull request's head; the engine watching the repository
 * deploys it into namespace pr-<n> under the Cluster's preview policy and
 * reports it on the status branch, which this action polls until the preview
 * is Ready (or gone, after cleanup). No SSH key, no host: Git only. Same-
 * repository pull requests only — a fork's code never reaches the cluster.
 */
import fs from 'node:fs';
import git from 'isomorphic-git';
import { GitError } from '../../common/errors.ts';
import { DesiredLoader } from '../../engine/source/loader.ts';
import { readStatusSnapshot } from '../../engine/status/read.ts';
import { resolveGitDir } from '../../engine/status/git.ts';
import { PREVIEW_PREFIX } from '../../engine/source/index.ts';
import type { DesiredObject } from '../../engine/daemon/ports.ts';
import { emptyObserved } from '../../engine/model.ts';
import { fetchStatusBranch, FETCHED_STATUS_REF, firstLine, GitCli } from './git.ts';
import { updateComment, type ActionContext, type PullRequest } from './context.ts';
import { annotateDiagnostics } from './plan.ts';
import { namespaceGone, previewNamespace, previewProgress, renderPreview, type PreviewProgress } from './progress.ts';

/** Why a pull request may not have a preview, or undefined when it may. */
export function refusal(pr: PullRequest | undefined, eventName: string): string | undefined {
  if (!pr) return `previews need a pull_request event (this run is a ${eventName || 'unknown'} event)`;
  if (pr.headRepo && pr.baseRepo && pr.headRepo !== pr.baseRepo) {
    return `refusing a preview for pull request #${pr.number}: its head is in the fork ${pr.headRepo}, not ${pr.baseRepo}; previews run only same-repository pull requests, so a fork's code never reaches the cluster`;
  }
  return undefined;
}

function previewRef(pr: PullRequest): string {
  return `${PREVIEW_PREFIX}${previewNamespace(pr.number)}`;
}

/** The head commit, fetched from origin when the checkout does not have it (a merge-commit or shallow checkout). */
async function ensureCommit(cli: GitCli, sha: string): Promise<void> {
  if (await cli.revParse(sha)) return;
  const depth = (await cli.isShallow()) ? ['--depth=1'] : [];
  const r = await cli.run(['fetch', '--no-tags', '--quiet', ...depth, 'origin', sha]);
  if (r.code !== 0 || !(await cli.revParse(sha))) throw new GitError(`the pull request's head ${sha} is not in the checkout and cannot be fetched from origin: ${firstLine(r.stderr)}`, { sha });
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runPreview(ctx: ActionContext): Promise<number> {
  const { runner } = ctx;
  const refused = refusal(ctx.pullRequest, ctx.eventName);
  if (refused) {
    runner.annotate({ severity: 'error', title: 'Coxswain preview refused', message: refused });
    runner.summary(`## Coxswain preview\n\n**Refused:** ${refused}\n`);
    return 1;
  }
  const pr = ctx.pullRequest!;
  const namespace = previewNamespace(pr.number);
  const cli = new GitCli(ctx.repoDir, ctx.token);
  const gitdir = resolveGitDir(ctx.repoDir);
  await ensureCommit(cli, pr.headSha);

  const loader = new DesiredLoader(gitdir);
  const loaded = await loader.load(pr.headSha);
  if (!loaded.valid) {
    annotateDiagnostics(runner, ctx.repoDir, loaded.diagnostics);
    const message = `not pushing the preview: ${pr.headSha.slice(0, 12)} has invalid manifests (the engine would refuse it)`;
    runner.annotate({ severity: 'error', message });
    runner.summary(`## Coxswain preview \`${namespace}\`\n\n**${message}.**\n`);
    return 1;
  }

  runner.group(`Push ${previewRef(pr)}`);
  const pushed = await cli.run(['push', '--force', '--quiet', 'origin', `${pr.headSha}:${previewRef(pr)}`]);
  if (pushed.code !== 0) throw new GitError(`cannot push ${previewRef(pr)} to origin: ${runner.scrub(firstLine(pushed.stderr))}`, { ref: previewRef(pr) });
  runner.log(`Pushed ${previewRef(pr)} -> ${pr.headSha}.`);
  runner.endGroup();
  runner.setOutput('preview-namespace', namespace);
  if (!ctx.wait) {
    runner.setOutput('preview-ready', 'false');
    runner.log('Not waiting for the preview (wait: false).');
    return 0;
  }

  const { commit: info } = await git.readCommit({ fs, gitdir, oid: pr.headSha, cache: loader.gitCache });
  const preview = { name: namespace, commit: pr.headSha, committedAt: new Date(info.committer.timestamp * 1000), objects: loaded.store.all() as DesiredObject[] };
  const mainCommit = (await cli.revParse('HEAD'))!;
  const mainLoads = new Map<string, Awaited<ReturnType<DesiredLoader['load']>>>();
  const mainAt = async (commit: string | undefined) => {
    // The engine applies the main commit the status names; a shallow checkout may not have it, then HEAD stands in.
    const oid = commit && (await cli.revParse(commit)) ? commit : mainCommit;
    if (!mainLoads.has(oid)) mainLoads.set(oid, await loader.load(oid));
    return mainLoads.get(oid)!;
  };

  const started = Date.now();
  let progress: PreviewProgress | undefined;
  let said = '';
  let lastSaid = 0;
  runner.log(`Waiting up to ${Math.round(ctx.timeoutMs / 1000)} s for ${namespace} to be Ready on ${ctx.statusBranch}...`);
  for (;;) {
    const status = await fetchStatusBranch(cli, ctx.statusBranch);
    const snapshot = status.state === 'fetched' ? await readStatusSnapshot(ctx.repoDir, FETCHED_STATUS_REF) : { observed: emptyObserved(), commit: undefined };
    const main = await mainAt(snapshot.observed.appliedCommit);
    progress = previewProgress({ main: main.store, preview, commit: main.commit, observed: snapshot.observed, now: new Date() });
    if (progress.refused || progress.ready) break;
    const elapsed = Math.round((Date.now() - started) / 1000);
    const line = status.state === 'fetched'
      ? `${progress.pods.filter((p) => p.ready).length}/${progress.pods.length} pod(s) Ready; waiting for ${progress.waiting.slice(0, 3).join('; ')}${progress.waiting.length > 3 ? `; and ${progress.waiting.length - 3} more` : ''}`
      : `no status yet: ${status.message}`;
    if (line !== said || Date.now() - lastSaid > 30_000) {
      runner.log(`[${elapsed} s] ${line}`);
      said = line;
      lastSaid = Date.now();
    }
    if (Date.now() - started + ctx.pollMs > ctx.timeoutMs) break;
    await sleep(ctx.pollMs);
  }

  const state = progress.refused ? 'refused' : progress.ready ? 'ready' : 'waiting';
  const markdown = renderPreview(progress, pr.headSha, state);
  runner.summary(`## Coxswain preview for #${pr.number}\n\n${markdown}`);
  runner.setOutput('preview-ready', String(state === 'ready'));
  await updateComment(ctx, 'preview', markdown);
  if (state === 'ready') {
    runner.log(`${namespace} is Ready after ${Math.round((Date.now() - started) / 1000)} s: ${progress.pods.length} pod(s), ${progress.services.length} service(s).`);
    return 0;
  }
  runner.annotate({ severity: 'error', title: 'Coxswain preview', message: state === 'refused' ? `${namespace} was not deployed: ${progress.refused}` : `${namespace} not Ready within ${Math.round(ctx.timeoutMs / 1000)} s; still waiting for ${progress.waiting.slice(0, 5).join('; ')}` });
  return 1;
}

export async function runCleanup(ctx: ActionContext): Promise<number> {
  const { runner } = ctx;
  const refused = refusal(ctx.pullRequest, ctx.eventName);
  if (refused) {
    runner.annotate({ severity: 'error', title: 'Coxswain preview cleanup refused', message: refused });
    return 1;
  }
  const pr = ctx.pullRequest!;
  const namespace = previewNamespace(pr.number);
  const cli = new GitCli(ctx.repoDir, ctx.token);
  const listed = await cli.run(['ls-remote', 'origin', previewRef(pr)]);
  if (listed.code !== 0) throw new GitError(`cannot list ${previewRef(pr)} on origin: ${runner.scrub(firstLine(listed.stderr))}`, { ref: previewRef(pr) });
  if (listed.stdout.trim() === '') {
    runner.log(`${previewRef(pr)} does not exist on origin: nothing to delete.`);
  } else {
    const deleted = await cli.run(['push', '--quiet', 'origin', `:${previewRef(pr)}`]);
    if (deleted.code !== 0) throw new GitError(`cannot delete ${previewRef(pr)} on origin: ${runner.scrub(firstLine(deleted.stderr))}`, { ref: previewRef(pr) });
    runner.log(`Deleted ${previewRef(pr)}; the engine removes namespace ${namespace}.`);
  }
  let gone = false;
  if (ctx.wait) {
    const started = Date.now();
    for (;;) {
      const status = await fetchStatusBranch(cli, ctx.statusBranch);
      const observed = status.state === 'fetched' ? (await readStatusSnapshot(ctx.repoDir, FETCHED_STATUS_REF)).observed : emptyObserved();
      gone = namespaceGone(observed, namespace);
      if (gone || Date.now() - started + ctx.pollMs > ctx.timeoutMs) break;
      const left = [...observed.pods.values()].filter((p) => p.metadata.namespace === namespace).length;
      runner.log(`[${Math.round((Date.now() - started) / 1000)} s] ${left} pod(s) of ${namespace} still on ${ctx.statusBranch}`);
      await sleep(ctx.pollMs);
    }
    if (!gone) {
      runner.annotate({ severity: 'warning', title: 'Coxswain preview cleanup', message: `${namespace} still on ${ctx.statusBranch} after ${Math.round(ctx.timeoutMs / 1000)} s (the ref is deleted; the engine removes it when it next runs)` });
    }
  }
  const markdown = `### Preview \`${namespace}\` removed\n\nThe ref \`${previewRef(pr)}\` is deleted${gone ? ` and nothing of \`${namespace}\` remains on \`${ctx.statusBranch}\`` : '; the engine removes the namespace'}.\n`;
  runner.summary(`## Coxswain preview for #${pr.number}\n\n${markdown}`);
  await updateComment(ctx, 'preview', markdown);
  return 0;
}

