/**
 * The few GitHub REST calls the action makes: one sticky pull-request comment,
 * found again by a hidden marker, created once and updated afterwards.
 *   GET   /repos/{owner}/{repo}/issues/{number}/comments?per_page=100&page=N
 *   POST  /repos/{owner}/{repo}/issues/{number}/comments
 *   PATCH /repos/{owner}/{repo}/issues/comments/{id}
 * The token travels only in the Authorization header.
 */
import { CoxError } from '../../common/errors.ts';

export const PLAN_MARKER = '<!-- coxswain-plan -->';

export class GitHubApiError extends CoxError {
  constructor(readonly status: number, method: string, url: string, body: string) {
    super('GitHubApi', `GitHub API ${method} ${url}: ${status}${body ? ` ${body.slice(0, 200)}` : ''}`, { status, method, url });
  }
}

export interface Repository {
  owner: string;
  repo: string;
}

export class GitHubClient {
  constructor(
    private readonly apiUrl: string,
    private readonly token: string,
  ) {}

  private async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    const url = `${this.apiUrl.replace(/\/+$/, '')}${route}`;
    const response = await fetch(url, {
      method,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${this.token}`,
        'x-github-api-version': '2022-11-28',
        'user-agent': 'coxswain-action',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new GitHubApiError(response.status, method, route, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** The first comment of the pull request whose body holds `marker`, if any. */
  async findComment(repo: Repository, number: number, marker: string): Promise<{ id: number; body: string } | undefined> {
    for (let page = 1; page <= 50; page++) {
      const comments = await this.request<Array<{ id: number; body?: string }>>('GET', `/repos/${repo.owner}/${repo.repo}/issues/${number}/comments?per_page=100&page=${page}`);
      const found = comments.find((c) => c.body?.includes(marker));
      if (found) return { id: found.id, body: found.body ?? '' };
      if (comments.length < 100) return undefined;
    }
    return undefined;
  }

  /** Creates the sticky comment or rewrites it from its current body (unchanged bodies are left alone). */
  async upsertComment(repo: Repository, number: number, marker: string, compose: (current: string | undefined) => string): Promise<{ id: number; action: 'created' | 'updated' | 'unchanged' }> {
    const existing = await this.findComment(repo, number, marker);
    const body = compose(existing?.body);
    if (existing) {
      if (existing.body === body) return { id: existing.id, action: 'unchanged' };
      await this.request('PATCH', `/repos/${repo.owner}/${repo.repo}/issues/comments/${existing.id}`, { body });
      return { id: existing.id, action: 'updated' };
    }
    const created = await this.request<{ id: number }>('POST', `/repos/${repo.owner}/${repo.repo}/issues/${number}/comments`, { body });
    return { id: created.id, action: 'created' };
  }
}
