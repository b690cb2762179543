/**
 * Git through the git CLI of the runner, in the checkout: fetching the status
 * branch, pushing and deleting preview refs. A token, when given, reaches git
 * through a credential helper reading an environment variable — never in an
 * argument or a URL, so it cannot appear in a process list or an error.
 */
import { execFile } from 'node:child_process';
import { GitError } from '../../common/errors.ts';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

const TOKEN_VARIABLE = 'COXSWAIN_ACTION_GIT_TOKEN';
/** Answers git's credential request with the token (only when the remote asks: a checkout's own extraheader still wins). */
const CREDENTIAL_HELPER = `!f() { test "$1" = get && echo username=x-access-token && echo "password=$${TOKEN_VARIABLE}"; }; f`;

export class GitCli {
  constructor(
    readonly repoDir: string,
    private readonly token = '',
  ) {}

  run(args: string[], options: { timeoutMs?: number } = {}): Promise<GitResult> {
    const auth = this.token ? ['-c', 'credential.helper=', '-c', `credential.helper=${CREDENTIAL_HELPER}`] : [];
    return new Promise((resolve) => {
      execFile(
        'git',
        [...auth, ...args],
        {
          cwd: this.repoDir,
          timeout: options.timeoutMs ?? 120_000,
          maxBuffer: 16 << 20,
          env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...(this.token ? { [TOKEN_VARIABLE]: this.token } : {}) },
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === 1 && !stderr ? err.message : '') });
        },
      );
    });
  }

  async must(args: string[], what: string): Promise<string> {
    const r = await this.run(args);
    if (r.code !== 0) throw new GitError(`${what}: git ${args[0]} failed: ${firstLine(r.stderr)}`, { args: args.slice(0, 1) });
    return r.stdout.trim();
  }

  async revParse(rev: string): Promise<string | undefined> {
    const r = await this.run(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  async isShallow(): Promise<boolean> {
    return (await this.run(['rev-parse', '--is-shallow-repository'])).stdout.trim() === 'true';
  }
}

export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.replace(/^(fatal|error|remote): /, '').trim()).find((l) => l !== '') ?? 'no message';
}

export type StatusFetch =
  | { state: 'fetched'; ref: string; commit: string }
  | { state: 'missing'; message: string }
  | { state: 'unfetchable'; message: string };

/** The local ref the status branch is fetched into (never a branch of the user's). */
export const FETCHED_STATUS_REF = 'refs/coxswain/action/status';

/** Fetches origin's status branch into FETCHED_STATUS_REF; says why when it cannot. */
export async function fetchStatusBranch(git: GitCli, branch: string): Promise<StatusFetch> {
  await git.run(['update-ref', '-d', FETCHED_STATUS_REF]);
  const remoteRef = branch.startsWith('refs/') ? branch : `refs/heads/${branch}`;
  const depth = (await git.isShallow()) ? ['--depth=1'] : [];
  const r = await git.run(['fetch', '--no-tags', '--quiet', ...depth, 'origin', `+${remoteRef}:${FETCHED_STATUS_REF}`]);
  if (r.code === 0) {
    const commit = await git.revParse(FETCHED_STATUS_REF);
    if (commit) return { state: 'fetched', ref: FETCHED_STATUS_REF, commit };
  }
  const message = firstLine(r.stderr);
  if (/couldn't find remote ref|no such ref|not our ref/i.test(r.stderr)) return { state: 'missing', message: `origin has no branch ${branch} yet (a new cluster)` };
  return { state: 'unfetchable', message: `cannot fetch ${branch} from origin: ${message}` };
}
