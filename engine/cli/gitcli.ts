/**
 * The git CLI for the commands that act on a user's repository (rollback,
 * rollout, the demo): one place that runs git and turns failures into GitError.
 */
import { execFile } from 'node:child_process';
import { GitError } from '../../common/errors.ts';

export interface GitResult {
  stdout: string;
  stderr: string;
}

export function git(repo: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {}): Promise<GitResult & { code: number }> {
  return new Promise((resolve, reject) => {
    const child = execFile('git', ['-C', repo, ...args], { env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : 1) : 0;
      if (err && !options.allowFailure) {
        reject(new GitError(`git ${args[0]} in ${repo}: ${stderr.trim() || err.message}`, { args, code }));
        return;
      }
      resolve({ stdout, stderr, code });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
