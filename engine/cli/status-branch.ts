/**
 * The status branch a reading command uses: the local branch or, on a plain
 * `git clone`, a remote's copy of it (see findStatusBranch). Without one the
 * command fails (exit 1) naming the refs it looked at, rather than printing an
 * empty cluster.
 */
import { ConfigError } from '../../common/errors.ts';
import { findStatusBranch } from '../status/index.ts';

export async function statusBranchRef(repo: string, branch: string): Promise<string> {
  const found = await findStatusBranch(repo, branch);
  if (found.ref !== undefined) return found.ref;
  if (found.ambiguous) {
    throw new ConfigError(`no ${branch} branch in ${repo}, and several remotes have one (${found.ambiguous.join(', ')}): pick one with --status-branch REF`, { branch, refs: found.ambiguous });
  }
  const remote = found.looked.length > 1 ? '; in a clone, `git fetch` brings it once the engine has pushed it' : '';
  throw new ConfigError(`no status branch in ${repo}: looked for ${found.looked.join(', ')} (the engine writes ${branch}${remote})`, { branch, looked: found.looked });
}

/** Like statusBranchRef, for commands that also work without one (a plan before the first deploy, describe of what Git holds): the branch as given. */
export async function statusBranchIfAny(repo: string, branch: string): Promise<string> {
  return (await findStatusBranch(repo, branch)).ref ?? branch;
}
