/** `cox plan [--repo DIR] [--rev REV] [--status-branch B] [-o text|json|markdown]`: exit 1 when the manifests are invalid. */
import path from 'node:path';
import type { CommandIO } from './main.ts';
import { outputFormat, parse } from './args.ts';
import { makePlan, renderPlan } from '../plan/index.ts';

export async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, {
    repo: { type: 'string' },
    rev: { type: 'string' },
    'status-branch': { type: 'string' },
    output: { type: 'string', short: 'o' },
  }, false);
  const format = outputFormat(values.output, ['text', 'json', 'markdown'] as const, 'text');
  const plan = await makePlan({ repoDir: path.resolve(io.cwd, values.repo ?? '.'), rev: values.rev, statusBranch: values['status-branch'] });
  io.stdout(renderPlan(plan, format));
  return plan.valid ? 0 : 1;
}
