/**
 * The action's entry point: `node dist/index.js`, run by GitHub's runner with
 * INPUT_* and GITHUB_* variables. Exit 0 on success, 1 on invalid manifests,
 * a refused or unready preview, or any error (printed as one ::error:: line).
 */
import { CoxError } from '../../common/errors.ts';
import { readContext } from './context.ts';
import { runPlan } from './plan.ts';
import { runCleanup, runPreview } from './preview.ts';
import { Runner, type Env } from './runner.ts';

export async function main(env: Env = process.env, runner = new Runner(env)): Promise<number> {
  try {
    const ctx = readContext(env, runner);
    if (ctx.mode === 'preview') return await runPreview(ctx);
    if (ctx.mode === 'cleanup') return await runCleanup(ctx);
    return await runPlan(ctx);
  } catch (err) {
    const message = err instanceof CoxError ? err.message : (err as Error).stack ?? String(err);
    runner.annotate({ severity: 'error', title: 'Coxswain', message });
    return 1;
  }
}
