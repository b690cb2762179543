/** `cox plan [--repo DIR] [--rev REV] [--status-branch B] [-o text|json|markdown]`: exit 1 when the manifests are invalid. */
import path from 'node:path';
import type { CommandIO } from './main.ts';
import { outputFormat, parse } from './args.ts';
import { makePlan, renderPlan } from '../plan/index.ts';
import { DEFAULT_STATUS_BRANCH } from '../status/index.ts';
import { statusBranchIfAny } from './status-branch.ts';

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, {
    repo: { type: 'string' },
    rev: { type: 'string' },
    'status-branch': { type: 'string' },
    output: { type: 'string', short: 'o' },
  }, false);
  const format = outputFormat(values.output, ['text', 'json', 'markdown'] as const, 'text');
  const repoDir = path.resolve(io.cwd, values.repo ?? '.');
  // A plan before the first deploy has no status branch to compare with; on a plain clone it is origin's.
  const statusBranch = await statusBranchIfAny(repoDir, values['status-branch'] ?? DEFAULT_STATUS_BRANCH);
  const plan = await makePlan({ repoDir, rev: values.rev, statusBranch });
  io.stdout(renderPlan(plan, format));
  return plan.valid ? 0 : 1;
}
