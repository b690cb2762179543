/**
 * Plan mode: validate the checked-out commit with the manifest loader, plan it
 * against the status branch fetched from origin (or an empty cluster, said so),
 * and report it three ways — annotations on the files, the job summary, the
 * sticky pull-request comment. Needs no credentials: Git alone.
 */
import { makePlan, renderPlan, type Plan } from '../../engine/plan/index.ts';
import { DesiredLoader } from '../../engine/source/loader.ts';
import { resolveGitDir } from '../../engine/status/git.ts';
import type { Diagnostic } from '../../engine/manifests/index.ts';
import { GitError } from '../../common/errors.ts';
import { fetchStatusBranch, FETCHED_STATUS_REF, GitCli, type StatusFetch } from './git.ts';
import { updateComment, type ActionContext } from './context.ts';
import type { Runner } from './runner.ts';

export function hasChanges(plan: Plan): boolean {
  return plan.create.length + plan.bind.length + plan.delete.length + plan.unschedulable.length + plan.rollouts.length + plan.endpoints.length + plan.configErrors.length > 0 || plan.services.some((s) => s.change !== 'unchanged');
}

/** One annotation per diagnostic, on the file as the workspace names it. */
export function annotateDiagnostics(runner: Runner, repoDir: string, diagnostics: Diagnostic[]): void {
  for (const d of diagnostics) {
    runner.annotate({
      severity: d.severity === 'error' ? 'error' : 'warning',
      file: runner.workspacePath(repoDir, d.file),
      line: d.line,
      column: d.column,
      title: `Coxswain: invalid ${d.field ?? 'manifest'}`,
      message: d.field && !d.message.includes(d.field) ? `${d.field}: ${d.message}` : d.message,
    });
  }
}

export function statusNote(status: StatusFetch, branch: string): string {
  if (status.state === 'fetched') return `Planned against \`${branch}\` at \`${status.commit.slice(0, 12)}\`.`;
  return `> **Planned against an empty cluster:** ${status.message}; every object is planned as new.`;
}

export async function runPlan(ctx: ActionContext): Promise<number> {
  const { runner } = ctx;
  const git = new GitCli(ctx.repoDir, ctx.token);
  const head = await git.revParse('HEAD');
  if (!head) throw new GitError(`${ctx.repoDir}: no commit checked out (HEAD does not resolve)`, { repoDir: ctx.repoDir });

  runner.group(`Validate ${head.slice(0, 12)}`);
  const loaded = await new DesiredLoader(resolveGitDir(ctx.repoDir)).load(head);
  annotateDiagnostics(runner, ctx.repoDir, loaded.diagnostics);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
  runner.log(loaded.valid ? `Valid: ${loaded.store.size} object(s), ${loaded.diagnostics.length} warning(s).` : `Invalid: ${errors} error(s).`);
  runner.endGroup();

  runner.group(`Fetch ${ctx.statusBranch}`);
  const status = await fetchStatusBranch(git, ctx.statusBranch);
  runner.log(status.state === 'fetched' ? `Fetched ${ctx.statusBranch} at ${status.commit.slice(0, 12)}.` : `Planning against an empty cluster: ${status.message}.`);
  runner.endGroup();

  // The fetched ref was removed when the fetch failed, so a missing status reads as an empty cluster.
  const plan = await makePlan({ repoDir: ctx.repoDir, rev: head, statusBranch: FETCHED_STATUS_REF });
  runner.group('Plan');
  for (const line of renderPlan(plan, 'text').trimEnd().split('\n')) runner.log(line);
  runner.endGroup();

  const pr = ctx.pullRequest;
  const title = pr ? `## Coxswain plan for #${pr.number}` : '## Coxswain plan';
  const markdown = `${title}\n\n${statusNote(status, ctx.statusBranch)}\n\n${renderPlan(plan, 'markdown').replace(/^### /, '#### ')}`;
  runner.summary(markdown);
  runner.setOutput('valid', String(plan.valid));
  runner.setOutput('has-changes', String(plan.valid && hasChanges(plan)));
  await updateComment(ctx, 'plan', markdown);
  if (!plan.valid) {
    runner.annotate({ severity: 'error', message: `${errors} invalid manifest error(s) in ${head.slice(0, 12)}: nothing can be applied until they are fixed` });
    return 1;
  }
  return 0;
}
