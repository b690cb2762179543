/**
 * What one run of the action works on, read once from the runner's
 * environment: inputs, the event payload, the repository and the sticky
 * comment's place. Entry points pass it down; nothing below reads process.env.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../common/errors.ts';
import { DEFAULT_STATUS_BRANCH } from '../../engine/status/writer.ts';
import { GitHubClient, PLAN_MARKER, type Repository } from './github.ts';
import { booleanInput, input, Runner, type Env } from './runner.ts';
import { withSection, type Section } from './comment.ts';

export type Mode = 'plan' | 'preview' | 'cleanup';

export interface PullRequest {
  number: number;
  action?: string;
  headSha: string;
  headRepo?: string;
  baseRepo?: string;
}

export interface ActionContext {
  runner: Runner;
  mode: Mode;
  repoDir: string;
  statusBranch: string;
  token: string;
  comment: boolean;
  /** Preview/cleanup: how long to wait for the status branch to show the preview Ready (or gone). */
  timeoutMs: number;
  pollMs: number;
  wait: boolean;
  eventName: string;
  repository?: Repository;
  pullRequest?: PullRequest;
  github?: GitHubClient;
}

export function readContext(env: Env, runner: Runner): ActionContext {
  const mode = input(env, 'mode', 'plan');
  if (mode !== 'plan' && mode !== 'preview' && mode !== 'cleanup') throw new UsageError(`input mode: "${mode}" is not one of plan, preview, cleanup`);
  const token = input(env, 'github-token');
  runner.mask(token);
  const timeout = Number(input(env, 'timeout', '600'));
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`input timeout: "${input(env, 'timeout')}" is not a positive number of seconds`);
  const poll = Number(input(env, 'poll-interval', '5'));
  if (!Number.isFinite(poll) || poll <= 0) throw new UsageError(`input poll-interval: "${input(env, 'poll-interval')}" is not a positive number of seconds`);
  const workspace = env.GITHUB_WORKSPACE ?? process.cwd();
  const eventName = env.GITHUB_EVENT_NAME ?? '';
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  return {
    runner,
    mode,
    repoDir: path.resolve(workspace, input(env, 'path', '.')),
    statusBranch: input(env, 'status-branch', DEFAULT_STATUS_BRANCH),
    token,
    comment: booleanInput(env, 'comment', true),
    timeoutMs: timeout * 1000,
    pollMs: poll * 1000,
    wait: booleanInput(env, 'wait', true),
    eventName,
    ...(owner && repo ? { repository: { owner, repo } } : {}),
    ...pullRequestOf(eventName, env.GITHUB_EVENT_PATH),
    ...(token ? { github: new GitHubClient(env.GITHUB_API_URL ?? 'https://api.github.com', token) } : {}),
  };
}

function pullRequestOf(eventName: string, eventPath: string | undefined): { pullRequest?: PullRequest } {
  if (!eventPath || !/^pull_request(_target)?$/.test(eventName)) return {};
  let payload: { number?: number; action?: string; pull_request?: { number?: number; head?: { sha?: string; repo?: { full_name?: string } }; base?: { repo?: { full_name?: string } } } };
  try {
    payload = JSON.parse(readFileSync(eventPath, 'utf8'));
  } catch (err) {
    throw new UsageError(`GITHUB_EVENT_PATH ${eventPath}: cannot read the event payload: ${(err as Error).message}`);
  }
  const pr = payload.pull_request;
  const number = payload.number ?? pr?.number;
  if (!pr || typeof number !== 'number' || !pr.head?.sha) throw new UsageError(`GITHUB_EVENT_PATH ${eventPath}: a ${eventName} event without pull_request.number and pull_request.head.sha`);
  return {
    pullRequest: {
      number,
      headSha: pr.head.sha,
      ...(payload.action ? { action: payload.action } : {}),
      ...(pr.head.repo?.full_name ? { headRepo: pr.head.repo.full_name } : {}),
      ...(pr.base?.repo?.full_name ? { baseRepo: pr.base.repo.full_name } : {}),
    },
  };
}

/**
 * Writes this mode's section of the sticky comment. A comment that cannot be
 * written (no token, a read-only token on a fork's pull request) is a warning:
 * the job summary still has everything.
 */
export async function updateComment(ctx: ActionContext, section: Section, content: string | undefined): Promise<void> {
  if (!ctx.comment || !ctx.pullRequest) return;
  if (!ctx.github || !ctx.repository) {
    ctx.runner.log(`No pull-request comment: ${!ctx.github ? 'no github-token input' : 'GITHUB_REPOSITORY is not set'} (the job summary has the ${section}).`);
    return;
  }
  try {
    const r = await ctx.github.upsertComment(ctx.repository, ctx.pullRequest.number, PLAN_MARKER, (current) => withSection(current, section, content));
    ctx.runner.log(`Pull-request comment ${r.id} ${r.action}.`);
  } catch (err) {
    ctx.runner.annotate({ severity: 'warning', message: `cannot write the pull-request comment (the job summary has the ${section}): ${(err as Error).message}` });
  }
}
